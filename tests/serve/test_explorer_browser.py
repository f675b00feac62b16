"""The explorer page in headless Chromium, on the real ``kgrec serve`` with a token (the page opened as
``/?token=TOKEN``): a user's list, an item's subgraph drawn from its paths, relations switched off, a path
removed, each checked against the service's own JSON answers. How Chromium is found and driven:
:mod:`tests.chromium`.

``KGREC_WRITE_SCREENSHOT=1`` also writes the screenshot of the README and ``docs/serve.md``,
``docs/explorer.png``.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.chromium import Browser, not_blank, open_browser
from tests.serve.conftest import TOKEN, Server, a_user

pytestmark = pytest.mark.browser
SIZE = (1200, 1100)
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "explorer.png"
INVERSE = "⁻¹"
PALETTE = 64  # colours of the screenshot written to docs: keeps it near 100 KB, node colours intact
SHOWN = re.compile(r"rank (\d+) → (\d+) · score (\S+) → (\S+) · (\d+) edges? left out")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with open_browser(tmp_path / "profile", SIZE) as started:
        yield started


def wait_for(browser: Browser, selector: str) -> None:
    """Until an element matches ``selector`` (an exception after 20 s)."""
    browser.evaluate(f"""new Promise((found, lost) => {{ const start = Date.now(); (function poll() {{
        if (document.querySelector({json.dumps(selector)})) found(true);
        else if (Date.now() - start > 20000) lost(new Error("nothing matches " + {json.dumps(selector)}));
        else setTimeout(poll, 50); }})(); }})""")


def click(browser: Browser, selector: str) -> None:
    browser.evaluate(f"document.querySelector({json.dumps(selector)}).click()")


def ask_for(browser: Browser, user: str) -> None:
    """Type ``user`` into the box and submit the form."""
    browser.evaluate(f"document.querySelector('#user').value = {json.dumps(user)}; "
                     "document.querySelector('#find').requestSubmit()")


def as_read(sentence: str) -> str:
    """A sentence as the page shows it: *emphasis* in italics, `a rule's name` in quotes."""
    return re.sub(r"`([^`]*)`", r"“\1”", sentence).replace("*", "")


def small_png(png: bytes) -> bytes:
    """A PNG screenshot with its colours reduced to :data:`PALETTE`."""
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(PALETTE, method=Image.Quantize.FASTOCTREE).save(
        out, format="png", optimize=True)
    return out.getvalue()


def group(relation: dict[str, Any]) -> str:
    """A relation's forward name: the page switches and removes a relation and its inverse together."""
    return relation["name"].removesuffix(INVERSE)


def drawn_edges(rec: dict[str, Any]) -> dict[tuple[int, int, str], tuple[float, bool]]:
    """The distinct edges (from, to, relation group) of an item's paths: summed path weight, on a told path."""
    edges: dict[tuple[int, int, str], tuple[float, bool]] = {}
    for k, path in enumerate(rec["paths"]):
        for a, b, relation in zip(path["nodes"], path["nodes"][1:], path["relation_info"]):
            weight, told = edges.get((a, b, relation["id"]), (0.0, False))
            edges[(a, b, relation["id"])] = (weight + path["weight"], told or k in rec["told"])
    names = {r["id"]: group(r) for path in rec["paths"] for r in path["relation_info"]}
    return {(a, b, names[r]): value for (a, b, r), value in edges.items()}


