"""Rule mining on a toy graph drawn by hand: every measure below is counted on the picture, not by the code.

Items i1..i6 (i6 has no KG entity), directors A and B, genre G, sequels::

    directed_by:  i1 i2 i3 -> A      i4 i5 -> B        has_genre: i1 i5 -> G
    sequel_of:    i4 -> i1           i5 -> i3

    train:  u1 {i1, i2, i4}   u2 {i2, i3}   u3 {i3, i5}   u4 {i6}
    valid:  u1 i3             test: u2 i1, u3 i4

Ordered co-liked pairs (train): 12 21 14 41 24 42 23 32 35 53 -> 10 of 6·5 = 30, base rate 1/3.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kgrec.config import ExplainConfig
from kgrec.data.dataset import Interactions, RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.data.load import load_dataset
from kgrec.data.split import split
from kgrec.errors import ConfigError, DatasetError, KgrecError, UnknownIdError
from kgrec.explain.rules import (
    BetterThanChance,
    OutdatedRulesError,
    PopularityNull,
    RuleSet,
    _Walks,
    chance_measures,
    colike_threshold,
    coliked_matrix,
    constant_rules,
    item_popularity_counts,
    load_or_mine_rules,
    mine_rules,
    pattern_matrix,
    rule_features,
    rule_label,
    rule_precision,
)
from kgrec.explain.types import Rule
from tests.conftest import SHARED_DATASETS, require_shared

# CKG relation ids of the toy graph (asserted in test_relation_ids_of_the_toy_graph)
DIRECTED, GENRE, SEQUEL = 1, 2, 3
DIRECTED_INV, GENRE_INV, SEQUEL_INV = 5, 6, 7
SAME_DIRECTOR = (DIRECTED, DIRECTED_INV)
SEQUEL_THEN_SAME_DIRECTOR = (SEQUEL, DIRECTED, DIRECTED_INV)
SAME_GENRE = (GENRE, GENRE_INV)

def item(name: str) -> int:
    """Item id of i1..i6 (natural order): i1 -> 0."""
    return int(name[1:]) - 1


def user(name: str) -> int:
    return int(name[1:]) - 1


@pytest.fixture(scope="module")
def toy() -> tuple[RecDataset, Interactions, Interactions, Interactions]:
    interactions = pd.DataFrame(
        {
            "user": ["u1", "u1", "u1", "u2", "u2", "u3", "u3", "u4", "u1", "u2", "u3"],
            "item": ["i1", "i2", "i4", "i2", "i3", "i3", "i5", "i6", "i3", "i1", "i4"],
        }
    )
    parts = np.array(["train"] * 8 + ["valid", "test", "test"])
    triples = pd.DataFrame(
        [
            ("e1", "directed_by", "A"), ("e2", "directed_by", "A"), ("e3", "directed_by", "A"),
            ("e4", "directed_by", "B"), ("e5", "directed_by", "B"),
            ("e1", "has_genre", "G"), ("e5", "has_genre", "G"),
            ("e4", "sequel_of", "e1"), ("e5", "sequel_of", "e3"),
        ],
        columns=["head", "relation", "tail"],
    )
    links = pd.DataFrame({"item": [f"i{k}" for k in range(1, 6)], "entity": [f"e{k}" for k in range(1, 6)]})
    dataset = RecDataset.from_frames("toy", interactions, triples, links, item_catalogue=[f"i{k}" for k in range(1, 7)])
    frame = dataset.interactions
    take = lambda part: frame.take(parts == part)  # noqa: E731
    return dataset, take("train"), take("valid"), take("test")


@pytest.fixture(scope="module")
def graph(toy) -> CollaborativeKG:
    dataset, train, _, _ = toy
    return CollaborativeKG.build(dataset, train)


@pytest.fixture(scope="module")
def all_rules(toy, graph) -> RuleSet:
    return mine_rules(graph, toy[1], max_len=3, min_support=0, min_confidence=0.0, max_rules=10_000, distinct=False)


def pairs(*names: str) -> set[tuple[int, int]]:
    """'41' -> (item i4, item i1)."""
    return {(item(f"i{a}"), item(f"i{b}")) for a, b in names}


def nonzero_pairs(matrix) -> set[tuple[int, int]]:
    coo = matrix.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist()))


# ---- the toy graph ---------------------------------------------------------------------------------------
def test_relation_ids_of_the_toy_graph(toy, graph) -> None:
    dataset, train, valid, test = toy
    assert graph.relation_names == (
        "interact", "directed_by", "has_genre", "sequel_of",
        "interact⁻¹", "directed_by⁻¹", "has_genre⁻¹", "sequel_of⁻¹",
    )
    assert graph.kg_relations() == [1, 2, 3, 5, 6, 7]
    assert dataset.items.raw_ids.tolist() == ["i1", "i2", "i3", "i4", "i5", "i6"]
    assert (len(train), len(valid), len(test)) == (8, 1, 2)
    assert list(zip(test.user.tolist(), test.item.tolist())) == [(user("u2"), item("i1")), (user("u3"), item("i4"))]


def test_coliked_matrix_counts_training_pairs_only(toy, graph) -> None:
    dataset, train, _, _ = toy
    coliked = coliked_matrix(graph, train)
    assert coliked.dtype == bool and coliked.shape == (6, 6)
    assert nonzero_pairs(coliked) == pairs("12", "21", "14", "41", "24", "42", "23", "32", "35", "53")
    assert coliked.diagonal().sum() == 0  # u4 liked i6 alone: no pair, and never (i6, i6)


def test_colike_threshold_keeps_the_base_rate_at_most_the_given_share() -> None:
    # 4 items, 12 ordered pairs; co-liked by 5, 5, 3, 3, 1 and 1 users
    counts = sp.csr_matrix((np.array([5, 5, 3, 3, 1, 1], dtype=np.float32), ([0, 1, 0, 2, 1, 3], [1, 0, 2, 0, 3, 1])), shape=(4, 4))
    assert colike_threshold(counts, 4, max_rate=0.25) == 4  # at most 3 pairs: those of 5 users (≥ 3 would be 4)
    assert colike_threshold(counts, 4, max_rate=1 / 3) == 2  # at most 4 pairs: the 5s and the 3s
    assert colike_threshold(counts, 4, max_rate=0.5) == 1  # all 6 co-liked pairs already fit


def test_a_co_like_threshold_changes_the_rule_head(toy, graph, tmp_path) -> None:
    # every co-liked toy pair has one user in common: with two required there is no co-liked pair left
    assert coliked_matrix(graph, toy[1], min_users=2).nnz == 0
    strict = mine_rules(graph, toy[1], max_len=2, min_support=0, min_confidence=0.0, min_colikes=2)
    assert (strict.min_colikes, strict.n_coliked, strict.base_rate) == (2, 0, 0.0)
    # the automatic threshold keeps ≤ 5 % of the 30 ordered pairs (1 pair): every count is 1, so τ = 2
    assert mine_rules(graph, toy[1], max_len=2, min_colikes=None).min_colikes == 2
    strict.save(tmp_path / "rules.json")
    assert RuleSet.load(tmp_path / "rules.json", graph).min_colikes == 2  # saved with the rules


# ---- pattern matrices ------------------------------------------------------------------------------------
def test_pattern_matrices_exact_contents(graph) -> None:
    sequel = pattern_matrix(graph, (SEQUEL,))
    assert sequel.shape == (6, 6)
    assert sequel.toarray().tolist() == [
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0],  # i4 is a sequel of i1
        [0, 0, 1, 0, 0, 0],  # i5 is a sequel of i3
        [0, 0, 0, 0, 0, 0],
    ]
    assert pattern_matrix(graph, SAME_DIRECTOR).toarray().tolist() == [
        [0, 1, 1, 0, 0, 0],
        [1, 0, 1, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 1, 0],
        [0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ]
    # j -sequel_of-> k, then k shares a director with i: the walk may come back to k itself (i4 -> i1 -> A -> i1)
    assert nonzero_pairs(pattern_matrix(graph, SEQUEL_THEN_SAME_DIRECTOR)) == pairs("41", "42", "43", "51", "52", "53")
    assert set(pattern_matrix(graph, SAME_DIRECTOR).data.tolist()) == {1.0}


def test_pattern_matrix_never_pairs_an_item_with_itself(graph) -> None:
    # i4 -sequel_of-> i1 -sequel_of⁻¹-> i4 only returns to its start: no pair j ≠ i
    assert pattern_matrix(graph, (SEQUEL, SEQUEL_INV)).nnz == 0
    for pattern in [SAME_DIRECTOR, SAME_GENRE, (DIRECTED, DIRECTED_INV, SEQUEL), (SEQUEL, SEQUEL_INV, SEQUEL)]:
        assert pattern_matrix(graph, pattern).diagonal().sum() == 0


def test_pattern_matrix_rejects_interact_and_unknown_relations(graph) -> None:
    for pattern in [(), (0,), (4,), (DIRECTED, 4), (8,), (-1,)]:
        with pytest.raises(ConfigError, match="KG relation ids"):
            pattern_matrix(graph, pattern)


# ---- measures --------------------------------------------------------------------------------------------
def test_measures_counted_by_hand(all_rules) -> None:
    assert (all_rules.n_items, all_rules.n_coliked) == (6, 10)
    assert all_rules.base_rate == pytest.approx(10 / 30)
    rules = all_rules.by_pattern()
    # length 1: connected 41 53, both co-liked
    sequel = rules[(SEQUEL,)]
    assert (sequel.support, sequel.connected) == (2, 2)
    assert (sequel.confidence, sequel.head_coverage, sequel.lift) == pytest.approx((1.0, 0.2, 3.0))
    # length 2, same director: 12 13 21 23 31 32 45 54; co-liked 12 21 23 32
    same = rules[SAME_DIRECTOR]
    assert (same.support, same.connected) == (4, 8)
    assert (same.confidence, same.head_coverage, same.lift) == pytest.approx((0.5, 0.4, 1.5))
    # length 3: 41 42 43 51 52 53; co-liked 41 42 53
    chain = rules[SEQUEL_THEN_SAME_DIRECTOR]
    assert (chain.support, chain.connected) == (3, 6)
    assert (chain.confidence, chain.head_coverage, chain.lift) == pytest.approx((0.5, 0.3, 1.5))
    # same genre: 15 51, neither co-liked -> kept only because min_support = 0
    genre = rules[SAME_GENRE]
    assert (genre.support, genre.connected, genre.confidence, genre.lift) == (0, 2, 0.0, 0.0)
    # patterns that connect no pair j ≠ i are never rules
    assert (SEQUEL, SEQUEL_INV) not in rules and (DIRECTED,) not in rules
    assert all(rule.test_precision is None for rule in all_rules.rules)


def brute_force(graph: CollaborativeKG, train: Interactions, max_len: int) -> dict[tuple[int, ...], tuple[int, int]]:
    """(support, connected) of every pattern, by walking the edge list in Python (the slow, obvious way)."""
    n_users, n_items = graph.n_users, graph.n_items
    allowed = set(graph.kg_relations())
    out: dict[int, list[tuple[int, int]]] = {}
    for (src, dst), rel in zip(graph.data.edge_index.T.tolist(), graph.data.edge_type.tolist()):
        if rel in allowed:
            out.setdefault(src, []).append((rel, dst))
    liked: dict[int, set[int]] = {}
    for u, i in zip(train.user.tolist(), train.item.tolist()):
        liked.setdefault(u, set()).add(i)
    coliked = {(j, i) for items in liked.values() for j in items for i in items if j != i}
    connected: dict[tuple[int, ...], set[tuple[int, int]]] = {}
    for start in range(n_users, n_users + n_items):
        frontier = {((), start)}
        for _ in range(max_len):
            frontier = {((*p, rel), dst) for p, node in frontier for rel, dst in out.get(node, [])}
            for pattern, node in frontier:
                if n_users <= node < n_users + n_items and node != start:
                    connected.setdefault(pattern, set()).add((start - n_users, node - n_users))
    return {p: (len(c & coliked), len(c)) for p, c in connected.items()}


def test_mining_matches_a_brute_force_walk_enumeration(toy, graph, all_rules) -> None:
    expected = brute_force(graph, toy[1], max_len=3)
    assert {r.pattern: (r.support, r.connected) for r in all_rules.rules} == expected
    for rule in all_rules.rules:
        assert rule.confidence == pytest.approx(rule.support / rule.connected)
        assert rule.head_coverage == pytest.approx(rule.support / 10)
        assert rule.lift == pytest.approx(rule.confidence * 3)
    assert max(len(r.pattern) for r in all_rules.rules) == 3
    length_one = mine_rules(graph, toy[1], max_len=1, min_support=0, min_confidence=0)
    assert [r.pattern for r in length_one.rules] == [(SEQUEL,), (SEQUEL_INV,)]
    with_bar = mine_rules(graph, toy[1], max_len=3, min_support=0, min_confidence=0.0, max_rules=10_000, progress=True, distinct=False)
    assert with_bar == all_rules


def test_distinct_keeps_one_pattern_per_set_of_connected_pairs(toy, graph, all_rules) -> None:
    distinct = mine_rules(graph, toy[1], max_len=3, min_support=0, min_confidence=0.0, max_rules=10_000)
    pair_sets = {r.pattern: frozenset(zip(*pattern_matrix(graph, r.pattern).nonzero())) for r in all_rules.rules}
    kept = [pair_sets[r.pattern] for r in distinct.rules]
    assert len(kept) == len(set(kept)) == len(set(pair_sets.values()))  # one rule per distinct pair set
    assert len(distinct.rules) < len(all_rules.rules)  # the toy graph has patterns with equal pair sets
    for rule in distinct.rules:  # the survivor of each group is its shortest, then first, pattern
        group = [p for p, pairs in pair_sets.items() if pairs == pair_sets[rule.pattern]]
        assert rule.pattern == min(group, key=lambda p: (len(p), p))


def test_rules_are_sorted_by_confidence_then_support_then_pattern(all_rules) -> None:
    keys = [(-r.confidence, -r.support, r.pattern) for r in all_rules.rules]
    assert keys == sorted(keys)
    assert all_rules.rules[0].pattern == (SEQUEL,)  # confidence 1, support 2 beats (SEQUEL⁻¹,) with the same measures
    assert all_rules.by_pattern()[(SEQUEL_INV,)].support == 2


def test_thresholds_and_max_rules(toy, graph, all_rules) -> None:
    train = toy[1]
    kept = mine_rules(graph, train, min_support=3, min_confidence=0.5, distinct=False)
    expected = [r for r in all_rules.rules if r.support >= 3 and r.confidence >= 0.5]
    assert list(kept.rules) == expected
    assert SAME_DIRECTOR in kept.by_pattern() and SEQUEL_THEN_SAME_DIRECTOR in kept.by_pattern()
    assert (SEQUEL,) not in kept.by_pattern()  # support 2 < 3
    strict = mine_rules(graph, train, min_support=1, min_confidence=0.51, distinct=False)
    assert SAME_DIRECTOR not in strict.by_pattern() and (SEQUEL,) in strict.by_pattern()
    assert all(r.confidence >= 0.51 for r in strict.rules)
    top2 = mine_rules(graph, train, min_support=0, min_confidence=0.0, max_rules=2, distinct=False)
    assert top2.rules == all_rules.rules[:2]
    assert mine_rules(graph, train, min_support=0, min_confidence=0.0, max_rules=0).rules == ()


def test_valid_and_test_interactions_are_never_used(toy, graph) -> None:
    dataset, train, _, _ = toy
    rules = mine_rules(graph, train, min_support=0, min_confidence=0.0).by_pattern()
    assert rules[SAME_DIRECTOR].support == 4
    # leaking valid (u1-i3) and test (u2-i1, u3-i4) would make 13 31 34 43 45 54 co-liked too
    everything = dataset.interactions
    leaked = mine_rules(CollaborativeKG.build(dataset, everything), everything, min_support=0, min_confidence=0.0)
    assert leaked.by_pattern()[SAME_DIRECTOR].support == 8
    assert (leaked.n_coliked, mine_rules(graph, train).n_coliked) == (16, 10)


def test_bad_parameters_are_config_errors(toy, graph) -> None:
    for options in [{"max_len": 0}, {"min_support": -1}, {"min_confidence": 1.5}, {"max_rules": -1}]:
        with pytest.raises(ConfigError):
            mine_rules(graph, toy[1], **options)


# ---- rules as predictors and features --------------------------------------------------------------------
def three_rules(all_rules: RuleSet) -> RuleSet:
    by = all_rules.by_pattern()
    return replace(all_rules, rules=(by[(SEQUEL,)], by[SAME_DIRECTOR], by[SEQUEL_THEN_SAME_DIRECTOR]))


def test_rule_precision_on_the_test_split(toy, graph, all_rules) -> None:
    _, train, _, test = toy
    measured, overall = rule_precision(three_rules(all_rules), graph, train, test)
    # test users u2 {i2 i3} (test i1) and u3 {i3 i5} (test i4):
    #   sequel_of: u2 nothing; u3 i5 -> i3, a training item        -> no prediction
    #   same director: u2 -> {i1}, hit; u3 -> {i1 i2 i4}, hit i4     -> 2 / 4
    #   sequel, same director: u2 nothing; u3 i5 -> {i1 i2}, no hit  -> 0 / 2
    assert [r.test_precision for r in measured.rules] == [None, 0.5, 0.0]
    assert overall == pytest.approx(2 / 6)
    assert [replace(r, test_precision=None) for r in measured.rules] == list(three_rules(all_rules).rules)
    empty = Interactions(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    none, zero = rule_precision(three_rules(all_rules), graph, train, empty)
    assert [r.test_precision for r in none.rules] == [None, None, None] and zero == 0.0


def test_rule_features_count_the_users_reasons(toy, graph, all_rules) -> None:
    train = toy[1]
    users = np.array([user(u) for u in ["u1", "u1", "u3", "u2", "u4", "u3"]])
    items = np.array([item(i) for i in ["i3", "i1", "i1", "i1", "i1", "i3"]])
    features = rule_features(three_rules(all_rules), graph, train, users, items)
    assert features.dtype == np.float64
    # columns: sequel_of, same director, sequel then same director
    assert features.tolist() == [
        [0, 2, 1],  # u1 {i1 i2 i4} -> i3: i1, i2 same director; i4 sequel of i1 (director A)
        [1, 1, 1],  # u1 -> i1: i4 is its sequel; i2 same director (i1 itself does not count)
        [0, 1, 1],  # u3 {i3 i5} -> i1: i3 same director; i5 sequel of i3 (director A)
        [0, 2, 0],  # u2 {i2 i3} -> i1
        [0, 0, 0],  # u4 {i6}: no KG at all
        [1, 0, 1],  # u3 -> i3: i5 is its sequel
    ]
    assert rule_features(three_rules(all_rules), graph, train, users[:0], items[:0]).shape == (0, 3)
    with pytest.raises(UnknownIdError):
        rule_features(three_rules(all_rules), graph, train, np.array([0]), np.array([6]))
    with pytest.raises(ValueError):
        rule_features(three_rules(all_rules), graph, train, np.array([0, 1]), np.array([0]))


def test_rules_from_another_graph_are_refused(toy, all_rules, five_node_dataset) -> None:
    other = CollaborativeKG.build(five_node_dataset, five_node_dataset.interactions)
    with pytest.raises(ConfigError, match="items"):
        rule_features(all_rules, other, five_node_dataset.interactions, np.array([0]), np.array([0]))


# ---- persistence -----------------------------------------------------------------------------------------
def test_save_load_round_trip_with_names(tmp_path, toy, graph, all_rules) -> None:
    measured, _ = rule_precision(three_rules(all_rules), graph, toy[1], toy[3])
    path = tmp_path / "out" / "rules.json"
    measured.save(path)
    assert RuleSet.load(path) == measured
    assert RuleSet.load(path, graph=graph) == measured
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "kgrec-rules" and document["relation_names"][DIRECTED_INV] == "directed_by⁻¹"
    assert document["rules"][1]["pattern_names"] == ["directed_by", "directed_by⁻¹"]
    assert measured.label(SEQUEL_THEN_SAME_DIRECTOR) == "sequel_of → directed_by → directed_by⁻¹"
    assert rule_label(graph.relation_names, SAME_DIRECTOR) == "directed_by → directed_by⁻¹"
    assert [p.name for p in path.parent.iterdir()] == ["rules.json"]  # no temporary file left behind


def rules_json(**changes) -> str:
    """A valid one-rule file with some keys changed (None deletes the key)."""
    rule = {"pattern": [1], "support": 1, "connected": 1, "confidence": 1, "head_coverage": 1, "lift": 1,
            "popularity_lift": 1, "p_value": 0.5}
    document = {
        "format": "kgrec-rules", "version": 2, "n_items": 6, "n_coliked": 1, "base_rate": 0.1,
        "relation_names": ["interact", "a", "interact⁻¹", "a⁻¹"], "rules": [rule], "constant_rules": [],
    }
    rule.update(changes.pop("rule", {}))
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not None})


@pytest.mark.parametrize(
    "content",
    [
        rules_json()[:40],  # truncated
        '["a list"]',
        rules_json(format="something-else"),
        rules_json(version=99),
        rules_json(n_items=None),
        rules_json(rules=[{"pattern": [1]}]),
        rules_json(rule={"pattern": [5]}),  # no relation 5
        rules_json(rule={"pattern": []}),
        rules_json(rule={"support": "many"}),
        rules_json(rule={"support": 1.5}),
        rules_json(base_rate=float("nan")),
        rules_json(constant_rules=None),  # a version-2 file lists its rules with a constant, if only []
        rules_json(rule={"constant": 4}),  # a rule with a constant among the pattern rules
        rules_json(rule={"popularity_lift": None, "p_value": None},  # and a constant rule of one relation
                   constant_rules=[{"pattern": [1], "support": 1, "connected": 1, "confidence": 1, "head_coverage": 1,
                                    "lift": 1, "popularity_lift": 1, "p_value": 0.5, "constant": 4}]),
    ],
)
def test_corrupt_rules_file_is_a_dataset_error_naming_it(tmp_path, content: str) -> None:
    path = tmp_path / "rules.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        RuleSet.load(path)
    assert str(path) in str(caught.value) and isinstance(caught.value, KgrecError)


def test_the_valid_base_of_those_files_loads(tmp_path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(rules_json(), encoding="utf-8")
    loaded = RuleSet.load(path)
    assert loaded.rules == (
        Rule((1,), support=1, connected=1, confidence=1.0, head_coverage=1.0, lift=1.0, popularity_lift=1.0, p_value=0.5),
    )
    assert loaded.constants == () and loaded.constant_names == {}
    assert (loaded.n_items, loaded.n_coliked, loaded.base_rate, loaded.label((1, 3))) == (6, 1, 0.1, "a → a⁻¹")


def test_missing_or_incompatible_rules_file(tmp_path, all_rules, five_node_dataset) -> None:
    with pytest.raises(DatasetError, match="not found"):
        RuleSet.load(tmp_path / "nope.json")
    path = tmp_path / "rules.json"
    path.write_bytes(b"\xff\xfe\x00 not UTF-8")
    with pytest.raises(DatasetError, match="rules.json"):
        RuleSet.load(path)
    all_rules.save(path)
    other = CollaborativeKG.build(five_node_dataset, five_node_dataset.interactions)
    with pytest.raises(DatasetError, match=r"rules\.json.*items"):
        RuleSet.load(path, graph=other)


# ---- a real dataset --------------------------------------------------------------------------------------
def test_moviekg_same_director_rule(monkeypatch, tmp_path) -> None:
    require_shared("moviekg-omdb")
    monkeypatch.setenv("KGREC_DATA_DIR", str(SHARED_DATASETS))
    monkeypatch.setenv("KGREC_CACHE_DIR", str(tmp_path / "cache"))
    dataset = load_dataset("moviekg-omdb", download=False)
    parts = split(dataset, scheme="ratio", seed=2026)
    graph = CollaborativeKG.build(dataset, parts.train)
    rules = mine_rules(graph, parts.train)
    names = graph.relation_names
    same_director = (names.index("directed_by"), names.index("directed_by⁻¹"))
    rule = rules.by_pattern()[same_director]
    assert 5 <= rule.support <= rule.connected
    assert rule.confidence == pytest.approx(rule.support / rule.connected)
    assert rule.head_coverage == pytest.approx(rule.support / rules.n_coliked)
    assert rule.lift > 1.2  # same-director films are co-liked clearly more often than random pairs
    shared_actor = rules.by_pattern()[(names.index("acted_by"), names.index("acted_by⁻¹"))]
    assert shared_actor.lift > 1.2
    same_genre = rules.by_pattern()[(names.index("has_genre"), names.index("has_genre⁻¹"))]
    assert same_genre.connected > rule.connected and same_genre.confidence < rule.confidence
    assert {same_director, shared_actor.pattern} <= {r.pattern for r in rules.rules[:4]}


# ---- chance: the popularity null -------------------------------------------------------------------------
# six items, popularity 5 1 3 1 4 1: sorted (ties by id) i1 i3 i5 | i2 i4 i0 -> strata of two, the tie of
# popularity 1 cut between i3 and i5
NULL_POPULARITY = np.array([5, 1, 3, 1, 4, 1])
# ordered co-liked pairs (j, i), deliberately not symmetric: (4, 5) without (5, 4), (1, 2) without (2, 1)
NULL_PAIRS = [(0, 4), (4, 0), (0, 2), (2, 0), (1, 3), (3, 1), (4, 5), (2, 4), (4, 2), (1, 2)]


def drawn_matrix(entries: list[tuple[int, int]], size: int = 6) -> sp.csr_matrix:
    rows, cols = zip(*entries)
    return sp.csr_matrix((np.ones(len(entries), dtype=bool), (rows, cols)), shape=(size, size))


def drawn_null() -> PopularityNull:
    return PopularityNull.fit(drawn_matrix(NULL_PAIRS), NULL_POPULARITY, strata=3)


def test_popularity_null_strata_and_rates_by_hand() -> None:
    null = drawn_null()
    # strata: S0 = {1, 3}, S1 = {5, 2}, S2 = {4, 0}
    assert null.stratum.tolist() == [2, 0, 1, 0, 2, 1]
    # co-liked pairs per (stratum of j, stratum of i): (1,3) (3,1) -> [0,0] 2; (1,2) -> [0,1] 1;
    # (2,0) (2,4) -> [1,2] 2; (0,2) (4,5) (4,2) -> [2,1] 3; (0,4) (4,0) -> [2,2] 2.
    # possible ordered pairs j != i: 2·2 − 2 = 2 within a stratum, 2·2 = 4 between two
    assert null.rate == pytest.approx(np.array([[2 / 2, 1 / 4, 0], [0, 0 / 2, 2 / 4], [0, 3 / 4, 2 / 2]]))


def test_popularity_null_of_a_single_stratum_is_the_base_rate() -> None:
    null = PopularityNull.fit(drawn_matrix(NULL_PAIRS), NULL_POPULARITY, strata=1)
    assert null.stratum.tolist() == [0] * 6 and null.rate == pytest.approx(np.array([[10 / 30]]))


def test_expected_co_likes_of_a_pairs_matrix_by_hand() -> None:
    null = drawn_null()
    # (1, 0): rate[0, 2] = 0; (3, 5): rate[0, 1] = 1/4; (5, 4): rate[1, 2] = 1/2; (0, 4): rate[2, 2] = 1
    assert null.expected(drawn_matrix([(1, 0), (3, 5), (5, 4), (0, 4)])) == pytest.approx(1.75)
    assert null.expected(sp.csr_matrix((6, 6))) == 0.0


def test_expected_blocks_leave_out_the_pair_of_an_item_with_itself() -> None:
    null = drawn_null()
    left = drawn_matrix([(0, 0), (0, 2), (1, 0), (1, 4)], size=6)[:2]
    right = drawn_matrix([(0, 4), (0, 5), (1, 4), (1, 1)], size=6)[:2]
    expected = null.expected_blocks(left, right)
    # row 0: j in {0, 2}, i in {4, 5}: (0,4) 1 + (0,5) 3/4 + (2,4) 1/2 + (2,5) 0 = 2.25
    # row 1: j in {0, 4}, i in {4, 1}: (0,4) 1 + (0,1) 0 + (4,1) 0; (4,4) is no pair (its rate[2,2] = 1 left out)
    assert expected.tolist() == pytest.approx([2.25, 1.0])


def test_chance_measures_by_hand() -> None:
    lift, p_value = chance_measures(3, 1.0)
    assert float(lift) == pytest.approx(3.0)
    assert float(p_value) == pytest.approx(1 - math.exp(-1) * (1 + 1 + 1 / 2))  # P(X ≥ 3), X ~ Poisson(1)
    lift, p_value = chance_measures(np.array([0, 0, 2]), np.array([1.5, 0.0, 0.5]))
    assert lift.tolist() == pytest.approx([0.0, 0.0, 4.0])
    assert p_value.tolist() == pytest.approx([1.0, 1.0, 1 - math.exp(-0.5) * 1.5])  # no support: p = 1


# ---- what is better than chance --------------------------------------------------------------------------
def measured(support: int = 5, lift: float = 1.5, popularity_lift: float | None = 1.3, p_value: float | None = 0.01) -> Rule:
    return Rule((1, 5), support=support, connected=10, confidence=0.5, head_coverage=0.1, lift=lift,
                popularity_lift=popularity_lift, p_value=p_value)


def test_better_than_chance_admits_at_each_boundary() -> None:
    bar = BetterThanChance(min_support=5, min_lift=1.5, min_popularity_lift=1.3, max_p_value=0.01)
    assert bar.admits(measured())  # every value exactly at its bound passes
    assert not bar.admits(measured(support=4))
    assert not bar.admits(measured(lift=1.49))
    assert not bar.admits(measured(popularity_lift=1.29))
    assert not bar.admits(measured(p_value=0.0101))
    # a rule built in code, without popularity measures, is judged on support and lift alone
    assert bar.admits(measured(popularity_lift=None, p_value=None))
    assert bar.admits(measured(popularity_lift=None, p_value=0.5)) is False
    assert not bar.admits(measured(lift=1.4, popularity_lift=None, p_value=None))


def test_better_than_chance_of_a_config_or_a_mapping_and_in_words() -> None:
    config = ExplainConfig(min_support=7, min_lift=2.0, min_popularity_lift=1.1, max_p_value=0.05)
    assert BetterThanChance.of(config) == BetterThanChance(7, 2.0, 1.1, 0.05)
    saved = {"min_support": "3", "min_lift": 1, "min_popularity_lift": 1.25, "max_p_value": 0.001, "other": 1}
    bar = BetterThanChance.of(saved)
    assert bar == BetterThanChance(3, 1.0, 1.25, 0.001) and type(bar.min_support) is int
    assert BetterThanChance.of(ExplainConfig()) == BetterThanChance()
    assert BetterThanChance().describe() == "support ≥ 5, lift ≥ 1.5, popularity lift ≥ 1.3 and p ≤ 0.01"
    assert bar.describe() == "support ≥ 3, lift ≥ 1, popularity lift ≥ 1.25 and p ≤ 0.001"


def test_tellable_keys_pattern_and_constant_rules_by_rule_key() -> None:
    pattern = measured()
    weak = replace(measured(), pattern=(5, 1), lift=1.0)
    constant = replace(measured(), constant=9)
    failing = replace(measured(), constant=10, p_value=0.2)
    rules = RuleSet((pattern, weak), 6, 10, 0.1, constants=(constant, failing))
    assert rules.tellable(BetterThanChance()) == {((1, 5), None): pattern, ((1, 5), 9): constant}


# ---- rules with a constant -------------------------------------------------------------------------------
# items i1..i6; category C (named) holds i1 i2 i3 twice over (in_category and the parallel subject), category D
# (named) holds i4 i5 i6.
#     train: u1 {i1 i2}  u2 {i1 i3}  u3 {i4 i5}  u4 {i6}  u5 {i2}  u6 {i6}
# co-liked ordered pairs: 12 21 13 31 45 54 -> 6 of 30, base rate 1/5.
# popularity i1..i6 = 2 2 1 1 1 2: two strata S0 = {i3 i4 i5}, S1 = {i1 i2 i6};
#     co-liked between strata: [0,0] 45 54 = 2 of 6, [0,1] 31 = 1 of 9, [1,0] 13 = 1 of 9, [1,1] 12 21 = 2 of 6
CONSTANT_RATE = [[1 / 3, 1 / 9], [1 / 9, 1 / 3]]


@pytest.fixture(scope="module")
def categories() -> tuple[CollaborativeKG, Interactions, dict[str, int]]:
    interactions = pd.DataFrame({
        "user": ["u1", "u1", "u2", "u2", "u3", "u3", "u4", "u5", "u6"],
        "item": ["i1", "i2", "i1", "i3", "i4", "i5", "i6", "i2", "i6"],
    })
    triples = pd.DataFrame(
        [(f"i{k}", relation, "C") for relation in ("in_category", "subject") for k in (1, 2, 3)]
        + [(f"i{k}", "in_category", "D") for k in (4, 5, 6)],
        columns=["head", "relation", "tail"],
    )
    links = pd.DataFrame({"item": [f"i{k}" for k in range(1, 7)], "entity": [f"i{k}" for k in range(1, 7)]})
    dataset = RecDataset.from_frames(
        "categories", interactions, triples, links, item_names={f"i{k}": f"Film {k}" for k in range(1, 7)},
        entity_names={"C": "Category:Heist films", "D": "Category:Dramas"},
    )
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    entity_node = graph.entity_nodes.set_index("entity")["node"]
    ids = {name: int(entity_node.loc[dataset.entities.index(name)]) for name in ("C", "D")}
    names = graph.relation_names
    ids |= {name: names.index(name) for name in ("in_category", "subject", "in_category⁻¹", "subject⁻¹")}
    assert [dataset.items.index(f"i{k}") for k in range(1, 7)] == list(range(6))
    return graph, dataset.interactions, ids


def drawn_constants(categories, bar: BetterThanChance, **options) -> tuple:
    graph, train, _ = categories
    coliked = coliked_matrix(graph, train)
    null = PopularityNull.fit(coliked, item_popularity_counts(train, graph.n_items), strata=2)
    assert null.stratum.tolist() == [1, 1, 0, 0, 0, 1] and null.rate == pytest.approx(np.array(CONSTANT_RATE))
    return constant_rules(_Walks(graph), coliked, null, 6 / 30, bar, **options)


def test_a_rule_with_a_constant_measured_by_hand(categories) -> None:
    graph, _, ids = categories
    bar = BetterThanChance(min_support=2, min_lift=1.5, min_popularity_lift=1.3, max_p_value=0.05)
    (heist,) = drawn_constants(categories, bar)
    assert heist.key == ((ids["in_category"], ids["in_category⁻¹"]), ids["C"])  # the node id of C
    # A = B = {i1 i2 i3}: connected 3·3 − 3 = 6, co-liked 12 21 13 31
    assert (heist.support, heist.connected) == (4, 6)
    assert (heist.confidence, heist.head_coverage, heist.lift) == pytest.approx((4 / 6, 4 / 6, (4 / 6) / (1 / 5)))
    # expected: 12 21 in [1,1] (1/3 each), 13 31 23 32 between the strata (1/9 each) = 2/3 + 4/9 = 10/9
    assert heist.popularity_lift == pytest.approx(4 / (10 / 9))
    poisson_cdf_3 = math.exp(-10 / 9) * sum((10 / 9) ** k / math.factorial(k) for k in range(4))
    assert heist.p_value == pytest.approx(1 - poisson_cdf_3)  # ≈ 0.0266
    assert graph.node_name(heist.constant) == "Category:Heist films"


def test_a_constant_below_the_bar_is_not_kept(categories) -> None:
    _, _, ids = categories
    # D: {i4 i5 i6}, connected 6, support 2 (45 54), lift 5/3; expected 2·1/3 + 4·1/9 = 10/9, popularity lift 1.8,
    # p = P(Poisson(10/9) ≥ 2) = 1 − e^(−10/9)(1 + 10/9) ≈ 0.305: out at p ≤ 0.05, in at p ≤ 0.31
    strict = BetterThanChance(min_support=2, min_lift=1.5, min_popularity_lift=1.3, max_p_value=0.05)
    assert ids["D"] not in {rule.constant for rule in drawn_constants(categories, strict)}
    loose = replace(strict, max_p_value=0.31)
    heist, drama = drawn_constants(categories, loose)  # best first: confidence 2/3, then 1/3
    assert (drama.constant, drama.support, drama.connected) == (ids["D"], 2, 6)
    assert (drama.lift, drama.popularity_lift) == pytest.approx((5 / 3, 1.8))
    assert drama.p_value == pytest.approx(1 - math.exp(-10 / 9) * (1 + 10 / 9))
    assert drawn_constants(categories, replace(loose, min_popularity_lift=1.81)) == (heist,)
    assert drawn_constants(categories, replace(loose, min_support=3)) == (heist,)
    assert drawn_constants(categories, loose, min_confidence=0.34) == (heist,)


def test_parallel_relations_with_the_same_pairs_keep_one_constant(categories) -> None:
    _, _, ids = categories
    bar = BetterThanChance(min_support=2, min_lift=1.5, min_popularity_lift=1.3, max_p_value=0.05)
    every = drawn_constants(categories, bar, distinct=False)
    first, second = (ids["in_category"], ids["subject"]), (ids["in_category⁻¹"], ids["subject⁻¹"])
    assert sorted(rule.pattern for rule in every) == sorted((a, b) for a in first for b in second)
    assert {(rule.constant, rule.support, rule.connected) for rule in every} == {(ids["C"], 4, 6)}
    assert [rule.pattern for rule in drawn_constants(categories, bar)] == [(ids["in_category"], ids["in_category⁻¹"])]


def test_an_unnamed_node_is_never_a_constant(categories) -> None:
    _, _, ids = categories
    bar = BetterThanChance(min_support=2, min_lift=1.5, min_popularity_lift=1.3, max_p_value=0.05)
    assert drawn_constants(categories, bar, has_name=lambda node: node != ids["C"]) == ()


def test_mine_rules_with_constants(categories) -> None:
    graph, train, ids = categories
    # six items, fewer than POPULARITY_STRATA: every item is its own stratum, so the expected co-likes of a
    # rule's pairs are its support: popularity lift 1, p = P(Poisson(s) ≥ s)
    bar = BetterThanChance(min_support=2, min_lift=1.5, min_popularity_lift=1.0, max_p_value=0.6)
    rules = mine_rules(graph, train, max_len=2, min_support=1, min_confidence=0.0, constants=bar)
    assert [(rule.constant, rule.pattern, rule.support, rule.connected) for rule in rules.constants] == [
        (ids["C"], (ids["in_category"], ids["in_category⁻¹"]), 4, 6),
        (ids["D"], (ids["in_category"], ids["in_category⁻¹"]), 2, 6),
    ]
    heist, drama = rules.constants
    assert (heist.lift, heist.popularity_lift) == pytest.approx((10 / 3, 1.0))
    assert heist.p_value == pytest.approx(1 - math.exp(-4) * (1 + 4 + 8 + 64 / 6))  # ≈ 0.567
    assert drama.p_value == pytest.approx(1 - math.exp(-2) * 3)  # ≈ 0.594
    assert rules.constant_names == {ids["C"]: "Category:Heist films", ids["D"]: "Category:Dramas"}
    assert rules.label(heist.pattern, heist.constant) == "in_category → Category:Heist films → in_category⁻¹"
    # the pattern rule of the same pattern carries its own measures
    same = rules.by_pattern()[(ids["in_category"], ids["in_category⁻¹"])]
    assert (same.support, same.connected, same.popularity_lift) == (6, 12, pytest.approx(1.0))
    assert mine_rules(graph, train, max_len=2, min_support=1, min_confidence=0.0).constants == ()
    assert mine_rules(graph, train, max_len=1, min_support=1, constants=bar).constants == ()
    assert mine_rules(graph, train, max_len=2, constants=replace(bar, max_p_value=0.58)).constants == (heist,)


def test_save_load_round_trip_with_constants(categories, tmp_path) -> None:
    graph, train, ids = categories
    bar = BetterThanChance(min_support=2, min_lift=1.5, min_popularity_lift=1.0, max_p_value=0.6)
    rules = mine_rules(graph, train, max_len=2, min_support=1, min_confidence=0.0, constants=bar)
    path = tmp_path / "rules.json"
    rules.save(path)
    assert RuleSet.load(path) == rules and RuleSet.load(path, graph) == rules
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["version"] == 2
    assert [(entry["constant"], entry["constant_name"]) for entry in document["constant_rules"]] == [
        (ids["C"], "Category:Heist films"), (ids["D"], "Category:Dramas"),
    ]
    assert document["constant_rules"][0]["pattern_names"] == ["in_category", "in_category⁻¹"]
    assert all(entry["constant"] is None for entry in document["rules"])


def test_rules_built_in_code_without_popularity_measures_round_trip(tmp_path) -> None:
    rules = RuleSet((measured(popularity_lift=None, p_value=None),), 6, 10, 0.1,
                    ("interact", "a", "b", "interact⁻¹", "a⁻¹", "b⁻¹"),
                    constants=(replace(measured(), constant=7),), constant_names={7: "Heist films"})
    rules.save(tmp_path / "rules.json")
    assert RuleSet.load(tmp_path / "rules.json") == rules


def test_a_version_1_rules_file_is_outdated_and_mined_again(categories, tmp_path) -> None:
    graph, train, ids = categories
    path = tmp_path / "rules.json"
    path.write_text(rules_json(version=1, constant_rules=None), encoding="utf-8")
    with pytest.raises(OutdatedRulesError, match="version 1") as caught:
        RuleSet.load(path)
    assert str(path) in str(caught.value) and isinstance(caught.value, DatasetError)
    config = ExplainConfig(rule_max_len=2, min_support=2, min_lift=1.5, min_popularity_lift=1.0, max_p_value=0.6,
                           min_colikes=1, min_confidence=0.01)
    rules = load_or_mine_rules(path, graph, train, config)
    assert rules == RuleSet.load(path, graph)
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == 2
    assert [rule.constant for rule in rules.constants] == [ids["C"], ids["D"]]
