"""The told-evidence measures of ``kgrec explain-eval`` (kgrec.explain.measures) on a drawn graph with known
path weights, computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.explain.fidelity import path_pairs
from kgrec.explain.measures import collaborative_share, is_named, named_coverage, told_measures, weight_share
from kgrec.explain.paths import FoundPaths, PathFinder
from kgrec.explain.types import Explanation

#: Edge weights of the drawn graph (both directions listed where a path uses them; every other edge 1.0).
WEIGHTS = {
    ("u1", "i1"): 1.0,
    ("i1", "g"): 0.6, ("g", "i3"): 0.5,    # A = u1 → i1 → g → i3:  1 · 0.6 · 0.5 = 0.3
    ("i1", "u2"): 0.5, ("u2", "i3"): 0.2,  # B = u1 → i1 ← u2 → i3: 1 · 0.5 · 0.2 = 0.1
    ("i1", "e"): 0.5, ("e", "i2"): 0.4,    # C = u1 → i1 → e → i2:  1 · 0.5 · 0.4 = 0.2
}


@pytest.fixture
def drawn() -> tuple[CollaborativeKG, PathFinder, dict[str, int]]:
    """Users u1, u2; items Heat (i1), Collateral (i2), Thief (i3) and an unnamed a0; entities Jazz (g, a
    genre) and an unnamed e (an origin)::

        u1 -> i1,  u2 -> i1,  u2 -> i3                      (train)
        i1 --genre--> g <--genre-- i3
        i1 --origin--> e <--origin-- i2

    With :data:`WEIGHTS`, u1 reaches i3 by exactly two paths (any length): A (KG, 0.3) and B
    (collaborative, 0.1), and i2 by exactly one: C (0.2, through the unnamed e).
    """
    interactions = pd.DataFrame({"user": ["u1", "u2", "u2"], "item": ["i1", "i1", "i3"]})
    triples = pd.DataFrame({"head": ["i1", "i3", "i1", "i2"], "relation": ["genre", "genre", "origin", "origin"],
                            "tail": ["g", "g", "e", "e"]})
    links = pd.DataFrame({"item": ["i1", "i2", "i3"], "entity": ["i1", "i2", "i3"]})
    dataset = RecDataset.from_frames(
        "drawn", interactions, triples, links, item_catalogue=["a0", "i2"],
        item_names={"i1": "Heat", "i2": "Collateral", "i3": "Thief"}, entity_names={"g": "Jazz"},
    )
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    entity_node = graph.entity_nodes.set_index("entity")["node"]
    node = {f"u{n}": dataset.users.index(f"u{n}") for n in (1, 2)}
    node |= {i: graph.item_node(dataset.items.index(i)) for i in ("a0", "i1", "i2", "i3")}
    node |= {e: int(entity_node.loc[dataset.entities.index(e)]) for e in ("g", "e")}
    weights = {(node[a], node[b]): w for (a, b), w in WEIGHTS.items()}
    src, dst = graph.data.edge_index.numpy()
    edge_weight = np.array([weights.get((s, d), 1.0) for s, d in zip(src.tolist(), dst.tolist())])
    return graph, PathFinder(graph, edge_weight, max_len=4), node


def told(user: int, item: int, rank: int, paths: list, index: int, reason: str) -> Explanation:
    """An explanation telling ``paths[index]``, with the share the explainer would store."""
    return Explanation(user, item, 1.0 / rank, rank, tuple(paths), index, reason=reason,
                       told_share=weight_share([paths[index]], FoundPaths.of(paths)))


def explanations(graph: CollaborativeKG, finder: PathFinder, node: dict[str, int]) -> dict[str, Explanation]:
    """ea: i3 told by A; eb: i3 told by B (co-like); ec: i2 told by C; ed: i2 without a path."""
    ds = graph.dataset
    u1, i2, i3 = node["u1"], ds.items.index("i2"), ds.items.index("i3")
    to_i3, to_i2 = finder.paths(u1, i3), finder.paths(u1, i2)
    return {
        "ea": told(u1, i3, 1, to_i3, 0, "path"),
        "eb": told(u1, i3, 1, to_i3, 1, "co-like"),
        "ec": told(u1, i2, 2, to_i2, 0, "path"),
        "ed": Explanation(u1, i2, 0.5, 2),
    }


def test_the_drawn_paths_have_the_hand_weights(drawn) -> None:
    graph, finder, node = drawn
    ds = graph.dataset
    to_i3 = finder.paths(node["u1"], ds.items.index("i3"))
    assert [p.nodes for p in to_i3] == [(node["u1"], node["i1"], node["g"], node["i3"]),
                                        (node["u1"], node["i1"], node["u2"], node["i3"])]
    assert [p.weight for p in to_i3] == pytest.approx([0.3, 0.1])
    (to_i2,) = finder.paths(node["u1"], ds.items.index("i2"))
    assert to_i2.nodes == (node["u1"], node["i1"], node["e"], node["i2"]) and to_i2.weight == pytest.approx(0.2)


def test_real_names_and_fallbacks(drawn) -> None:
    graph, _, node = drawn
    assert graph.node_name(node["e"]) == "entity e" and not graph.node_has_name(node["e"])
    assert graph.node_name(node["a0"]) == "item a0" and not graph.node_has_name(node["a0"])
    assert graph.node_has_name(node["g"]) and graph.node_has_name(node["i2"])
    assert not graph.node_has_name(node["u2"])  # users are never named, hence left out of named_coverage


def test_named_coverage_counts_items_and_entities_of_told_explanations(drawn) -> None:
    graph, finder, node = drawn
    e = explanations(graph, finder, node)
    assert is_named(e["ea"], graph)       # Heat, Jazz, Thief
    assert is_named(e["eb"], graph)       # Heat, (u2 not counted), Thief
    assert not is_named(e["ec"], graph)   # Heat, entity e, Collateral
    # told: ea, ec (ed has no path and is left out) → 1 / 2
    assert named_coverage([e["ea"], e["ec"], e["ed"]], graph) == pytest.approx(1 / 2)
    assert named_coverage([e["ea"], e["eb"], e["ec"], e["ed"]], graph) == pytest.approx(2 / 3)
    assert np.isnan(named_coverage([e["ed"]], graph))


def test_weight_share_of_the_told_path(drawn) -> None:
    graph, finder, node = drawn
    e = explanations(graph, finder, node)
    a, b = e["ea"].paths
    assert weight_share([a], FoundPaths.of([a, b])) == pytest.approx(0.3 / 0.4)  # = 0.75
    assert weight_share([b], FoundPaths.of([a, b])) == pytest.approx(0.1 / 0.4)  # = 0.25
    assert weight_share([a, a], FoundPaths.of([a, b])) == pytest.approx(0.75)     # a told path listed twice counts once
    assert weight_share([a, b], FoundPaths.of([a, b])) == pytest.approx(1.0)      # A and B share u1–i1: each path once
    assert weight_share([a], FoundPaths.of([b])) == pytest.approx(0.75)           # the told path counts in the total
    assert [e[k].told_share for k in ("ea", "eb", "ec")] == pytest.approx([0.75, 0.25, 1.0])
    assert e["ed"].told_share is None and e["ed"].reason == "none"


def test_collaborative_share(drawn) -> None:
    graph, finder, node = drawn
    e = explanations(graph, finder, node)
    # denominator: every explanation, told or not (as path_coverage and rule_coverage)
    assert collaborative_share([e["ea"], e["eb"], e["ec"], e["ed"]]) == pytest.approx(1 / 4)
    assert collaborative_share([e["ea"], e["ec"]]) == 0.0
    assert np.isnan(collaborative_share([]))


def test_told_measures_summary(drawn) -> None:
    graph, finder, node = drawn
    e = explanations(graph, finder, node)
    measures = told_measures([e["ea"], e["eb"], e["ec"], e["ed"]], graph)
    assert measures == pytest.approx({
        "named_coverage": 2 / 3,
        "told_weight_share": (0.75 + 0.25 + 1.0) / 3,
        "told_weight_share_median": 0.75,
        "collaborative_share": 1 / 4,
    })
    empty = told_measures([e["ed"]], graph)
    assert np.isnan(empty["told_weight_share"]) and np.isnan(empty["told_weight_share_median"])


def test_the_deletion_test_deletes_every_edge_of_the_told_path(drawn) -> None:
    graph, finder, node = drawn
    e = explanations(graph, finder, node)
    assert e["ed"].told_paths == () and path_pairs(e["ed"]).shape == (0, 2)
    assert e["eb"].told_paths == (e["eb"].paths[1],)
    assert path_pairs(e["eb"]).tolist() == [[node["u1"], node["i1"]], [node["i1"], node["u2"]], [node["u2"], node["i3"]]]
