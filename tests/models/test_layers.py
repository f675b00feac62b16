"""The knowledge-aware attention layer: the TransH logit by hand, softmax per node, LightGCN normalisation."""

from __future__ import annotations

import math

import torch
from torch_geometric.utils import scatter

from kgrec.models.layers import KnowledgeAttentionConv, TransHAttention, edge_weights
from kgrec.models.transh import transh_project


def test_logit_matches_hand_computation() -> None:
    # edge 0 -> 1 with w = (0, 0, 1), d = (0.5, 0, 0); embeddings are unit-normalised first
    # x0 = (0.6, 0.8, 0) (unit) -> x0⊥ = (0.6, 0.8, 0); tanh(x0⊥ + d) = (tanh 1.1, tanh 0.8, 0)
    # x1 = (0, 2, 2) -> (0, 1/√2, 1/√2) -> x1⊥ = (0, 1/√2, 0); logit = tanh(0.8) / √2
    x = torch.tensor([[0.6, 0.8, 0.0], [0.0, 2.0, 2.0]])
    attention = TransHAttention(torch.tensor([[0], [1]]), torch.tensor([0]), num_nodes=2)
    normal, translation = torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.5, 0.0, 0.0]])
    logit = attention(x, normal, translation)
    assert torch.allclose(logit, torch.tensor([math.tanh(0.8) / math.sqrt(2)]))
    assert torch.allclose(attention(3 * x, normal, translation), logit)


def test_logits_match_the_per_edge_formula_with_shared_sources_and_parallel_edges() -> None:
    # edges in no particular order; 0 -> 3 twice under different relations, 1 -> 3 and 1 -> 2 share (1, r0)
    edge_index = torch.tensor([[0, 1, 0, 1, 2, 3, 3], [3, 3, 3, 2, 0, 1, 0]])
    edge_type = torch.tensor([1, 0, 2, 0, 2, 1, 0])
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    normals = torch.nn.functional.normalize(torch.randn(3, 5, generator=torch.Generator().manual_seed(1)), dim=-1)
    translations = torch.randn(3, 5, generator=torch.Generator().manual_seed(2))
    unit = torch.nn.functional.normalize(x, dim=-1)
    source, target, w = unit[edge_index[0]], unit[edge_index[1]], normals[edge_type]
    expected = (transh_project(target, w) * torch.tanh(transh_project(source, w) + translations[edge_type])).sum(-1)
    assert torch.allclose(TransHAttention(edge_index, edge_type, 4)(x, normals, translations), expected, atol=1e-6)
    # TransE (zero normals): no projection
    expected_transe = (target * torch.tanh(source + translations[edge_type])).sum(-1)
    assert torch.allclose(TransHAttention(edge_index, edge_type, 4)(x, torch.zeros(3, 5), translations), expected_transe, atol=1e-6)


def test_attention_sums_to_one_per_node_before_normalisation() -> None:
    edge_index = torch.tensor([[1, 2, 3, 0, 0, 0], [0, 0, 0, 1, 2, 3]])
    logits = torch.tensor([0.3, -1.0, 2.0, 0.5, 0.1, 0.0])
    weights = edge_weights(logits, edge_index, 4)
    deg = torch.tensor([3.0, 1.0, 1.0, 1.0])
    alpha = weights / (deg[edge_index[1]] / deg[edge_index[0]]).sqrt()
    assert torch.allclose(scatter(alpha, edge_index[1], dim_size=4, reduce="sum"), torch.ones(4))
    expected = torch.softmax(torch.tensor([0.3, -1.0, 2.0]), 0)
    assert torch.allclose(alpha[:3], expected)


def test_uniform_weights_are_lightgcn_normalisation() -> None:
    edge_index = torch.tensor([[1, 2, 3, 0, 0, 0], [0, 0, 0, 1, 2, 3]])
    weights = edge_weights(None, edge_index, 4)
    assert torch.allclose(weights, torch.full((6,), 1 / math.sqrt(3)))


def test_degree_exponents_weigh_target_and_source_separately() -> None:
    # star: node 0 has in-degree 3, nodes 1..3 in-degree 1; edge j -> i weighs deg(i)^-a · deg(j)^-b
    edge_index = torch.tensor([[1, 2, 3, 0, 0, 0], [0, 0, 0, 1, 2, 3]])
    weights = edge_weights(None, edge_index, 4, target_exponent=0.6, source_exponent=0.4)
    assert torch.allclose(weights[:3], torch.full((3,), 3 ** -0.6))  # into the hub
    assert torch.allclose(weights[3:], torch.full((3,), 3 ** -0.4))  # out of the hub
    # with attention the softmax replaces 1/deg(i): α · deg(i)^(1-a) · deg(j)^-b
    logits = torch.tensor([0.3, -1.0, 2.0, 0.5, 0.1, 0.0])
    attended = edge_weights(logits, edge_index, 4, target_exponent=0.6, source_exponent=0.4)
    alpha = torch.softmax(logits[:3], 0)
    assert torch.allclose(attended[:3], alpha * 3 ** 0.4)
    assert torch.allclose(attended[3:], torch.full((3,), 3 ** -0.4))


def test_mean_aggregator_is_weighted_sum_and_bi_interaction_shape() -> None:
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]])
    edge_index = torch.tensor([[1, 2], [0, 0]])
    out = KnowledgeAttentionConv(2, "mean")(x, edge_index, torch.tensor([0.5, 0.25]))
    assert torch.allclose(out, torch.tensor([[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]]))
    conv = KnowledgeAttentionConv(2, "bi")
    with torch.no_grad():
        for layer in (conv.linear, conv.linear_product):
            layer.weight.copy_(torch.eye(2))
            layer.bias.zero_()
    bi = conv(x, edge_index, torch.tensor([0.5, 0.25]))
    # node 0: x + m = (2, 2), x ⊙ m = (1, 0) -> (2, 2) + (1, 0)
    assert torch.allclose(bi[0], torch.tensor([3.0, 2.0]))
    # node 1: no messages: x + m = (0, 2) -> (0, 2); x ⊙ m = 0
    assert torch.allclose(bi[1], torch.tensor([0.0, 2.0]))


