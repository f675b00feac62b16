/* The explorer page of `kgrec serve`: a user's explained top-k, the reasoning subgraph of one recommended item
   drawn in SVG from its paths, and counterfactuals (the item's rank and score with a path, a relation or a
   history item left out of the model's propagation). Everything comes from the service's JSON endpoints;
   with a token (the page opened as /?token=TOKEN) every request sends it as `Authorization: Bearer`. */
"use strict";

(() => {
  const token = new URLSearchParams(window.location.search).get("token");
  const SVG_NS = "http://www.w3.org/2000/svg";
  const INVERSE = "\u207b\u00b9"; // the suffix of an inverse relation's name: has_genre⁻¹
  const REASONS = {
    rule: "a mined rule", "co-like": "shared taste", path: "the strongest path",
    none: "model similarity, no path", popular: "popularity, no history",
  };
  const KINDS = ["user", "item", "entity"];
  const state = { user: null, current: null, hidden: new Set() };
  const $ = (selector) => document.querySelector(selector);

  // ---- DOM helpers ------------------------------------------------------------------------------------
  function fill(node, attributes, children) {
    for (const [name, value] of Object.entries(attributes)) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
    }
    for (const child of children) node.append(child);
    return node;
  }
  const el = (tag, attributes = {}, ...children) => fill(document.createElement(tag), attributes, children);
  const svg = (tag, attributes = {}, ...children) => fill(document.createElementNS(SVG_NS, tag), attributes, children);

  /** A sentence with *emphasis* as <em> and `a rule's name` in quotes. */
  function sentence(text) {
    const parts = String(text || "").replace(/`([^`]*)`/g, "\u201c$1\u201d").split("*");
    return parts.map((part, i) => (i % 2 ? el("em", {}, part) : document.createTextNode(part)));
  }

  const score = (value) => Number(value).toPrecision(4);
  const shorten = (text, most) => (text.length > most ? text.slice(0, most - 1) + "\u2026" : text);

  // ---- the service ------------------------------------------------------------------------------------
  /** GET a JSON endpoint (path relative to the page); list values repeat the parameter. */
  async function api(path, params = {}) {
    const url = new URL(path, document.baseURI);
    for (const [name, value] of Object.entries(params)) {
      for (const one of [].concat(value)) url.searchParams.append(name, String(one));
    }
    const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    let body;
    try {
      body = await response.json();
    } catch (error) {
      body = { detail: `${response.status} ${response.statusText}` };
    }
    return { ok: response.ok, status: response.status, body };
  }

  function say(...children) {
    $("#message").replaceChildren(...children);
  }

  /** An error answer in words; an unknown user's closest matches as buttons. */
  function refusal(query, status, body) {
    if (status === 401) return say("This service needs its token: open the page as /?token=TOKEN.");
    if (status !== 404 || !body.kind) return say(body.detail || `error ${status}`);
    const matches = body.matches || [];
    const buttons = matches.map((match) => {
      const button = el("button", { type: "button", class: "match" }, match);
      button.addEventListener("click", () => {
        $("#user").value = match;
        findUser(match);
      });
      return button;
    });
    const listed = buttons.flatMap((button, i) => (i ? [", ", button] : [button]));
    say(`No ${body.kind} \u201c${query}\u201d in this dataset.`, ...(buttons.length ? [" Did you mean ", ...listed, "?"] : []));
  }

  async function about() {
    const { ok, body } = await api("health");
    if (!ok) return;
    $("#about").textContent = `${body.dataset} \u00b7 ${body.model} model \u00b7 ${body.users} users \u00b7 ${body.items} items`;
    $("#k").max = String(Math.min(body.items, 1000));
  }

  // ---- the list ---------------------------------------------------------------------------------------
  async function findUser(query) {
    say("Loading\u2026");
    const { ok, status, body } = await api(`users/${encodeURIComponent(query)}/recommendations`,
      { k: $("#k").value || 10, explain: "true" });
    if (!ok) return refusal(query, status, body);
    say();
    state.user = body.user;
    state.current = null;
    $("#detail").hidden = true;
    showList(body.recommendations);
  }

  function showList(recommendations) {
    $("#list-title").textContent = `Top ${recommendations.length} for ${state.user.name}`;
    const items = recommendations.map((rec) => {
      const open = el("button", { type: "button", class: "open" }, rec.item_name);
      const reason = rec.rule_info ? `rule \u201c${rec.rule_info.name}\u201d` : REASONS[rec.reason] || rec.reason;
      const item = el("li", { "data-rank": rec.rank, "data-item": rec.item_raw },
        el("div", { class: "head" }, el("span", { class: "rank" }, `${rec.rank}.`), open,
          el("span", { class: "score", title: "score" }, score(rec.score))),
        el("div", { class: "reason" }, `because of ${reason}`),
        el("p", { class: "sentence" }, ...sentence(rec.sentence)));
      open.addEventListener("click", () => showItem(rec, item));
      return item;
    });
    $("#recommendations").replaceChildren(...items);
    $("#list-pane").hidden = false;
  }

  // ---- one item -------------------------------------------------------------------------------------
  /** The group of a relation: its forward name (a relation and its inverse are one, as for `remove=relation:`). */
  const groupOf = (relation) => (relation.name.endsWith(INVERSE) ? relation.name.slice(0, -INVERSE.length) : relation.name);

  /** The relation groups of the paths, each with the phrases it is read with. */
  function relationGroups(paths) {
    const groups = new Map();
    for (const path of paths) {
      for (const relation of path.relation_info) {
        const key = groupOf(relation);
        const group = groups.get(key) || { key, phrases: [] };
        if (!group.phrases.includes(relation.phrase)) group.phrases.push(relation.phrase);
        groups.set(key, group);
      }
    }
    return groups;
  }

  /** The detail of one recommendation: sentence, relation switches, subgraph and removal table. */
  function showItem(rec, item) {
    state.current = rec;
    for (const other of document.querySelectorAll("#recommendations li")) other.classList.toggle("selected", other === item);
    $("#detail-title").textContent = `${rec.rank}. ${rec.item_name}`;
    $("#detail-sentence").replaceChildren(...sentence(rec.sentence));
    $("#detail-original").textContent = `Recommended at rank ${rec.rank}, score ${score(rec.score)}` +
      (rec.told.length ? ` \u00b7 ${rec.told.length} told path${rec.told.length > 1 ? "s" : ""} of ${rec.paths.length}` : "");
    const groups = relationGroups(rec.paths);
    showRelationBoxes(groups);
    $("#graph-box").replaceChildren(rec.paths.length ? drawGraph(rec) :
      el("p", { class: "hint" }, "No path links the user to this item in the knowledge graph: nothing to draw."));
    applyHidden();
    showRemovals(rec, groups);
    $("#detail").hidden = false;
  }

  function showRelationBoxes(groups) {
    const boxes = [...groups.values()].map((group) => {
      const box = el("input", { type: "checkbox", "data-relation": group.key, checked: !state.hidden.has(group.key) });
      box.addEventListener("change", () => {
        if (box.checked) state.hidden.delete(group.key);
        else state.hidden.add(group.key);
        applyHidden();
      });
      return el("label", {}, box, ` ${group.phrases.join(" / ")}`);
    });
    $("#relation-boxes").replaceChildren(...boxes);
  }

  function applyHidden() {
    for (const edge of document.querySelectorAll("#graph .edge")) {
      edge.classList.toggle("off", state.hidden.has(edge.getAttribute("data-relation")));
    }
  }

  // ---- the subgraph -----------------------------------------------------------------------------------
  /** Nodes in columns (the user first, the item last, others at their first position on a path) and the
      distinct edges (from, to, relation) with the summed weight of their paths and whether a told path
      runs through them. */
  function subgraph(rec) {
    const told = new Set(rec.told);
    const length = Math.max(...rec.paths.map((path) => path.nodes.length - 1));
    const nodes = new Map();
    const edges = new Map();
    rec.paths.forEach((path, k) => {
      const last = path.nodes.length - 1;
      path.node_info.forEach((info, i) => {
        const column = i === last ? length : i;
        const node = nodes.get(info.id) || { info, column, weight: 0, told: false, role: null };
        node.column = Math.min(node.column, column);
        node.weight += path.weight;
        node.told = node.told || told.has(k);
        if (i === 0) node.role = "source";
        if (i === last) node.role = "target";
        nodes.set(info.id, node);
      });
      path.relation_info.forEach((relation, i) => {
        const key = `${path.nodes[i]}>${path.nodes[i + 1]}>${relation.id}`;
        const edge = edges.get(key) || { from: path.nodes[i], to: path.nodes[i + 1], relation, weight: 0, told: false };
        edge.weight += path.weight;
        edge.told = edge.told || told.has(k);
        edges.set(key, edge);
      });
    });
    return { length, nodes, edges: [...edges.values()] };
  }

  /** Positions: columns `margin` apart from the sides, rows `gap` apart and `top` from the top; within a column
      by the mean row of the nodes linking into them, then by weight. The drawing's height. */
  function place(graph, width, margin, top, gap) {
    const columns = Array.from({ length: graph.length + 1 }, () => []);
    for (const node of graph.nodes.values()) columns[node.column].push(node);
    const rows = Math.max(...columns.map((column) => column.length));
    const height = 2 * top + Math.max(rows - 1, 1) * gap;
    const step = (width - 2 * margin) / Math.max(graph.length, 1);
    columns.forEach((column, c) => {
      const mean = (node) => {
        const ys = graph.edges.filter((e) => e.to === node.info.id && graph.nodes.get(e.from).y !== undefined)
          .map((e) => graph.nodes.get(e.from).y);
        return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : 0;
      };
      column.sort((a, b) => mean(a) - mean(b) || b.weight - a.weight);
      column.forEach((node, r) => {
        node.x = margin + c * step;
        node.y = height / 2 + (r - (column.length - 1) / 2) * gap;
      });
    });
    return height;
  }

  function edgeShape(a, b, radius, bend) {
    const dx = b.x - a.x;
    if (dx > 0) {
      const [y1, y2] = [a.y + bend, b.y + bend];
      const end = b.x - radius - 2;
      const [c1, c2] = [a.x + dx / 2, b.x - dx / 2];
      return { d: `M${a.x},${a.y} C${c1},${y1} ${c2},${y2} ${end},${b.y}`, // mid: the curve at t = 1/2
        mid: [(a.x + 3 * c1 + 3 * c2 + end) / 8, (a.y + 3 * y1 + 3 * y2 + b.y) / 8] };
    }
    const control = [(a.x + b.x) / 2 + 70 + bend, (a.y + b.y) / 2];
    const length = Math.hypot(b.x - control[0], b.y - control[1]) || 1;
    const end = [b.x + ((control[0] - b.x) * (radius + 2)) / length, b.y + ((control[1] - b.y) * (radius + 2)) / length];
    return { d: `M${a.x},${a.y} Q${control[0]},${control[1]} ${end[0]},${end[1]}`,
      mid: [(a.x + 2 * control[0] + end[0]) / 4, (a.y + 2 * control[1] + end[1]) / 4] };
  }

  function drawGraph(rec) {
    const graph = subgraph(rec);
    const width = 760;
    const height = place(graph, width, 80, 30, 62);
    const heaviest = Math.max(...graph.edges.map((e) => e.weight)) || 1;
    const radius = (node) => (node.role ? 11 : 8);
    const marker = (id, cls) => svg("marker", { id, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 9,
      markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto", class: cls }, svg("path", { d: "M0,0 L10,5 L0,10 z" }));
    const drawing = svg("svg", { id: "graph", viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `Paths from ${state.user.name} to ${rec.item_name}` },
    svg("defs", {}, marker("arrow", "arrow"), marker("arrow-told", "arrow told")));
    const pairs = new Map();
    const edgeLayer = svg("g", { class: "edges" });
    const labelLayer = svg("g", { class: "edge-labels" });
    for (const edge of graph.edges.sort((a, b) => a.told - b.told || a.weight - b.weight)) {
      const pair = [edge.from, edge.to].sort().join("-");
      const seen = pairs.get(pair) || 0;
      pairs.set(pair, seen + 1);
      const shape = edgeShape(graph.nodes.get(edge.from), graph.nodes.get(edge.to), radius(graph.nodes.get(edge.to)),
        seen * 16);
      const group = groupOf(edge.relation);
      const tip = `${edge.relation.phrase} \u00b7 path weight ${edge.weight.toExponential(2)}`;
      edgeLayer.append(svg("path", { class: edge.told ? "edge told" : "edge", d: shape.d, "data-from": edge.from,
        "data-to": edge.to, "data-relation": group, "data-weight": edge.weight,
        "stroke-width": (1.2 + (7 * edge.weight) / heaviest).toFixed(2),
        "marker-end": `url(#${edge.told ? "arrow-told" : "arrow"})` }, svg("title", {}, tip)));
      labelLayer.append(svg("text", { class: edge.told ? "edge-label told" : "edge-label", x: shape.mid[0].toFixed(1),
        y: (shape.mid[1] - 5).toFixed(1), "data-relation": group }, edge.relation.phrase));
    }
    const nodeLayer = svg("g", { class: "nodes" });
    for (const node of graph.nodes.values()) {
      const kind = KINDS.includes(node.info.kind) ? node.info.kind : "entity";
      const classes = ["node", kind, node.told ? "told" : "", node.role || ""].filter(Boolean).join(" ");
      const role = node.role === "target" ? "the recommended item" : node.role === "source" ? "the user" : kind;
      nodeLayer.append(svg("g", { class: classes, "data-id": node.info.id, "data-kind": kind },
        svg("title", {}, `${node.info.name} (${role})`),
        svg("circle", { cx: node.x, cy: node.y, r: radius(node) }),
        svg("text", { x: node.x, y: node.y + radius(node) + 14 }, shorten(node.info.name, 26))));
    }
    drawing.append(edgeLayer, nodeLayer, labelLayer);
    return drawing;
  }

  // ---- counterfactuals --------------------------------------------------------------------------------
  /** A path in words: user —liked→ item —belongs to the genre→ genre ... */
  function pathText(path) {
    const words = [path.node_info[0].name];
    path.relation_info.forEach((relation, i) => words.push(`\u2014${relation.phrase}\u2192`, path.node_info[i + 1].name));
    return words.join(" ");
  }

  /** The rows of the removal table: [entry, words, attributes] for a `remove=` entry, [heading, null, null]
      for a heading. History items: those the paths start from (user, liked item, ...). */
  function removalRows(rec, groups) {
    const told = new Set(rec.told);
    const rows = [["Paths", null, null]];
    rec.paths.forEach((path, k) => rows.push([`path:${k}`,
      [told.has(k) ? el("span", { class: "badge" }, "told") : "", pathText(path),
        el("span", { class: "weight" }, ` weight ${path.weight.toExponential(2)}`)], { "data-path": k }]));
    if (rec.told.length > 1) rows.push(["told", [el("span", { class: "badge" }, "told"), `all ${rec.told.length} told paths`], {}]);
    if (groups.size) rows.push(["Relations", null, null]);
    for (const group of groups.values()) {
      rows.push([`relation:${group.key}`, [`every \u201c${group.phrases.join(" / ")}\u201d edge`], { "data-relation": group.key }]);
    }
    const history = new Map();
    for (const path of rec.paths) {
      const liked = path.node_info[1];
      if (liked && liked.kind === "item" && path.nodes.length > 2) history.set(liked.raw, [path.relation_info[0].phrase, liked.name]);
    }
    if (history.size) rows.push(["History items", null, null]);
    for (const [raw, [phrase, name]] of history) {
      rows.push([`history:${raw}`, [`${state.user.name} ${phrase} `, el("em", {}, name)], { "data-history": raw }]);
    }
    return rows;
  }

  function showRemovals(rec, groups) {
    const rows = removalRows(rec, groups).map(([entry, words, attributes]) => {
      if (!words) return el("tr", { class: "group" }, el("th", { colspan: 3 }, entry));
      const output = el("output", {});
      const button = el("button", { type: "button", class: "remove" }, "remove");
      button.addEventListener("click", () => counterfactual(rec, entry, output));
      return el("tr", { "data-remove": entry, ...attributes }, el("td", { class: "what" }, ...words),
        el("td", {}, button), el("td", {}, output));
    });
    $("#removals").replaceChildren(...rows);
  }

  /** Ask the counterfactual endpoint for one `remove=` entry; show rank and score before → after. */
  async function counterfactual(rec, entry, output) {
    output.removeAttribute("data-rank");
    output.className = "";
    output.textContent = "\u2026";
    const { ok, body } = await api(`users/${encodeURIComponent(state.user.raw)}/items/${encodeURIComponent(rec.item_raw)}/counterfactual`,
      { remove: entry });
    if (state.current !== rec) return;
    if (!ok) {
      output.className = "failed";
      output.textContent = body.detail || "refused";
      return;
    }
    const [before, after] = [body.original, body.counterfactual];
    output.className = after.rank > before.rank ? "worse" : after.rank < before.rank ? "better" : "same";
    output.setAttribute("data-rank", after.rank);
    output.setAttribute("data-score", after.score);
    output.textContent = `rank ${before.rank} \u2192 ${after.rank} \u00b7 score ${score(before.score)} \u2192 ` +
      `${score(after.score)} \u00b7 ${body.edges_removed} edge${body.edges_removed === 1 ? "" : "s"} left out`;
  }

  // ---- start ------------------------------------------------------------------------------------------
  $("#find").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = $("#user").value.trim();
    if (query) findUser(query);
  });
  about();
})();
