"""Choosing the explained path: rule confidence combined with the model's path weight."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.config import ModelConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.evaluation.ranking import top_k
from kgrec.explain.explainer import choose_path, model_edge_weights
from kgrec.explain.types import Path, Rule
from kgrec.models.baselines import BPRMF, LightGCN
from kgrec.models.kgrec import KGRec


def rule(pattern: tuple[int, ...], confidence: float) -> Rule:
    return Rule(pattern, support=10, connected=100, confidence=confidence, head_coverage=0.1, lift=2.0)


PATHS = [
    Path((0, 5, 9, 6), (0, 1, 4), 0.8),   # pattern (1, 4): confidence 0.1
    Path((0, 5, 8, 6), (0, 2, 5), 0.2),   # pattern (2, 5): confidence 0.9
    Path((0, 5, 1, 6), (0, 3, 0), 1.0),   # collaborative: no rule
]
RULES = {(1, 4): rule((1, 4), 0.1), (2, 5): rule((2, 5), 0.9)}


def test_rule_weight_one_picks_the_most_confident_rule() -> None:
    assert choose_path(PATHS, RULES, 1.0) == (1, RULES[(2, 5)])


def test_rule_weight_zero_picks_the_strongest_path_with_a_rule() -> None:
    assert choose_path(PATHS, RULES, 0.0) == (0, RULES[(1, 4)])


def test_half_and_half_combination() -> None:
    # path 0: 0.1^.5 * (0.8/1)^.5 = 0.283; path 1: 0.9^.5 * 0.2^.5 = 0.424
    assert choose_path(PATHS, RULES, 0.5) == (1, RULES[(2, 5)])
    # a weaker rule path loses to a strong one: 0.9^.5 * 0.05^.5 = 0.212 < 0.283
    weak = [PATHS[0], Path((0, 5, 8, 6), (0, 2, 5), 0.05)]
    assert choose_path(weak, RULES, 0.5) == (0, RULES[(1, 4)])


def test_no_rule_falls_back_to_the_strongest_path_and_no_path_to_none() -> None:
    assert choose_path(PATHS[2:], RULES, 0.5) == (0, None)
    assert choose_path([], RULES, 0.5) == (None, None)


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
