"""Renderings of an :class:`~kgrec.explain.types.Explanation`: a sentence, a JSON object, a subgraph, PNG and HTML.

The explanation is the data (ids only); everything here adds names and phrases from the graph's ``IdMap``s
and a :class:`~kgrec.explain.phrases.PhraseTable`. The JSON layout is documented in ``docs/explanations.md``
and checked by ``kgrec/explain/explanation.schema.json``.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path as FilePath
from typing import Any

import networkx as nx
import numpy as np

from kgrec.atomic import atomic_open, atomic_write_text
from kgrec.data.formats.dbpedia import without_disambiguation
from kgrec.data.graph import CollaborativeKG
from kgrec.explain.phrases import PhraseTable, path_line, with_also
from kgrec.explain.types import Explanation, Path, Rule
from kgrec.plotting import chart_label, figure_png, png_figure  # matplotlib with the Agg backend

SCHEMA_VERSION = 1
SCHEMA_RESOURCE = "explanation.schema.json"
KIND_COLOURS = {"user": "#4e79a7", "item": "#f28e2b", "entity": "#59a14f"}

#: Intermediate nodes of a told rule a sentence spells out; more history items are counted, not named.
MAX_TOLD_LINKS = 2

# A sentence is a list of segments (style, text): style "" plain, "item" an item name, "code" a rule name.
Segment = tuple[str, str]
_CATEGORY = re.compile(r"^Category:\s*")  # DBpedia category resources ("Category:Films set in Seattle")
# MovieLens' sorting form of a title: "Matrix, The (1999)", "City of Lost Children, The (Cité des ..., La) (1995)"
_TRAILING_ARTICLE = re.compile(r"^(?P<title>.+?), (?P<article>The|A|An)(?P<rest>(?: \([^()]*\))*)$")


# ---- small formatting helpers ----------------------------------------------------------------------------
def format_confidence(value: float) -> str:
    """0.3125 → "0.31"; small values keep two significant digits (0.0042 → "0.0042")."""
    value = float(value)
    return f"{value:.2f}" if value == 0 or abs(value) >= 0.01 else f"{value:.2g}"


def _count(n: int, singular: str, plural: str) -> str:
    return f"{int(n):,} {singular if int(n) == 1 else plural}"


def short_name(name: str) -> str:
    """How a sentence names a KG entity: "Muse" for "Muse (band)", "Films set in Seattle" for
    "Category:Films set in Seattle" (a trailing disambiguation and a category prefix dropped)."""
    return without_disambiguation(_CATEGORY.sub("", name)) or name


def title_name(name: str) -> str:
    """How a sentence names an item: "The Matrix (1999)" for MovieLens' "Matrix, The (1999)" (the article in
    front); anything else unchanged (an item's "(1999)" or "(X)" is part of its name, not a disambiguation)."""
    match = _TRAILING_ARTICLE.match(name)
    return f"{match['article']} {match['title']}{match['rest']}" if match else name


def sentence_names(graph: CollaborativeKG, nodes: Iterable[int]) -> dict[int, str]:
    """The names of ``nodes`` as one sentence shows them.

    Entities get their :func:`short_name`, unless two different nodes of the sentence would then read the
    same ("Boston (band)" next to the city "Boston"): those keep their full display names. Items keep their
    names (an item's title such as "Add N to (X)" is the name, not a disambiguation) with MovieLens' trailing
    article put in front (:func:`title_name`); users keep theirs.
    """
    full = {n: graph.node_name(n) for n in dict.fromkeys(map(int, nodes))}  # a sentence's paths repeat nodes
    kinds = {n: graph.node_kind(n) for n in full}
    short = {
        n: short_name(name) if kinds[n] == "entity" else title_name(name) if kinds[n] == "item" else name
        for n, name in full.items()
    }
    readers: dict[str, set[int]] = {}
    for node, name in short.items():
        readers.setdefault(name, set()).add(node)
    return {n: short[n] if len(readers[short[n]]) == 1 else full[n] for n in full}


def _node_segment(graph: CollaborativeKG, node: int, names: Mapping[int, str] | None = None) -> Segment:
    name = names[int(node)] if names is not None and int(node) in names else graph.node_name(node)
    return ("item" if graph.node_kind(node) == "item" else "", name)


def _markup(segments: Iterable[Segment]) -> str:
    """Plain text: item names in *asterisks*, rule names in `backticks`."""
    marks = {"": "{}", "item": "*{}*", "code": "`{}`"}
    return "".join(marks[style].format(text) for style, text in segments)


def _html(segments: Iterable[Segment]) -> str:
    """HTML: item names in <em>, rule names in <code>, everything escaped."""
    tags = {"": "{}", "item": "<em>{}</em>", "code": "<code>{}</code>"}
    return "".join(tags[style].format(html.escape(text)) for style, text in segments)


def told_path(expl: Explanation) -> Path | None:
    """The path the sentence tells: the chosen one, else the heaviest one, else None."""
    if expl.path is not None:
        return expl.path
    return max(expl.paths, key=lambda p: p.weight) if expl.paths else None


def rule_name(rule: Rule, graph: CollaborativeKG, phrases: PhraseTable) -> str:
    """A rule's short name: "same director"; with a constant, its name after a colon: "same director: Michael
    Mann", "same category: Films set in Seattle"."""
    name = phrases.rule_name(graph, rule.pattern)
    return name if rule.constant is None else f"{name}: {short_name(graph.node_name(rule.constant))}"


def rule_segments(rule: Rule, graph: CollaborativeKG, phrases: PhraseTable) -> list[Segment]:
    """`` (rule `same director`: lift 12, 2.1 against equally popular items, confidence 0.31 over 1,204
    co-liked pairs)`` (the popularity lift only when measured)."""
    popular = "" if rule.popularity_lift is None else f", {format_lift(rule.popularity_lift)} against equally popular items"
    return [
        ("", " (rule "),
        ("code", rule_name(rule, graph, phrases)),
        ("", f": lift {format_lift(rule.lift)}{popular}, confidence {format_confidence(rule.confidence)}"),
        ("", f" over {_count(rule.support, 'co-liked pair', 'co-liked pairs')})"),
    ]


def format_lift(value: float) -> str:
    """12.34 → "12", 3.456 → "3.5": how many times more often than chance, to two significant digits."""
    value = float(value)
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _name_list(segments: Sequence[Segment], limit: int = 3) -> list[Segment]:
    """"*A*", "*A* and *B*", "*A*, *B* and *C*", "*A*, *B*, *C* and 2 more": names as one list."""
    shown = list(segments[:limit])
    hidden = len(segments) - len(shown)
    if hidden:
        shown.append(("", f"{hidden} more"))
    out: list[Segment] = []
    for k, segment in enumerate(shown):
        if k:
            out.append(("", " and " if k == len(shown) - 1 else ", "))
        out.append(segment)
    return out


def _rule_group_segments(
    told: Sequence[Path], graph: CollaborativeKG, phrases: PhraseTable, names: Mapping[int, str]
) -> list[Segment]:
    """The told rule instances read back from the recommended item, the history items that share each link
    listed once: "it plays Alternative rock, like *Radiohead*, *Placebo* and *Coldplay*, which you liked"
    (a "same" rule), "it comes from Reykjavík, which is the birthplace of *Björk*, which you listened to" (any
    other pattern, one phrase per edge). Links through other intermediate nodes follow as "; it also …" (at most
    :data:`MAX_TOLD_LINKS`, then how many more history items the rule links)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for path in told:  # heaviest first: groups and their items in weight order
        items = groups.setdefault(tuple(path.nodes[2:-1]), [])
        if path.nodes[1] not in items:
            items.append(path.nodes[1])
    lead = told[0]
    kg = lead.relations[1:]  # r_1 … r_L from the history item j to the item i
    same = len(kg) == 2 and kg[1] == graph.inverse(kg[0])
    liked = f", which you {phrases.phrase(graph, graph.interact)}"
    segments: list[Segment] = []
    shown = list(groups.items())[:MAX_TOLD_LINKS]
    for index, (middle, items) in enumerate(shown):
        chain = middle[::-1]  # n_{L-1} … n_1, read from the item back to the history item
        history = _name_list([_node_segment(graph, j, names) for j in items])
        segments.append(("", "; it " if index else "it "))
        also = with_also if index else str  # "; it also plays …" for the links after the first
        if same:
            segments += [("", f"{also(phrases.phrase(graph, kg[0]))} "), _node_segment(graph, middle[0], names), ("", ", like "), *history]
        else:
            for step, node in zip(range(len(kg) - 1, 0, -1), chain):  # "plays X, which is played by Y, …"
                phrase = phrases.phrase(graph, graph.inverse(kg[step]))
                segments += [("", f"{also(phrase) if step == len(kg) - 1 else phrase} "), _node_segment(graph, node, names)]
                person = phrases.target_is_person(graph, graph.inverse(kg[step]))
                segments.append(("", f", {'who' if person else 'which'} "))
            last = phrases.phrase(graph, graph.inverse(kg[0]))
            segments += [("", f"{also(last) if len(kg) == 1 else last} "), *history]
        segments.append(("", liked))
    rest = {p.nodes[1] for p in told} - {j for _, items in shown for j in items}
    if rest:
        segments.append(("", f"; the same rule links {_count(len(rest), 'more item', 'more items')} of yours to it"))
    return segments


def _colike_segments(
    told: Sequence[Path], graph: CollaborativeKG, phrases: PhraseTable, names: Mapping[int, str]
) -> list[Segment]:
    """"12 users who liked *Radiohead*, as you did, also liked *Muse*" (co-like paths through one history item)."""
    lead = told[0]
    others = len({p.nodes[2] for p in told})
    verb = phrases.phrase(graph, graph.interact)
    return [
        ("", f"{_count(others, 'other user', 'other users')} who {verb} "), _node_segment(graph, lead.nodes[1], names),
        ("", f", as you did, {with_also(verb)} "), _node_segment(graph, lead.nodes[-1], names),
    ]


def _pronoun(graph: CollaborativeKG, phrases: PhraseTable, path: Path, k: int) -> str:
    """"who" or "which" for node ``k`` of ``path`` (k ≥ 1): who for users and people."""
    node = path.nodes[k]
    person = graph.node_kind(node) == "user" or phrases.target_is_person(graph, path.relations[k - 1])
    if k < path.length:
        person = person or phrases.source_is_person(graph, path.relations[k])
    return "who" if person else "which"


def _is_collaborative(graph: CollaborativeKG, path: Path) -> bool:
    """u → j ← u' → i: interact, interact⁻¹, interact."""
    interact, back = graph.interact, graph.interact_inverse
    return path.relations == (interact, back, interact) and graph.node_kind(path.nodes[2]) == "user"


def path_segments(
    path: Path, graph: CollaborativeKG, phrases: PhraseTable, names: Mapping[int, str] | None = None
) -> list[Segment]:
    """"you liked *Heat*, which was directed by Michael Mann, who also directed *Collateral*" (no "because").

    ``names``: the sentence's node names (default :func:`sentence_names` of the path's nodes).
    """
    nodes, relations = path.nodes, path.relations
    if not relations:
        return [("", "it is the item itself")]
    names = sentence_names(graph, nodes) if names is None else names
    segments: list[Segment] = [
        ("", f"you {phrases.phrase(graph, relations[0])} "), _node_segment(graph, nodes[1], names)
    ]
    if _is_collaborative(graph, path):
        return segments + [
            ("", ", and "), _node_segment(graph, nodes[2], names),
            ("", f", who {with_also(phrases.phrase(graph, relations[0]))} "), _node_segment(graph, nodes[1], names),
            ("", f", {phrases.phrase(graph, relations[2])} "), _node_segment(graph, nodes[3], names),
        ]
    for k in range(1, len(relations)):
        phrase = phrases.phrase(graph, relations[k])
        if relations[k] == graph.inverse(relations[k - 1]):
            phrase = with_also(phrase)
        segments += [
            ("", f", {_pronoun(graph, phrases, path, k)} {phrase} "), _node_segment(graph, nodes[k + 1], names)
        ]
    return segments


def explanation_segments(expl: Explanation, graph: CollaborativeKG, phrases: PhraseTable) -> list[Segment]:
    """The sentence of an explanation as styled segments (see :func:`explanation_text`)."""
    told = expl.told_paths or tuple(p for p in (told_path(expl),) if p is not None)
    item_node = graph.item_node(expl.item)
    names = sentence_names(graph, [item_node, *(n for p in told for n in p.nodes)])
    item = _node_segment(graph, item_node, names)
    if expl.fallback:
        return [
            ("", "Popular item: "), item,
            ("", " (the user has no training history, so this is a popularity fallback, "),
            ("", "not a personalised recommendation)."),
        ]
    if not told:
        return [
            ("", "Recommended "), item,
            ("", " for its similarity to your history in the model; "),
            ("", "no connecting path was found in the knowledge graph."),
        ]
    if expl.reason == "rule" and expl.rule is not None:
        segments = [("", "Recommended "), item, ("", " because "), *_rule_group_segments(told, graph, phrases, names)]
        return segments + rule_segments(expl.rule, graph, phrases) + [("", ".")]
    if expl.reason == "co-like":
        return [
            ("", "Recommended "), item, ("", " because of shared taste, not a knowledge-graph rule: "),
            *_colike_segments(told, graph, phrases, names), ("", "."),
        ]
    segments = [("", "Recommended "), item, ("", " because "), *path_segments(told[0], graph, phrases, names)]
    if expl.rule is not None:
        segments += rule_segments(expl.rule, graph, phrases)
    return segments + [("", ".")]


def explanation_text(expl: Explanation, graph: CollaborativeKG, phrases: PhraseTable) -> str:
    """One sentence: item names in *asterisks*, other nodes by name, the rule name in `backticks`.

    A rule: "Recommended *Muse* because it plays Alternative rock, like *Radiohead*, *Placebo* and
    *Coldplay*, which you liked (rule `same genre`: lift 12, confidence 0.11 over 1,204 co-liked pairs)."
    Co-liking: "Recommended *Muse* because of shared taste, not a knowledge-graph rule: 12 other users who
    liked *Radiohead*, as you did, also liked *Muse*."
    """
    return _markup(explanation_segments(expl, graph, phrases))


def explanation_html_sentence(expl: Explanation, graph: CollaborativeKG, phrases: PhraseTable) -> str:
    """The sentence as escaped HTML (items in ``<em>``, the rule name in ``<code>``)."""
    return _html(explanation_segments(expl, graph, phrases))


def path_text(path: Path, graph: CollaborativeKG, phrases: PhraseTable) -> str:
    """A path as one line: "user u1 —liked→ Heat —was directed by→ Michael Mann —directed→ Collateral"."""
    return path_line([graph.node_name(n) for n in path.nodes], [phrases.phrase(graph, r) for r in path.relations])


# ---- JSON ------------------------------------------------------------------------------------------------
_PLAIN = frozenset({int, float, str, bool, type(None)})


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python numbers, tuples to lists."""
    kind = type(value)
    if kind in _PLAIN:  # most values of a document: checked first, exactly (ABC checks are slow)
        return value
    if (kind is list or kind is tuple) and _PLAIN.issuperset(map(type, value)):  # node ids, relation ids
        return list(value)
    if kind is dict or isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if kind is list or isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def node_info(graph: CollaborativeKG, node: int) -> dict[str, Any]:
    """``{id, kind, raw, name}`` of a CKG node."""
    node = int(node)
    return {"id": node, "kind": graph.node_kind(node), "raw": graph.node_raw(node), "name": graph.node_name(node)}


def relation_info(graph: CollaborativeKG, phrases: PhraseTable, relation: int) -> dict[str, Any]:
    """``{id, name, phrase}`` of a CKG relation id."""
    relation = int(relation)
    return {"id": relation, "name": graph.relation_names[relation], "phrase": phrases.phrase(graph, relation)}


def user_info(graph: CollaborativeKG, user: int) -> dict[str, Any]:
    """``{id, node, raw, name}`` of a dataset user."""
    user = int(user)
    return {"id": user, "node": user, "raw": graph.dataset.users.raw(user), "name": graph.dataset.users.name(user)}


def _path_values(
    path: Path, nodes: Mapping[int, dict[str, Any]], relations: Mapping[int, dict[str, Any]]
) -> dict[str, Any]:
    """``path.to_dict()``, JSON-safe, with the ``node_info`` and ``relation_info`` of its nodes and relations
    (copies of ``nodes`` and ``relations``: the infos by id)."""
    values = _plain(path.to_dict())
    values["node_info"] = [dict(nodes[n]) for n in path.nodes]
    values["relation_info"] = [dict(relations[r]) for r in path.relations]
    return values


def explanation_dict(expl: Explanation, graph: CollaborativeKG, phrases: PhraseTable) -> dict[str, Any]:
    """The JSON object of one explanation: ``Explanation.to_dict()`` plus names (``docs/explanations.md``).

    Every key of ``to_dict()`` keeps its value (path objects also get ``node_info`` and ``relation_info``),
    so ``Explanation.from_dict`` reads the object back.
    """
    values = _plain({**expl.to_dict(), "paths": []})  # the paths follow, named
    item_node = graph.item_node(expl.item)
    values.update(
        user_raw=graph.dataset.users.raw(expl.user),
        user_name=graph.dataset.users.name(expl.user),
        item_raw=graph.dataset.items.raw(expl.item),
        item_name=graph.dataset.items.name(expl.item),
        item_node=int(item_node),
        sentence=expl.text or explanation_text(expl, graph, phrases),  # an explainer's text is this sentence
    )
    # a told rule's paths repeat a few nodes and relations many times: each is looked up once, then copied
    nodes = {n: node_info(graph, n) for n in {n for path in expl.paths for n in path.nodes}}
    relations = {r: relation_info(graph, phrases, r) for r in {r for path in expl.paths for r in path.relations}}
    values["paths"] = [_path_values(path, nodes, relations) for path in expl.paths]
    values["rule_info"] = None if expl.rule is None else {
        "name": rule_name(expl.rule, graph, phrases),
        "pattern_label": phrases.pattern_label(graph, expl.rule.pattern),
        "relations": [relation_info(graph, phrases, r) for r in expl.rule.pattern],
        "constant": None if expl.rule.constant is None else node_info(graph, expl.rule.constant),
    }
    return values


def recommendations_document(
    user: int,
    explanations: Sequence[Explanation],
    graph: CollaborativeKG,
    phrases: PhraseTable,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document of one user's recommendation list: schema_version, dataset, user, recommendations, meta."""
    others = sorted({e.user for e in explanations} - {int(user)})
    if others:
        raise ValueError(f"explanations for user(s) {others} in the document of user {int(user)}")
    return {
        "schema_version": SCHEMA_VERSION,
        "dataset": graph.dataset.name,
        "user": user_info(graph, user),
        "recommendations": [explanation_dict(e, graph, phrases) for e in explanations],
        "meta": _plain(dict(meta or {})),
    }


def path_row(path: Path, graph: CollaborativeKG, phrases: PhraseTable) -> dict[str, Any]:
    """One path as a JSON row (``kgrec paths --format json``, the service's paths endpoint): its ids and
    weight, its length, node and relation names and the path as one line."""
    return {
        **path.to_dict(), "length": path.length, "names": [graph.node_name(n) for n in path.nodes],
        "relation_names": [graph.relation_names[r] for r in path.relations], "text": path_text(path, graph, phrases),
    }


def rule_row(rule: Rule, graph: CollaborativeKG, phrases: PhraseTable) -> dict[str, Any]:
    """One mined rule as a JSON row (``kgrec rules --format json``, the service's rules endpoint): its
    readable name and pattern, then its measures."""
    return {"name": rule_name(rule, graph, phrases), "pattern_label": phrases.pattern_label(graph, rule.pattern), **rule.to_dict()}


def explanation_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a recommendations document; ``$defs/explanation`` for one object."""
    return json.loads(resources.files("kgrec.explain").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8"))


# ---- subgraph and picture --------------------------------------------------------------------------------
def explanation_subgraph(expl: Explanation, graph: CollaborativeKG, phrases: PhraseTable) -> nx.MultiDiGraph:
    """The explanation's paths as a graph: the user, the nodes on the paths and the recommended item.

    Nodes carry ``kind``, ``name``, ``raw``, ``role`` ("user", "recommended", "history" for items the user
    liked on a path's first edge, else "other") and ``layer`` (first position on a path; the item is last).
    Edges (key = relation id) carry ``relation``, ``relation_name``, ``label`` (the phrase) and ``weight``
    (the largest weight of the paths using the edge). Edges point the way the paths walk.
    """
    user_node, item_node = int(expl.user), graph.item_node(expl.item)
    depth = max((p.length for p in expl.paths), default=1)
    subgraph = nx.MultiDiGraph()
    layers: dict[int, int] = {user_node: 0, item_node: depth}
    for path in expl.paths:
        for position, node in enumerate(path.nodes):
            if int(node) not in (user_node, item_node):
                layers[int(node)] = min(layers.get(int(node), depth), position)
    history = {int(p.nodes[1]) for p in expl.paths if p.length and int(p.nodes[0]) == user_node and p.relations[0] == graph.interact}
    for node, layer in layers.items():
        role = {user_node: "user", item_node: "recommended"}.get(node, "history" if node in history else "other")
        subgraph.add_node(node, **node_info(graph, node), role=role, layer=layer)
    for path in expl.paths:
        for source, relation, target in zip(path.nodes, path.relations, path.nodes[1:]):
            source, relation, target = int(source), int(relation), int(target)
            if subgraph.has_edge(source, target, key=relation):
                data = subgraph.edges[source, target, relation]
                data["weight"] = max(data["weight"], float(path.weight))
            else:
                subgraph.add_edge(
                    source, target, key=relation, relation=relation, relation_name=graph.relation_names[relation],
                    label=phrases.phrase(graph, relation), weight=float(path.weight),
                )
    for node, data in subgraph.nodes(data=True):  # the "id" of node_info is the node itself
        data.pop("id", None)
    return subgraph


def _png_bytes(subgraph: nx.MultiDiGraph) -> bytes:
    """The picture of a subgraph as PNG bytes (see :func:`draw_subgraph`)."""
    layers = nx.get_node_attributes(subgraph, "layer")
    if len(layers) != subgraph.number_of_nodes():
        layers = {n: layers.get(n, 0) for n in subgraph.nodes}
    nx.set_node_attributes(subgraph, layers, "layer")
    per_layer = np.bincount(list(layers.values())) if layers else np.array([1])
    if subgraph.number_of_nodes() > 1:
        position = nx.multipartite_layout(subgraph, subset_key="layer")
    else:
        position = {n: np.zeros(2) for n in subgraph}

    simple = nx.DiGraph()  # parallel edges (same ends, other relations) share one arrow and one label
    for source, target, data in subgraph.edges(data=True):
        if simple.has_edge(source, target):
            merged = simple.edges[source, target]
            merged["weight"] = max(merged["weight"], data.get("weight", 0.0))
            merged["label"] = f"{merged['label']} / {data.get('label', '')}"
        else:
            simple.add_edge(source, target, weight=data.get("weight", 0.0), label=data.get("label", ""))
    simple.add_nodes_from(subgraph.nodes)

    size = (min(3.0 + 2.6 * len(per_layer), 16.0), min(2.2 + 1.1 * int(per_layer.max()), 12.0))
    with png_figure(figsize=size) as (figure, axis):
        nodes = list(subgraph.nodes)
        kinds = [subgraph.nodes[n].get("kind", "entity") for n in nodes]
        nx.draw_networkx_nodes(
            subgraph, position, nodelist=nodes, ax=axis, node_size=700,
            node_color=[KIND_COLOURS.get(k, "#bab0ac") for k in kinds],
            edgecolors=["black" if subgraph.nodes[n].get("role") == "recommended" else "white" for n in nodes],
            linewidths=[3.0 if subgraph.nodes[n].get("role") == "recommended" else 1.0 for n in nodes],
        )
        edges = list(simple.edges(data=True))
        if edges:
            weights = np.array([abs(float(d["weight"])) for _, _, d in edges])
            top = weights.max() if weights.max() > 0 else 1.0
            style = "arc3,rad=0.12"
            nx.draw_networkx_edges(
                simple, position, edgelist=[(s, t) for s, t, _ in edges], ax=axis,
                width=list(np.maximum(6.0 * weights / top, 0.4)),
                edge_color="#555555", arrows=True, arrowsize=14, node_size=700, connectionstyle=style,
            )
            nx.draw_networkx_edge_labels(
                simple, position, edge_labels={(s, t): chart_label(d["label"], 40) for s, t, d in edges}, ax=axis, font_size=7,
                connectionstyle=style, node_size=700,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )
        label_position = {n: (x, y - 0.09) for n, (x, y) in position.items()}
        nx.draw_networkx_labels(
            subgraph, label_position, labels={n: chart_label(subgraph.nodes[n].get("name", str(n))) for n in nodes}, ax=axis,
            font_size=8, verticalalignment="top",
        )
        for kind, colour in KIND_COLOURS.items():
            axis.scatter([], [], color=colour, label=kind, s=60)
        axis.legend(loc="upper left", fontsize=7, frameon=False)
        axis.margins(0.15, 0.2)
        axis.set_axis_off()
        return figure_png(figure)


def draw_subgraph(subgraph: nx.MultiDiGraph, path_png: str | FilePath) -> None:
    """Draw an explanation subgraph to a PNG (written atomically).

    Nodes are coloured by kind (user, item, entity) and labelled by name, the recommended item has a black
    ring; edge widths are proportional to the edge weights and edge labels are the relation phrases.
    """
    data = _png_bytes(subgraph)
    with atomic_open(path_png, "wb") as handle:
        handle.write(data)


# ---- HTML ------------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:60em;color:#222;
 background:#fafafa;padding:0 1em}
h1{font-size:1.5em}.meta{color:#666}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:1em 1.4em;margin:1.2em 0;
 box-shadow:0 1px 3px rgba(0,0,0,.06)}
.card h2{font-size:1.2em;margin:.2em 0}.rank{color:#888;margin-right:.4em}.score{color:#666;font-size:.9em}
.sentence{font-size:1.05em;line-height:1.5}
table{border-collapse:collapse;font-size:.9em;margin:.6em 0;width:100%}
th,td{border-bottom:1px solid #eee;padding:.3em .5em;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}tr.chosen{background:#fff6e5}
code{background:#f0f0f0;padding:0 .25em;border-radius:3px}
figure{margin:.6em 0}figure img{max-width:100%;height:auto}.none{color:#888;font-style:italic}
"""


def _rule_html(rule: Rule, graph: CollaborativeKG, phrases: PhraseTable) -> str:
    escape = html.escape
    precision = "not measured" if rule.test_precision is None else f"{rule.test_precision:.3f}"
    rows = [
        ("pattern", escape(phrases.pattern_text(graph, rule.pattern))),
        ("support (co-liked pairs)", f"{rule.support:,}"),
        ("connected pairs", f"{rule.connected:,}"),
        ("confidence", f"{rule.confidence:.3f}"),
        ("head coverage", f"{rule.head_coverage:.3f}"),
        ("lift", f"{rule.lift:.2f}"),
        ("popularity lift", "not measured" if rule.popularity_lift is None else f"{rule.popularity_lift:.2f}"),
        ("p-value", "not measured" if rule.p_value is None else f"{rule.p_value:.1e}"),
        ("test precision", precision),
    ]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    name = escape(rule_name(rule, graph, phrases))
    return f'<div class="rule"><h3>Rule <code>{name}</code></h3><table>{body}</table></div>'


def _paths_html(expl: Explanation, graph: CollaborativeKG, phrases: PhraseTable, max_paths: int) -> str:
    if not expl.paths:
        return '<p class="none">No connecting path in the knowledge graph.</p>'
    told = set(expl.told) or {k for k, p in enumerate(expl.paths) if p is told_path(expl)}
    ordered = sorted(range(len(expl.paths)), key=lambda k: (k not in told, -expl.paths[k].weight))[:max_paths]
    rows = []
    for k in ordered:
        path = expl.paths[k]
        chosen = ' class="chosen"' if k in told else ""
        rows.append(
            f"<tr{chosen}><td>{k + 1}</td><td>{html.escape(path_text(path, graph, phrases))}</td>"
            f'<td class="num">{path.weight:.4g}</td></tr>'
        )
    more = len(expl.paths) - len(ordered)
    note = f'<p class="none">{more} more path{"s" if more != 1 else ""} not shown.</p>' if more > 0 else ""
    return (
        '<table class="paths"><thead><tr><th>#</th><th>path</th><th class="num">weight</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{note}"
    )


def _safe_file_part(raw: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._") or "item"


def picture_name(expl: Explanation, graph: CollaborativeKG) -> str:
    """``<rank>-<item raw id>.png`` (characters other than letters, digits, ``.``, ``_``, ``-`` become ``_``)."""
    return f"{expl.rank}-{_safe_file_part(graph.dataset.items.raw(expl.item))}.png"


def explanations_html(
    user_name: str,
    explanations: Sequence[Explanation],
    graph: CollaborativeKG,
    phrases: PhraseTable,
    out_html: str | FilePath,
    png_dir: str | FilePath | None = None,
    max_paths: int = 5,
) -> FilePath:
    """Write one self-contained HTML page (inline CSS, pictures as base64 PNG) with a card per recommendation.

    A card shows the rank, item name, score, the sentence, the top ``max_paths`` paths with weights (the
    told path highlighted), the rule with its measures and the subgraph picture (only for explanations
    with paths). Items show by name and relations by phrase, never by raw id (ids stay in the JSON). With
    ``png_dir`` each picture is also written there as ``<rank>-<item raw id>.png``.
    """
    escape = html.escape
    cards = []
    for expl in explanations:
        name = graph.dataset.items.name(expl.item)
        parts = [
            f'<section class="card" id="rec-{expl.rank}">',
            f'<h2><span class="rank">#{expl.rank}</span>{escape(name)}</h2>',
            f'<p class="score">score {expl.score:.4g} for {escape(name)}'
            + (" · popularity fallback" if expl.fallback else "") + "</p>",
            f'<p class="sentence">{explanation_html_sentence(expl, graph, phrases)}</p>',
        ]
        if not expl.fallback:
            parts.append(_paths_html(expl, graph, phrases, max_paths))
            if expl.rule is not None:
                parts.append(_rule_html(expl.rule, graph, phrases))
            else:
                parts.append('<p class="none">No mined rule applies.</p>')
        if expl.paths:
            png = _png_bytes(explanation_subgraph(expl, graph, phrases))
            if png_dir is not None:
                with atomic_open(FilePath(png_dir) / picture_name(expl, graph), "wb") as handle:
                    handle.write(png)
            encoded = base64.b64encode(png).decode("ascii")
            alt = escape(f"paths from {user_name} to {name}")
            parts.append(f'<figure><img src="data:image/png;base64,{encoded}" alt="{alt}"></figure>')
        parts.append("</section>")
        cards.append("\n".join(parts))
    title = f"Recommendations for {user_name}"
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n"
        f'<p class="meta">dataset {escape(graph.dataset.name)} · '
        f'{_count(len(explanations), "recommendation", "recommendations")}</p>\n'
        + "\n".join(cards)
        + "\n</body>\n</html>\n"
    )
    out_html = FilePath(out_html)
    atomic_write_text(out_html, page)
    return out_html