def test_the_explorer_in_chromium(browser: Browser, guarded: Server, run: Path) -> None:
    user = a_user(run)
    document = guarded.get(f"/users/{user}/recommendations", token=TOKEN, k=10).json()
    recs = document["recommendations"]
    rec = next(r for r in recs if r["told"])  # the first item with a told path
    browser.open(f"{guarded.url}/?token={TOKEN}")
    assert browser.errors() == []

    # an unknown user: the 404 answer's closest matches
    unknown = user + "x"
    matches = guarded.get(f"/users/{unknown}/recommendations", token=TOKEN).json()["matches"]
    assert matches
    ask_for(browser, unknown)
    wait_for(browser, "#message .match")
    assert browser.evaluate("[...document.querySelectorAll('#message .match')].map(b => b.textContent)") == matches

    # the list: rank, name, score and sentence of every recommendation
    ask_for(browser, user)
    wait_for(browser, "#recommendations li")
    shown = browser.evaluate("[...document.querySelectorAll('#recommendations li')].map(li => "
                             "[+li.dataset.rank, li.querySelector('.open').textContent, +li.querySelector('.score').textContent, "
                             "li.querySelector('.sentence').textContent])")
    assert [(r, name, sentence) for r, name, _, sentence in shown] == [
        (r["rank"], r["item_name"], as_read(r["sentence"])) for r in recs]
    assert [score for *_, score, _ in shown] == pytest.approx([r["score"] for r in recs], rel=1e-3)

    # one item's subgraph: its paths' nodes (labelled with names, coloured by kind) and edges, the told ones highlighted
    click(browser, f"#recommendations li[data-rank='{rec['rank']}'] button.open")
    wait_for(browser, "#graph .node")
    nodes = browser.evaluate("Object.fromEntries([...document.querySelectorAll('#graph .node')].map(g => [g.dataset.id, "
                             "[g.dataset.kind, g.querySelector('text').textContent, g.classList.contains('told')]]))")
    infos = {str(n["id"]): n for path in rec["paths"] for n in path["node_info"]}
    on_told = {str(n) for k in rec["told"] for n in rec["paths"][k]["nodes"]}
    assert nodes == {i: [n["kind"], n["name"] if len(n["name"]) <= 26 else n["name"][:25] + "…", i in on_told]
                     for i, n in infos.items()}
    edges = browser.evaluate("[...document.querySelectorAll('#graph .edge')].map(e => [+e.dataset.from, +e.dataset.to, "
                             "e.dataset.relation, +e.dataset.weight, +e.getAttribute('stroke-width'), e.classList.contains('told')])")
    expected = drawn_edges(rec)
    assert {(a, b, r): told for a, b, r, _, _, told in edges} == {key: told for key, (_, told) in expected.items()}
    assert {(a, b, r): w for a, b, r, w, _, _ in edges} == pytest.approx({key: w for key, (w, _) in expected.items()})
    assert any(told for *_, told in edges)
    by_weight = sorted((w, width) for _, _, _, w, width, _ in edges)
    assert [width for _, width in by_weight] == sorted(width for _, width in by_weight)  # thicker when heavier
    phrases = {r["phrase"] for path in rec["paths"] for r in path["relation_info"]}
    labels = browser.evaluate("[...document.querySelectorAll('#graph .edge-label')].map(t => t.textContent)")
    assert len(labels) == len(edges) and set(labels) == phrases

    # a relation switched off hides its edges and only those
    off = group(rec["paths"][0]["relation_info"][-1])
    click(browser, f"#relations input[data-relation='{off}']")
    visible = browser.evaluate("[...document.querySelectorAll('#graph .edge')].map(e => "
                               "[e.dataset.relation, getComputedStyle(e).display !== 'none'])")
    assert visible and all(seen == (relation != off) for relation, seen in visible)
    click(browser, f"#relations input[data-relation='{off}']")
    assert browser.evaluate("[...document.querySelectorAll('#graph .edge')].every(e => getComputedStyle(e).display !== 'none')")

    # remove the told path: the rank and score shown are the counterfactual endpoint's
    k = rec["told"][0]
    removable = browser.evaluate("[...document.querySelectorAll('#removals tr[data-remove]')].map(tr => tr.dataset.remove)")
    history = {p["node_info"][1]["raw"] for p in rec["paths"] if p["node_info"][1]["kind"] == "item"}
    assert set(removable) >= {f"path:{i}" for i in range(len(rec["paths"]))} | {f"relation:{off}"} | {
        f"history:{raw}" for raw in history}
    click(browser, f"#removals tr[data-path='{k}'] button.remove")
    wait_for(browser, f"#removals tr[data-path='{k}'] output[data-rank]")
    text, rank, score = browser.evaluate(f"(o => [o.textContent, +o.dataset.rank, +o.dataset.score])("
                                         f"document.querySelector(\"#removals tr[data-path='{k}'] output\"))")
    answer = guarded.get(f"/users/{user}/items/{rec['item_raw']}/counterfactual", token=TOKEN, remove=f"path:{k}").json()
    assert (rank, score) == (answer["counterfactual"]["rank"], answer["counterfactual"]["score"])
    seen = SHOWN.fullmatch(text)
    assert seen, text
    assert (int(seen[1]), int(seen[2]), int(seen[5])) == (
        answer["original"]["rank"], answer["counterfactual"]["rank"], answer["edges_removed"])
    assert [float(seen[3]), float(seen[4])] == pytest.approx(
        [answer["original"]["score"], answer["counterfactual"]["score"]], rel=1e-3)

    # what a reader sees: names and phrases, never raw entity ids, relation names, IRIs or percent-escapes
    visible_text = browser.evaluate("document.body.textContent")
    raws = {n["raw"] for r in recs for p in r["paths"] for n in p["node_info"] if n["kind"] == "entity"}
    names = {rel["name"] for r in recs for p in r["paths"] for rel in p["relation_info"]}
    assert not [raw for raw in raws if re.search(rf"\b{re.escape(raw)}\b", visible_text)]
    assert not [name for name in names if name in visible_text and not any(name in phrase for phrase in phrases)]
    assert not re.search(r"%[0-9A-Fa-f]{2}|https?:|dbo:|dbr:", visible_text)

    # nothing but the service was asked, and only the unknown user answered an error
    assert all(url.startswith((guarded.url + "/", "data:")) for url in browser.requested_urls()), browser.requested_urls()
    assert [e for e in browser.errors() if f"/users/{unknown}/recommendations" not in e] == []
    png = browser.screenshot()
    assert not_blank(png, SIZE) > 0.05
    if os.environ.get("KGREC_WRITE_SCREENSHOT") == "1":
        SCREENSHOT.write_bytes(small_png(png))
