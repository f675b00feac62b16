"""PathFinder on a graph drawn by hand: exact paths, weights, order, caps; and against brute force."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.errors import UnknownItemError, UnknownUserError
from kgrec.explain import paths as paths_module
from kgrec.explain.paths import PathFinder
from kgrec.explain.types import Path
from kgrec.models.layers import edge_weights

# The graph (training interactions u1-i1, u2-i1, u2-i3; items are the entities e1..e4):
#
#                 u1 (0)                  u2 (1)
#                    \ interact          /      \ interact
#                     \                 / interact\
#                      i1 (2) ---------'           i3 (4)
#                     /   \                         |
#        directed_by /     \ similar_to             | similar_to
#                   v       v                       v
#           Mann (6) <----- i2 (3) <----------------'
#                 directed_by
#
#   i4 (5) --directed_by--> x (7)        (an item without interactions, cut off from every user)
#
# node ids: u1=0 u2=1 | i1=2 i2=3 i3=4 i4=5 | Mann=6 x=7
# relations: interact=0 directed_by=1 similar_to=2 | interact⁻¹=3 directed_by⁻¹=4 similar_to⁻¹=5
U1, U2 = 0, 1
I1, I2, I3, I4 = 0, 1, 2, 3  # dataset item ids (nodes 2..5)
INTERACT, DIRECTED_BY, SIMILAR_TO, INTERACT_INV, DIRECTED_BY_INV, SIMILAR_TO_INV = range(6)

# every path from u1 to i2 and to i3 (max_len 4), as (nodes, relations)
U1_I2 = {
    ((0, 2, 3), (INTERACT, SIMILAR_TO)),  # length 2: u1 likes i1, similar to i2
    ((0, 2, 6, 3), (INTERACT, DIRECTED_BY, DIRECTED_BY_INV)),  # length 3: i1 and i2 share their director
    ((0, 2, 1, 4, 3), (INTERACT, INTERACT_INV, INTERACT, SIMILAR_TO)),  # length 4 through u2 and i3
}
U1_I3 = {
    ((0, 2, 1, 4), (INTERACT, INTERACT_INV, INTERACT)),  # collaborative: u2 also liked i1, and liked i3
    ((0, 2, 3, 4), (INTERACT, SIMILAR_TO, SIMILAR_TO_INV)),
    ((0, 2, 6, 3, 4), (INTERACT, DIRECTED_BY, DIRECTED_BY_INV, SIMILAR_TO_INV)),
}

# explicit weights per (source, target); every other edge weighs 0.3 and lies on no path above
WEIGHTS = {(0, 2): 1.0, (2, 3): 0.5, (2, 6): 1.0, (6, 3): 0.5, (2, 1): 0.5, (1, 4): 0.5, (4, 3): 0.25, (3, 4): 0.5}


@pytest.fixture
def graph() -> CollaborativeKG:
    interactions = pd.DataFrame({"user": ["u1", "u2", "u2"], "item": ["i1", "i1", "i3"]})
    triples = pd.DataFrame(
        [("e1", "directed_by", "m"), ("e2", "directed_by", "m"), ("e1", "similar_to", "e2"),
         ("e3", "similar_to", "e2"), ("e4", "directed_by", "x")],
        columns=["head", "relation", "tail"],
    )
    links = pd.DataFrame({"item": ["i1", "i2", "i3", "i4"], "entity": ["e1", "e2", "e3", "e4"]})
    dataset = RecDataset.from_frames("paths", interactions, triples, links, item_catalogue=["i1", "i2", "i3", "i4"])
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    assert graph.num_nodes == 8 and graph.relation_names[:3] == ("interact", "directed_by", "similar_to")
    return graph


def explicit_weights(graph: CollaborativeKG, overrides: dict[tuple[int, int], float] | None = None) -> np.ndarray:
    weights = {**WEIGHTS, **(overrides or {})}
    return np.array([weights.get((s, t), 0.3) for s, t in zip(*graph.data.edge_index.tolist())])


def as_set(paths) -> set:
    return {(p.nodes, p.relations) for p in paths}


def test_exact_paths_of_every_length_and_the_collaborative_one(graph: CollaborativeKG) -> None:
    finder = PathFinder(graph, explicit_weights(graph), max_len=4)
    assert as_set(finder.paths(U1, I2)) == U1_I2
    assert as_set(finder.paths(U1, I3)) == U1_I3
    assert {p.length for p in finder.paths(U1, I2)} == {2, 3, 4}
    assert as_set(finder.paths(U1, I2, max_len=2)) == {((0, 2, 3), (INTERACT, SIMILAR_TO))}
    assert as_set(finder.paths(U1, I2, max_len=3)) == {p for p in U1_I2 if len(p[1]) <= 3}


def test_explicit_weights_products_and_sort_order(graph: CollaborativeKG) -> None:
    finder = PathFinder(graph, explicit_weights(graph))
    # i2: 1·0.5 = 0.5 (length 2) ties 1·1·0.5 = 0.5 (length 3): shorter first; then 1·0.5·0.5·0.25
    assert [(p.nodes, p.weight) for p in finder.paths(U1, I2)] == [
        ((0, 2, 3), 0.5), ((0, 2, 6, 3), 0.5), ((0, 2, 1, 4, 3), 0.0625)
    ]
    # i3: three paths of weight 0.25: the two of length 3 by node ids, then the one of length 4
    assert [(p.nodes, p.weight) for p in finder.paths(U1, I3)] == [
        ((0, 2, 1, 4), 0.25), ((0, 2, 3, 4), 0.25), ((0, 2, 6, 3, 4), 0.25)
    ]
    # weight before length: make the length-4 path the heaviest (1·0.5·0.5·8 = 2)
    heavy = PathFinder(graph, torch.tensor(explicit_weights(graph, {(4, 3): 8.0})))
    assert [p.nodes for p in heavy.paths(U1, I2)] == [(0, 2, 1, 4, 3), (0, 2, 3), (0, 2, 6, 3)]
    assert heavy.paths(U1, I2)[0].weight == 2.0


def test_default_weights_are_lightgcn_normalisation(graph: CollaborativeKG) -> None:
    # degrees: u1 1, u2 2, i1 4, i2 3, i3 2, Mann 2; w(a, b) = 1/sqrt(deg a · deg b)
    finder = PathFinder(graph)
    expected_i2 = [
        ((0, 2, 3), 1 / 2 * 1 / math.sqrt(4 * 3)),  # 1/(4√3)
        ((0, 2, 6, 3), 1 / 2 * 1 / math.sqrt(4 * 2) * 1 / math.sqrt(2 * 3)),  # 1/(8√3)
        ((0, 2, 1, 4, 3), 1 / 2 * 1 / math.sqrt(4 * 2) * 1 / math.sqrt(2 * 2) * 1 / math.sqrt(2 * 3)),  # 1/(16√3)
    ]
    got = finder.paths(U1, I2)
    assert [p.nodes for p in got] == [nodes for nodes, _ in expected_i2]
    root3 = math.sqrt(3)
    assert [p.weight for p in got] == pytest.approx([1 / (4 * root3), 1 / (8 * root3), 1 / (16 * root3)])
    assert [p.weight for p in got] == pytest.approx([w for _, w in expected_i2])
    root2 = math.sqrt(2)
    expected_i3 = {(0, 2, 1, 4): 1 / (8 * root2), (0, 2, 3, 4): 1 / (12 * root2), (0, 2, 6, 3, 4): 1 / (24 * root2)}
    got = finder.paths(U1, I3)
    assert [p.nodes for p in got] == list(expected_i3)
    assert [p.weight for p in got] == pytest.approx(list(expected_i3.values()))
    # the same weights the model propagates with when attention is off
    model = edge_weights(None, graph.data.edge_index, graph.num_nodes).numpy()
    assert finder.edge_weight == pytest.approx(model)


def test_max_paths_keeps_the_heaviest(graph: CollaborativeKG) -> None:
    finder = PathFinder(graph, explicit_weights(graph), max_paths=2)
    result = finder.paths_for_items(U1, [I3, I2])
    assert list(result) == [I3, I2]
    assert [p.nodes for p in result[I2]] == [(0, 2, 3), (0, 2, 6, 3)]
    assert [p.nodes for p in result[I3]] == [(0, 2, 1, 4), (0, 2, 3, 4)]
    assert [p.nodes for p in PathFinder(graph, explicit_weights(graph), max_paths=1).paths(U1, I2)] == [(0, 2, 3)]


def test_a_finder_of_some_relations_walks_only_them_and_the_interactions(graph: CollaborativeKG) -> None:
    directed = PathFinder(graph, explicit_weights(graph), relations={DIRECTED_BY, DIRECTED_BY_INV})
    # to i2: only the shared director (similar_to is not walked), with the whole graph's weights 1.0 · 1.0 · 0.5
    assert [(p.nodes, p.weight) for p in directed.paths(U1, I2)] == [((0, 2, 6, 3), 0.5)]
    # to i3: every path but the collaborative one needs similar_to
    assert {(p.nodes, p.relations) for p in directed.paths(U1, I3)} == {((0, 2, 1, 4), (INTERACT, INTERACT_INV, INTERACT))}
    # with the top-1 cap, the lighter director path is found once the heavier similar_to path is not walked
    assert [p.nodes for p in PathFinder(graph, explicit_weights(graph), max_paths=1).paths(U1, I2)] == [(0, 2, 3)]
    assert [p.nodes for p in PathFinder(graph, explicit_weights(graph), max_paths=1,
                                        relations={DIRECTED_BY, DIRECTED_BY_INV}).paths(U1, I2)] == [(0, 2, 6, 3)]


def test_non_collaborative_paths_avoid_other_users(graph: CollaborativeKG) -> None:
    finder = PathFinder(graph, explicit_weights(graph), collaborative=False)
    assert as_set(finder.paths(U1, I2)) == {p for p in U1_I2 if U2 not in p[0]}
    assert as_set(finder.paths(U1, I3)) == {p for p in U1_I3 if U2 not in p[0]}
    for user in (U1, U2):
        for paths in finder.paths_for_items(user, range(4)).values():
            assert all(node >= graph.n_users for p in paths for node in p.nodes[1:])


def test_paths_are_simple_start_with_interact_and_end_at_the_item(graph: CollaborativeKG) -> None:
    finder = PathFinder(graph, explicit_weights(graph), max_len=6)
    source, target = graph.data.edge_index.tolist()
    edges = set(zip(source, graph.data.edge_type.tolist(), target))
    count = 0
    for user in (U1, U2):
        for item, paths in finder.paths_for_items(user, [I1, I2, I3, I4]).items():
            for p in paths:
                count += 1
                assert len(set(p.nodes)) == len(p.nodes)
                assert p.nodes[0] == user and p.nodes[-1] == graph.item_node(item) and p.relations[0] == INTERACT
                assert 2 <= p.length <= 6
                assert all((s, r, t) in edges for s, r, t in zip(p.nodes, p.relations, p.nodes[1:]))
    assert count > 6


def test_unconnected_item_and_training_item(graph: CollaborativeKG) -> None:
    finder = PathFinder(graph)
    assert finder.paths(U1, I4) == [] and finder.paths(U2, I4) == []
    assert finder.paths(U1, I1) == []  # the direct interaction is no path, and u1 has no other way to i1
    assert as_set(finder.paths(U2, I1)) == {
        ((1, 4, 3, 2), (INTERACT, SIMILAR_TO, SIMILAR_TO_INV)),
        ((1, 4, 3, 6, 2), (INTERACT, SIMILAR_TO, DIRECTED_BY, DIRECTED_BY_INV)),
    }


@pytest.mark.parametrize("collaborative", [True, False])
def test_has_path_agrees_with_paths(graph: CollaborativeKG, collaborative: bool) -> None:
    finder = PathFinder(graph, explicit_weights(graph), collaborative=collaborative)
    users, items = (a.ravel() for a in np.meshgrid(np.arange(2), np.arange(4), indexing="ij"))
    for max_len in (2, 3, 4, 5):
        expected = [bool(finder.paths(int(u), int(i), max_len=max_len)) for u, i in zip(users, items)]
        assert finder.has_path(users, items, max_len=max_len).tolist() == expected
    assert finder.has_path(np.array([U1, U1]), np.array([I4, I1]), max_len=4).tolist() == [False, False]


def test_invalid_arguments(graph: CollaborativeKG) -> None:
    finder = PathFinder(graph)
    with pytest.raises(UnknownUserError):
        finder.paths(2, I1)
    with pytest.raises(UnknownItemError):
        finder.paths_for_items(U1, [I1, 4])
    with pytest.raises(UnknownItemError):
        finder.has_path(np.array([U1]), np.array([-1]))
    with pytest.raises(ValueError, match="max_len"):
        finder.paths(U1, I2, max_len=1)
    with pytest.raises(ValueError, match="edge_weight"):
        PathFinder(graph, np.ones(3))
    assert finder.paths_for_items(U1, []) == {}


def _random_graph(seed: int) -> CollaborativeKG:
    rng = np.random.default_rng(seed)
    entities = [f"e{k}" for k in range(4)] + [f"x{k}" for k in range(6)]
    interactions = pd.DataFrame(
        {"user": [f"u{k}" for k in rng.integers(5, size=14)], "item": [f"i{k}" for k in rng.integers(6, size=14)]}
    )
    triples = pd.DataFrame(
        {
            "head": [entities[k] for k in rng.integers(len(entities), size=14)],
            "relation": [f"r{k}" for k in rng.integers(3, size=14)],
            "tail": [entities[k] for k in rng.integers(len(entities), size=14)],
        }
    )
    links = pd.DataFrame({"item": [f"i{k}" for k in range(6)], "entity": [f"x{k}" for k in range(6)]})
    dataset = RecDataset.from_frames("random", interactions, triples, links, item_catalogue=[f"i{k}" for k in range(6)])
    return CollaborativeKG.build(dataset, dataset.interactions)


def _brute_force(
    graph: CollaborativeKG, weight: np.ndarray, user: int, target: int, max_len: int, collaborative: bool
) -> list[tuple[tuple[int, ...], tuple[int, ...], float]]:
    """Every simple path by depth-first search, sorted like PathFinder's output."""
    out: dict[int, list] = {}
    for s, t, r, w in zip(*graph.data.edge_index.tolist(), graph.data.edge_type.tolist(), weight):
        out.setdefault(s, []).append((t, r, w))
    found = []

    def walk(nodes: list[int], relations: list[int], w: float) -> None:
        if nodes[-1] == target:
            if len(relations) >= 2:
                found.append((tuple(nodes), tuple(relations), w))
            return
        if len(relations) < max_len:
            for t, r, edge_weight in out.get(nodes[-1], []):
                if t not in nodes and (collaborative or t >= graph.n_users):
                    walk(nodes + [t], relations + [r], w * edge_weight)

    walk([user], [], 1.0)
    return sorted(found, key=lambda p: (-p[2], len(p[1]), p[0], p[1]))


