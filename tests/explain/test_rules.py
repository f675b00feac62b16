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
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kgrec.data.dataset import Interactions, RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.data.load import load_dataset
from kgrec.data.split import split
from kgrec.errors import ConfigError, DatasetError, KgrecError, UnknownIdError
from kgrec.explain.rules import (
    RuleSet,
    colike_threshold,
    coliked_matrix,
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
    rule = {"pattern": [1], "support": 1, "connected": 1, "confidence": 1, "head_coverage": 1, "lift": 1}
    document = {
        "format": "kgrec-rules", "version": 1, "n_items": 6, "n_coliked": 1, "base_rate": 0.1,
        "relation_names": ["interact", "a", "interact⁻¹", "a⁻¹"], "rules": [rule],
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
    assert loaded.rules == (Rule((1,), support=1, connected=1, confidence=1.0, head_coverage=1.0, lift=1.0),)
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
