"""Choosing the told evidence: a rule's confidence combined with the model's weight of its paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.config import ModelConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.evaluation.ranking import top_k
from kgrec.explain.explainer import Evidence, _groups_in_order, choose_evidence, model_edge_weights
from kgrec.explain.paths import FoundPaths
from kgrec.explain.types import Path, Rule
from kgrec.models.baselines import BPRMF, LightGCN
from kgrec.models.kgrec import KGRec


def rule(pattern: tuple[int, ...], confidence: float) -> Rule:
    return Rule(pattern, support=10, connected=100, confidence=confidence, head_coverage=0.1, lift=2.0)


# user 0, history items 5 and 7, recommended item 6; relation 0 = interact, 3 = interact⁻¹
PATHS = [
    Path((0, 5, 9, 6), (0, 1, 4), 0.8),   # pattern (1, 4): confidence 0.1
    Path((0, 5, 8, 6), (0, 2, 5), 0.2),   # pattern (2, 5): confidence 0.9
    Path((0, 7, 8, 6), (0, 2, 5), 0.1),   # pattern (2, 5) again, from history item 7
    Path((0, 5, 1, 6), (0, 3, 0), 1.0),   # co-like through item 5 and user 1
    Path((0, 5, 2, 6), (0, 3, 0), 0.3),   # co-like through item 5 and user 2
    Path((0, 7, 2, 6), (0, 3, 0), 0.5),   # co-like through item 7 and user 2
]
KG_PATHS = PATHS[:3]
RULES = {((1, 4), None): rule((1, 4), 0.1), ((2, 5), None): rule((2, 5), 0.9)}  # keyed by Rule.key


INTERACT = {0, 3}


def choose(paths: list[Path], kg_paths: list[Path], rules: dict, rule_weight: float) -> Evidence:
    return choose_evidence(FoundPaths.of(paths), FoundPaths.of(kg_paths), rules, rule_weight, INTERACT)


def test_rule_weight_one_picks_the_most_confident_rule_with_all_its_paths() -> None:
    evidence = choose(PATHS, KG_PATHS, RULES, 1.0)
    assert evidence == Evidence((PATHS[1], PATHS[2]), RULES[((2, 5), None)], "rule")


def test_rule_weight_zero_picks_the_rule_the_model_weighs_most() -> None:
    # W(1, 4) = 0.8 against W(2, 5) = 0.2 + 0.1 = 0.3
    assert choose(PATHS, KG_PATHS, RULES, 0.0) == Evidence((PATHS[0],), RULES[((1, 4), None)], "rule")


def test_half_and_half_combines_confidence_and_the_rule_s_total_weight() -> None:
    # (1, 4): 0.1^.5 * (0.8/0.8)^.5 = 0.316; (2, 5): 0.9^.5 * (0.3/0.8)^.5 = 0.581
    assert choose(PATHS, KG_PATHS, RULES, 0.5).rule == RULES[((2, 5), None)]
    # with one instance only: 0.9^.5 * (0.05/0.8)^.5 = 0.237 < 0.316
    weak = [PATHS[0], Path((0, 5, 8, 6), (0, 2, 5), 0.05)]
    assert choose(weak, weak, RULES, 0.5).rule == RULES[((1, 4), None)]


def test_a_rule_below_the_tellable_set_is_not_told() -> None:
    only = {((1, 4), None): RULES[((1, 4), None)]}  # (2, 5) failed the lift or support threshold
    assert choose(PATHS, KG_PATHS, only, 1.0) == Evidence((PATHS[0],), RULES[((1, 4), None)], "rule")


def test_without_a_rule_path_the_reason_is_co_liking_through_the_heaviest_history_item() -> None:
    # through item 5: 1.0 + 0.3 = 1.3; through item 7: 0.5
    evidence = choose(PATHS, KG_PATHS, {}, 0.5)
    assert evidence == Evidence((PATHS[3], PATHS[4]), None, "co-like")


def test_without_rule_or_co_like_path_the_heaviest_path_and_without_paths_nothing() -> None:
    assert choose(KG_PATHS, KG_PATHS, {}, 0.5) == Evidence((PATHS[0],), None, "path")
    assert choose([], [], RULES, 0.5) == Evidence((), None, "none")


# rules with a constant: the pattern (2, 5) through middle node 8 (from history items 5 and 7) or node 9
THROUGH = [
    Path((0, 5, 8, 6), (0, 2, 5), 0.2),
    Path((0, 7, 8, 6), (0, 2, 5), 0.1),
    Path((0, 5, 9, 6), (0, 2, 5), 0.4),
    Path((0, 7, 10, 6), (0, 1, 4), 0.25),
]


def constant_rule(pattern: tuple[int, ...], constant: int, confidence: float) -> Rule:
    return Rule(pattern, support=10, connected=100, confidence=confidence, head_coverage=0.1, lift=2.0, constant=constant)


def choose_with_constants(rules: dict, rule_weight: float, constant_patterns=((2, 5),)) -> Evidence:
    found = FoundPaths.of(THROUGH)
    return choose_evidence(found, found, rules, rule_weight, INTERACT, frozenset(constant_patterns))


def test_a_constant_rule_tells_only_its_pattern_s_paths_through_its_node() -> None:
    pattern, other, through_8 = rule((2, 5), 0.2), rule((1, 4), 0.1), constant_rule((2, 5), 8, 0.9)
    rules = {r.key: r for r in (pattern, other, through_8)}
    assert choose_with_constants(rules, 1.0) == Evidence((THROUGH[0], THROUGH[1]), through_8, "rule")
    # half and half, heaviest W = 0.2 + 0.1 + 0.4 = 0.7 (the pattern's): pattern 0.2^.5 · 1 = 0.447,
    # node 8: 0.9^.5 · (0.3/0.7)^.5 = 0.621, (1, 4): 0.1^.5 · (0.25/0.7)^.5 = 0.189
    assert choose_with_constants(rules, 0.5).rule == through_8
    # by weight alone the pattern with all three paths wins
    assert choose_with_constants(rules, 0.0) == Evidence((THROUGH[2], THROUGH[0], THROUGH[1]), pattern, "rule")


def test_with_equal_scores_the_pattern_rule_is_told() -> None:
    pattern, through_8 = rule((2, 5), 0.5), constant_rule((2, 5), 8, 0.5)
    rules = {through_8.key: through_8, pattern.key: pattern}  # the constant first in the dict: order is not why
    assert choose_with_constants(rules, 1.0) == Evidence((THROUGH[2], THROUGH[0], THROUGH[1]), pattern, "rule")


def test_a_constant_rule_absent_from_the_tellable_rules_is_never_told() -> None:
    other, through_8 = rule((1, 4), 0.1), constant_rule((2, 5), 8, 0.05)
    rules = {other.key: other, through_8.key: through_8}
    # by weight: node 9's path (0.4) is the heaviest, but no rule through 9 is tellable; node 8's 0.3 beats (1, 4)'s 0.25
    assert choose_with_constants(rules, 0.0) == Evidence((THROUGH[0], THROUGH[1]), through_8, "rule")
    assert choose_with_constants({other.key: other}, 0.0) == Evidence((THROUGH[3],), other, "rule")
    # a constant rule whose pattern is not among constant_patterns is not looked for
    assert choose_with_constants(rules, 0.0, constant_patterns=()) == Evidence((THROUGH[3],), other, "rule")


def test_top_k_masks_history_and_breaks_ties_by_lower_id() -> None:
    items, scores = top_k(torch.tensor([0.3, 0.9, 0.3, 0.5]), 3, np.array([1]))
    assert items.tolist() == [3, 0, 2]
    assert scores.tolist() == pytest.approx([0.5, 0.3, 0.3])


@pytest.fixture
def small_graph() -> CollaborativeKG:
    interactions = pd.DataFrame({"user": ["u1", "u1", "u2"], "item": ["i1", "i2", "i2"]})
    triples = pd.DataFrame({"head": ["i1"], "relation": ["genre"], "tail": ["g"]})
    links = pd.DataFrame({"item": ["i1", "i2"], "entity": ["i1", "i2"]})
    dataset = RecDataset.from_frames("small", interactions, triples, links)
    return CollaborativeKG.build(dataset, dataset.interactions)


def test_edge_weights_of_kgrec_are_its_lightgcn_normalisation(small_graph) -> None:
    source, target = small_graph.data.edge_index
    deg = torch.bincount(target, minlength=small_graph.num_nodes).float()
    lightgcn = KGRec(small_graph, ModelConfig(dim=4, layers=1, attention=False, norm_target=0.5, norm_source=0.5))
    assert model_edge_weights(lightgcn, small_graph) == pytest.approx((1 / (deg[source] * deg[target]).sqrt()).numpy())
    default = KGRec(small_graph, ModelConfig(dim=4, layers=1, attention=False))  # LightGCN++'s exponents 0.6 / 0.4
    expected = (deg[target] ** -0.6 * deg[source] ** -0.4).numpy()
    assert model_edge_weights(default, small_graph) == pytest.approx(expected)


def test_edge_weights_of_lightgcn_are_zero_on_kg_edges_and_none_for_bprmf(small_graph) -> None:
    model = LightGCN(small_graph, ModelConfig(model="lightgcn", dim=4, layers=1))
    weights = model_edge_weights(model, small_graph)
    half = small_graph.num_relations // 2
    edge_type = small_graph.data.edge_type.numpy()
    kg = (edge_type != 0) & (edge_type != half)
    assert np.all(weights[kg] == 0)
    # u1 has degree 2, i1 degree 1 among interact edges: w = 1/sqrt(2)
    source, target = small_graph.data.edge_index.numpy()
    u1, i1 = 0, small_graph.item_node(0)
    assert weights[(source == u1) & (target == i1)] == pytest.approx([1 / np.sqrt(2)])
    assert model_edge_weights(BPRMF(small_graph, ModelConfig(dim=4)), small_graph) is None


def test_groups_are_numbered_by_first_appearance() -> None:
    group, first = _groups_in_order([(5, 1), (3,), (5, 1), (4,), (3,)])
    assert group.tolist() == [0, 1, 0, 2, 1] and first == [0, 1, 3]


def test_rule_edges_marks_a_pattern_rule_s_relations_and_a_constant_rule_s_node_edges() -> None:
    import pandas as pd

    from kgrec.data.dataset import RecDataset
    from kgrec.data.graph import CollaborativeKG
    from kgrec.explain.explainer import rule_edges

    # items i1, i2, i3 in category c1, i3 also in c2; i1 and i2 share a director d
    interactions = pd.DataFrame({"user": ["u1"], "item": ["i1"]})
    triples = pd.DataFrame([("i1", "in", "c1"), ("i2", "in", "c1"), ("i3", "in", "c1"), ("i3", "in", "c2"),
                            ("i1", "by", "d"), ("i2", "by", "d")], columns=["head", "relation", "tail"])
    links = pd.DataFrame({"item": ["i1", "i2", "i3"], "entity": ["i1", "i2", "i3"]})
    dataset = RecDataset.from_frames("marks", interactions, triples, links, item_catalogue=["i1", "i2", "i3"])
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    names = list(graph.relation_names)
    r_in, r_by = names.index("in"), names.index("by")
    r_in_inv, r_by_inv = graph.inverse(r_in), graph.inverse(r_by)
    node = {graph.node_raw(n): n for n in range(graph.num_nodes) if graph.node_kind(n) == "entity"}
    c1, c2 = node["c1"], node["c2"]
    source, target = graph.data.edge_index.tolist()
    relation = graph.data.edge_type.tolist()
    edges = list(zip(relation, source, target))

    def marked(keys) -> set:
        return {edge for edge, keep in zip(edges, rule_edges(graph, keys)) if keep}

    # a pattern rule: every edge of its relations (both directions of "by" here)
    assert marked([((r_by, r_by_inv), None)]) == {e for e in edges if e[0] in (r_by, r_by_inv)}
    # a rule with the constant c1: the "in" edges into c1 and the "in⁻¹" edges out of it, nothing of c2
    assert marked([((r_in, r_in_inv), c1)]) == {e for e in edges if (e[0] == r_in and e[2] == c1)
                                                or (e[0] == r_in_inv and e[1] == c1)}
    assert len(marked([((r_in, r_in_inv), c1)])) == 6 and not any(c2 in e[1:] for e in marked([((r_in, r_in_inv), c1)]))
    assert marked([]) == set()