@pytest.mark.parametrize("seed", range(8))
def test_matches_brute_force_on_random_graphs(seed: int) -> None:
    """Exhaustive and pruned (max_paths = 2) top lists equal a depth-first search, up to length 5."""
    graph = _random_graph(seed)
    weight = np.random.default_rng(seed).uniform(0.1, 1.0, graph.data.edge_index.size(1))
    items = list(range(graph.n_items))
    for collaborative in (True, False):
        every = PathFinder(graph, weight, max_len=5, max_paths=10_000, collaborative=collaborative)
        top2 = PathFinder(graph, weight, max_len=5, max_paths=2, collaborative=collaborative)
        for user in range(graph.n_users):
            all_paths, best = every.paths_for_items(user, items), top2.paths_for_items(user, items)
            reach = every.has_path(np.full(len(items), user), np.array(items), max_len=5)
            for item in items:
                expected = _brute_force(graph, weight, user, graph.item_node(item), 5, collaborative)
                assert [(p.nodes, p.relations) for p in all_paths[item]] == [(n, r) for n, r, _ in expected]
                assert [p.weight for p in all_paths[item]] == pytest.approx([w for *_, w in expected])
                assert [(p.nodes, p.relations) for p in best[item]] == [(n, r) for n, r, _ in expected[:2]]
                assert reach[item] == bool(expected)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("tied", [False, True])
