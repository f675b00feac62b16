"""Propagation as a sparse matmul over a precomputed pattern: A @ x and its gradient against dense matrices."""

from __future__ import annotations

import torch

from kgrec.models.sparse import AdjacencyPattern, sparse_propagate


def dense_adjacency(edge_index: torch.Tensor, weight: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """A[target, source] summed over parallel edges, drawn entry by entry."""
    matrix = torch.zeros(num_nodes, num_nodes)
    for (source, target), w in zip(edge_index.T.tolist(), weight.tolist()):
        matrix[target, source] += w
    return matrix


def test_propagation_is_the_weighted_adjacency_product_with_parallel_edges_summed() -> None:
    # 0 -> 2 twice (two relations), 1 -> 2, 2 -> 0, 2 -> 1, 3 isolated; edges out of order
    edge_index = torch.tensor([[2, 0, 1, 0, 2], [1, 2, 2, 2, 0]])
    weight = torch.tensor([0.5, 0.25, 2.0, 0.75, -1.0])
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0], [9.0, 9.0]], requires_grad=True)
    out = sparse_propagate(AdjacencyPattern(edge_index, 4).weighted(weight), x)
    # row 2 = (0.25 + 0.75)·x0 + 2·x1 = (1, 2); row 0 = −x2; row 1 = 0.5·x2; row 3 has no in-edges
    assert torch.allclose(out.detach(), torch.tensor([[-3.0, -4.0], [1.5, 2.0], [1.0, 2.0], [0.0, 0.0]]))
    grad = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    out.backward(grad)
    assert torch.allclose(x.grad, dense_adjacency(edge_index, weight, 4).T @ grad)


def test_the_pattern_serves_new_weights_on_the_same_edges() -> None:
    generator = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 7, (2, 30), generator=generator)
    pattern = AdjacencyPattern(edge_index, 7)
    x = torch.randn(7, 3, generator=generator)
    for _ in range(2):
        weight = torch.rand(30, generator=generator)
        assert torch.allclose(sparse_propagate(pattern.weighted(weight), x), dense_adjacency(edge_index, weight, 7) @ x, atol=1e-6)
