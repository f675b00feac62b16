"""Path quality (Balloccu et al. 2022): LIR, SEP, ETD, LID, SED against hand computations on a toy graph.

The toy graph (β = 1/2 unless said otherwise)::

    interactions  u1: i1@100  i2@200  i3@200  i4@500        u2: i2@10  i4@20  i3@40
    KG            genre g1: i1 i2 i4 i5    genre g2: i3 i6    directed_by d1: i1 i3 i5    directed_by d2: i4
                  i6 sequel_of i2;  i7 has no edge at all

    relation ids  0 interact, 1 directed_by, 2 genre, 3 sequel_of, 4..7 their inverses (fold: r mod 4)
    CKG degrees   users u1 4, u2 3;  items i7 0, i5 2, i6 2, i1 3, i2 4, i3 4, i4 4;  entities d2 1, g2 2, d1 3, g1 4

LIR of u1 (timestamps 100, 200, 200, 500 → 0, 1/4, 1/4, 1): s = 0, 1/8, 3/16 (end of the tie), 19/32;
normalised 0, 6/19, 6/19, 1. LIR of u2 (10, 20, 40 → 0, 1/3, 1): s = 0, 1/6, 7/12 → 0, 2/7, 1.
SEP of entities (1, 2, 3, 4 → 0, 1/3, 2/3, 1): s = 0, 1/6, 5/12, 17/24 → d2 0, g2 4/17, d1 10/17, g1 1.
SEP of items (0, 2, 2, 3, 4, 4, 4 → 0, 1/2, 1/2, 3/4, 1, 1, 1): s = 0, 1/4, 3/8, 9/16, …, 121/128
→ i7 0, i5 = i6 48/121, i1 72/121, i2 = i3 = i4 1. SEP of users: u2 0, u1 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.config import ModelConfig, RunConfig
from kgrec.data.dataset import Interactions, RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.explain.context import sample_users
from kgrec.explain.evaluate import explain_eval
from kgrec.explain.path_quality import (
    PathFacts,
    etd,
    ewma_scores,
    lid,
    lir,
    lir_table,
    n_path_types,
    path_facts,
    path_quality,
    sed,
    sep,
    sep_table,
)
from kgrec.explain.types import Explanation, Path
from kgrec.models.kgrec import KGRec
from kgrec.recommender import Recommender
from tests.models.planted import planted_split_graph

HALF = 0.5


@pytest.fixture(scope="module")
def toy() -> tuple[CollaborativeKG, Interactions]:
    interactions = pd.DataFrame(
        [("u1", "i1", 100), ("u1", "i2", 200), ("u1", "i3", 200), ("u1", "i4", 500),
         ("u2", "i2", 10), ("u2", "i4", 20), ("u2", "i3", 40)],
        columns=["user", "item", "timestamp"],
    )
    triples = pd.DataFrame(
        [(i, "genre", "g1") for i in ("i1", "i2", "i4", "i5")]
        + [(i, "genre", "g2") for i in ("i3", "i6")]
        + [(i, "directed_by", "d1") for i in ("i1", "i3", "i5")]
        + [("i4", "directed_by", "d2"), ("i6", "sequel_of", "i2")],
        columns=["head", "relation", "tail"],
    )
    items = [f"i{n}" for n in range(1, 8)]
    links = pd.DataFrame({"item": items, "entity": items})
    dataset = RecDataset.from_frames("toy", interactions, triples, links, item_catalogue=items)
    return CollaborativeKG.build(dataset, dataset.interactions), dataset.interactions


def node(graph: CollaborativeKG, name: str) -> int:
    """The CKG node of a raw user, item or entity id of the toy."""
    data = graph.dataset
    if name.startswith("u"):
        return data.users.index(name)
    if name.startswith("i"):
        return graph.item_node(data.items.index(name))
    entity = data.entities.index(name)
    return int(graph.entity_nodes.loc[graph.entity_nodes["entity"] == entity, "node"].iloc[0])


def walk(graph: CollaborativeKG, names: str, relations: tuple[int, ...], weight: float = 1.0) -> Path:
    return Path(tuple(node(graph, n) for n in names.split()), relations, weight)


def explanation(
    graph: CollaborativeKG, user: str, item: str, rank: int, paths: tuple[Path, ...] = (), chosen: int | None = None
) -> Explanation:
    data = graph.dataset
    return Explanation(data.users.index(user), data.items.index(item), 1.0 / rank, rank, paths, chosen)


@pytest.fixture(scope="module")
def lists(toy) -> list[list[Explanation]]:
    """u1: d1 path (told by weight: chosen is None), a 2-hop sequel path, an item without path; u2: a
    collaborative path (chosen over a heavier one), two genre paths that repeat g1's type and i3's interaction."""
    graph, _ = toy
    u1 = [
        explanation(graph, "u1", "i5", 1,
                    (walk(graph, "u1 i1 d1 i5", (0, 1, 5), 0.8), walk(graph, "u1 i4 g1 i5", (0, 2, 6), 0.3))),
        explanation(graph, "u1", "i6", 2, (walk(graph, "u1 i2 i6", (0, 7)),), 0),
        explanation(graph, "u1", "i7", 3),
    ]
    u2 = [
        explanation(graph, "u2", "i1", 1,
                    (walk(graph, "u2 i2 g1 i1", (0, 2, 6), 0.9), walk(graph, "u2 i3 u1 i1", (0, 4, 0), 0.5)), 1),
        explanation(graph, "u2", "i5", 2, (walk(graph, "u2 i4 g1 i5", (0, 2, 6)),), 0),
        explanation(graph, "u2", "i6", 3, (walk(graph, "u2 i3 g2 i6", (0, 2, 6)),), 0),
    ]
    return [u1, u2]


def test_the_toy_graph_has_the_drawn_ids(toy) -> None:
    graph, _ = toy
    assert graph.relation_names[:4] == ("interact", "directed_by", "genre", "sequel_of")
    assert graph.num_relations == 8
    assert n_path_types(graph) == 4  # interact, directed_by, genre, sequel_of all end at items


def test_ewma_scores_follow_the_recursion_by_hand() -> None:
    # values 1, 2, 3, 4 → 0, 1/3, 2/3, 1 → s = 0, 1/6, 5/12, 17/24 → 0, 4/17, 10/17, 1; a lone value scores 1
    scores = ewma_scores(np.array([0, 0, 0, 0, 1]), np.array([3, 1, 4, 2, 7]), HALF)
    np.testing.assert_allclose(scores, [10 / 17, 0, 1, 4 / 17, 1])
    # ties share the value at the end of their run: 1, 2, 2, 4 → s = 0, 1/6, 1/4, 5/8 → 0, 2/5, 2/5, 1
    np.testing.assert_allclose(ewma_scores(np.zeros(4), np.array([4, 2, 2, 1]), HALF), [1, 0.4, 0.4, 0])
    np.testing.assert_allclose(ewma_scores(np.zeros(3), np.array([5, 5, 5]), HALF), [1, 1, 1])  # no spread
    with pytest.raises(ValueError, match="beta"):
        ewma_scores(np.zeros(2), np.array([1, 2]), 0.0)


def test_lir_table_is_the_per_user_ewma_of_timestamps(toy) -> None:
    graph, interactions = toy
    table = lir_table(interactions, HALF)
    data = graph.dataset
    expected = {("u1", "i1"): 0, ("u1", "i2"): 6 / 19, ("u1", "i3"): 6 / 19, ("u1", "i4"): 1,
                ("u2", "i2"): 0, ("u2", "i4"): 2 / 7, ("u2", "i3"): 1}
    assert table is not None and len(table) == 7
    for (user, item), value in expected.items():
        assert table[(data.users.index(user), data.items.index(item))] == pytest.approx(value)


def test_sep_table_is_the_ewma_of_degrees_per_kind(toy) -> None:
    graph, _ = toy
    table = sep_table(graph, HALF)
    expected = {"d2": 0, "g2": 4 / 17, "d1": 10 / 17, "g1": 1, "i7": 0, "i5": 48 / 121, "i6": 48 / 121, "i1": 72 / 121,
                "i2": 1, "i3": 1, "i4": 1, "u2": 0, "u1": 1}
    for name, value in expected.items():
        assert table[node(graph, name)] == pytest.approx(value), name


def test_the_default_beta_is_the_reference_code_span_10(toy) -> None:
    # β = 2/11: entities 0, 1/3, 2/3, 1 → s = 0, 2/33, 62/363, 1284/3993, so SEP(g2) = (2/33) / (1284/3993) = 121/642
    graph, _ = toy
    assert sep_table(graph)[node(graph, "g2")] == pytest.approx(121 / 642)
    assert sep_table(graph)[node(graph, "d1")] == pytest.approx((62 / 363) / (1284 / 3993))


def test_path_facts_read_the_told_path(toy, lists) -> None:
    graph, _ = toy
    u1, u2 = lists
    d = graph.dataset
    facts = [path_facts(e, graph) for e in u1 + u2]
    assert facts == [
        PathFacts(d.users.index("u1"), d.items.index("i1"), node(graph, "d1"), 1),  # heaviest path: chosen is None
        PathFacts(d.users.index("u1"), d.items.index("i2"), node(graph, "i2"), 3),  # 2-hop: the shared entity is j
        None,  # no path
        PathFacts(d.users.index("u2"), d.items.index("i3"), node(graph, "u1"), 0),  # collaborative: the other user
        PathFacts(d.users.index("u2"), d.items.index("i4"), node(graph, "g1"), 2),  # genre⁻¹ folds onto genre
        PathFacts(d.users.index("u2"), d.items.index("i3"), node(graph, "g2"), 2),
    ]


def test_per_list_metrics_by_hand(toy, lists) -> None:
    graph, interactions = toy
    lirs, seps = lir_table(interactions, HALF), sep_table(graph, HALF)
    u1, u2 = ([path_facts(e, graph) for e in listed] for listed in lists)
    # u1: linking i1 (0) and i2 (6/19); shared d1 (10/17) and i2 (1); types {directed_by, sequel_of}; i7 has no path
    assert lir(u1, lirs) == pytest.approx(3 / 19)
    assert sep(u1, seps) == pytest.approx(27 / 34)
    assert (etd(u1, 4, 3), lid(u1, 3), sed(u1, 3)) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    # u2: linking i3 (1), i4 (2/7), i3 again; shared u1 (1), g1 (1), g2 (4/17); types {interact, genre}
    assert lir(u2, lirs) == pytest.approx(16 / 21)
    assert sep(u2, seps) == pytest.approx(38 / 51)
    assert (etd(u2, 4), lid(u2, 3), sed(u2, 3)) == pytest.approx((2 / 3, 2 / 3, 1.0))
    # ETD divides by min(k, |Ω|): with two possible types, two distinct types are full diversity
    assert etd(u2, 2, 3) == pytest.approx(1.0)
    # a list without any path: nothing to average, no diversity
    assert lir([None, None], lirs) is None and sep([None], seps) is None
    assert etd([None, None], 4) == 0.0 and lid([None, None], 2) == 0.0 and sed([None, None], 2) == 0.0


def test_path_quality_averages_over_users(toy, lists) -> None:
    graph, interactions = toy
    report = path_quality(lists, graph, interactions, 3, HALF)
    assert report["lir"] == pytest.approx((3 / 19 + 16 / 21) / 2)
    assert report["sep"] == pytest.approx((27 / 34 + 38 / 51) / 2)
    assert report["etd"] == pytest.approx(2 / 3)
    assert report["lid"] == pytest.approx(2 / 3)
    assert report["sed"] == pytest.approx((2 / 3 + 1) / 2)
    assert (report["users"], report["path_types"], report["beta"]) == (2, 4, HALF)


def test_lir_is_none_without_timestamps(toy, lists) -> None:
    graph, interactions = toy
    untimed = Interactions(interactions.user, interactions.item)
    assert lir_table(untimed) is None
    report = path_quality(lists, graph, untimed, 3, HALF)
    assert report["lir"] is None and report["sep"] == pytest.approx((27 / 34 + 38 / 51) / 2)
    assert path_quality(lists, graph, None, 3, HALF)["lir"] is None


def test_explain_eval_reports_path_quality_on_the_planted_dataset() -> None:
    dataset, split, graph = planted_split_graph()
    torch.manual_seed(0)
    config = RunConfig(model=ModelConfig(dim=8, layers=2, attention=False))
    rec = Recommender(config, dataset, split, graph, KGRec(graph, config.model))
    report = explain_eval(rec.context, n_users=6, k=5, seed=0, progress=False)
    quality = report["path_quality"]
    assert set(quality) == {"lir", "sep", "etd", "lid", "sed", "users", "path_types", "beta"}
    assert quality["lir"] is None  # the planted dataset has no timestamps
    assert quality["users"] == 6 and quality["path_types"] == 2  # interact and in_cluster end at items
    # the same lists measured directly give the same numbers
    lists = [rec.recommend(int(u), 5, explain=True) for u in sample_users(rec.context, 6, 0)]
    again = path_quality(lists, graph, split.train, 5)
    for key in ("sep", "etd", "lid", "sed"):
        assert quality[key] == pytest.approx(again[key])
        assert 0.0 < quality[key] <= 1.0