def test_bounded_three_edge_join_keeps_the_exact_top_lists(seed: int, tied: bool,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With max_len 3 and the bound on from the first step, the top-k lists (k = 1, 2, 3) equal a depth-first
    search, also with tied weights at the cut and with the user's own items among the targets."""
    monkeypatch.setattr(paths_module, "_BOUND_FROM", 0)
    graph = _random_graph(seed)
    rng = np.random.default_rng(seed)
    size = graph.data.edge_index.size(1)
    weight = rng.choice([0.25, 0.5, 1.0], size) if tied else rng.uniform(0.1, 1.0, size)
    items = list(range(graph.n_items))
    for collaborative in (True, False):
        for k in (1, 2, 3):
            finder = PathFinder(graph, weight, max_len=3, max_paths=k, collaborative=collaborative)
            for user in range(graph.n_users):
                found = finder.paths_for_items(user, items)
                for item in items:
                    expected = _brute_force(graph, weight, user, graph.item_node(item), 3, collaborative)
                    assert [(p.nodes, p.relations) for p in found[item]] == [(n, r) for n, r, _ in expected[:k]]


def test_the_bound_drops_the_steps_below_the_kth_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """u0 liked i0; u1..u20 liked i0 and i1. The 20 paths u0 → i0 → u_k → i1 weigh w(i0 → u_k) · 0.5 with
    w(i0 → u_k) = k / 100: for the top 1 only the step to u20 is kept, and the path through it is found."""
    monkeypatch.setattr(paths_module, "_BOUND_FROM", 0)
    others = [f"u{k}" for k in range(1, 21)]
    interactions = pd.DataFrame({"user": ["u0", *others, *others], "item": ["i0"] * 21 + ["i1"] * 20})
    dataset = RecDataset.from_frames("star", interactions, pd.DataFrame(columns=["head", "relation", "tail"]),
                                     item_catalogue=["i0", "i1"])
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    user = dataset.users.index("u0")
    i0, i1 = (graph.item_node(dataset.items.index(item)) for item in ("i0", "i1"))
    source, target = graph.data.edge_index.tolist()
    weight = np.array([int(dataset.users.raw(t)[1:]) / 100 if s == i0 and t < graph.n_users else 0.5
                       for s, t in zip(source, target)])
    finder = PathFinder(graph, weight, max_len=3, max_paths=1)
    first = finder._first_forward(user)
    into = finder._first_backward(user, np.array([i1]))
    assert len(finder._extend_forward(first)) == 20  # u0 → i0 → u1..u20
    kept = finder._bounded_forward(first, into, np.array([i1]), 1)
    assert kept.nodes.tolist() == [[user, i0, dataset.users.index("u20")]]
    [path] = finder.paths(user, dataset.items.index("i1"))
    assert path.nodes == (user, i0, dataset.users.index("u20"), i1) and path.weight == pytest.approx(0.5 * 0.2 * 0.5)


def test_padded_puts_blocks_side_by_side_then_pads_with_minus_one() -> None:
    blocks = [np.array([[1, 2], [3, 4]]), np.array([[5], [6]])]
    assert paths_module._padded(blocks, 5).tolist() == [[1, 2, 5, -1, -1], [3, 4, 6, -1, -1]]


def test_path_order_breaks_weight_ties_by_length_then_nodes() -> None:
    """Target 7 first, heaviest first; the two paths of weight 0.5 to target 9: the shorter one, then by nodes."""
    target = np.array([9, 7, 9, 9])
    weight = np.array([0.5, 0.1, 0.5, 0.9])
    lengths = np.array([3, 2, 2, 3])
    nodes = np.array([[0, 2, 5, 9], [0, 3, 7, -1], [0, 4, 9, -1], [0, 1, 6, 9]])
    rels = np.array([[0, 1, 2], [0, 1, -1], [0, 1, -1], [0, 1, 2]])
    assert paths_module._path_order(target, weight, lengths, nodes, rels).tolist() == [1, 3, 2, 0]
    untied = np.array([0.5, 0.1, 0.4, 0.9])
    assert paths_module._path_order(target, untied, lengths, nodes, rels).tolist() == [1, 3, 0, 2]


def test_found_paths_rows_as_paths_keys_and_positive_rows() -> None:
    nodes, relations = np.array([[0, 2, 3, -1], [0, 2, 6, 3]]), np.array([[0, 2, -1], [0, 1, 4]])
    found = paths_module.FoundPaths(nodes, relations, np.array([0.5, 0.0]), np.array([2, 3]))
    assert found.keys() == [((0, 2, 3), (0, 2)), ((0, 2, 6, 3), (0, 1, 4))]
    assert found.paths([1]) == [Path((0, 2, 6, 3), (0, 1, 4), 0.0)]
    assert found.paths() == [Path((0, 2, 3), (0, 2), 0.5), Path((0, 2, 6, 3), (0, 1, 4), 0.0)]
    assert found.positive().keys() == [((0, 2, 3), (0, 2))]
    kept = found.positive()
    assert kept.positive() is kept  # every row positive: itself


def test_a_finder_of_marked_edges_walks_only_them_and_the_interactions(graph: CollaborativeKG) -> None:
    source, target = graph.data.edge_index.tolist()
    relation = graph.data.edge_type.tolist()
    # mark the directed_by edges into Mann (6) and the directed_by⁻¹ edges out of it: i1 → Mann → i2 only
    marked = np.array([(r == DIRECTED_BY and t == 6) or (r == DIRECTED_BY_INV and s == 6)
                       for s, t, r in zip(source, target, relation)])
    assert marked.sum() == 4  # i1 → Mann, i2 → Mann and their inverses
    finder = PathFinder(graph, explicit_weights(graph), collaborative=False, edges=marked)
    assert [(p.nodes, p.weight) for p in finder.paths(U1, I2)] == [((0, 2, 6, 3), 0.5)]
    assert finder.paths(U1, I3) == []  # similar_to is not marked and other users are not walked
    # combined with relations, an edge must pass both
    assert PathFinder(graph, explicit_weights(graph), edges=marked, relations={SIMILAR_TO}).paths(U1, I2) == []
    with pytest.raises(ValueError, match="marks 3 edges"):
        PathFinder(graph, explicit_weights(graph), edges=marked[:3])
