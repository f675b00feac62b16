"""Propagation as a sparse matmul over a precomputed pattern: A @ x and its gradient against dense matrices, and
the whole layer mean in reusable buffers against the layers summed one by one."""

from __future__ import annotations

import pytest
import torch

from kgrec.models.sparse import AdjacencyPattern, LayerBuffers, layer_mean, sparse_product, sparse_propagate


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


def test_the_product_writes_torch_sparse_mm_values_into_the_given_tensor() -> None:
    generator = torch.Generator().manual_seed(1)
    edge_index = torch.randint(0, 50, (2, 400), generator=generator)
    adjacency = AdjacencyPattern(edge_index, 50).weighted(torch.rand(400, generator=generator))
    assert adjacency.matrix.crow_indices().dtype == adjacency.transposed.col_indices().dtype == torch.int32
    x, out = torch.randn(50, 6, generator=generator), torch.full((50, 6), float("nan"))  # β = 0: old values ignored
    assert sparse_product(adjacency.matrix, x, out) is out
    assert torch.equal(out, torch.sparse.mm(adjacency.matrix, x))


def test_the_layer_mean_of_a_drawn_chain_and_its_gradient_by_hand() -> None:
    # 0 → 1 (weight 2), 1 → 2 (weight 3); x = (1, 0, 0): layer 1 = (0, 2, 0), layer 2 = (0, 0, 6)
    adjacency = AdjacencyPattern(torch.tensor([[0, 1], [1, 2]]), 3).weighted(torch.tensor([2.0, 3.0]))
    x = torch.tensor([[1.0], [0.0], [0.0]], requires_grad=True)
    out = layer_mean(adjacency, x, 2)
    assert out.detach().flatten().tolist() == pytest.approx([1 / 3, 2 / 3, 2.0])
    out.sum().backward()  # (1 + Aᵀ1 + Aᵀ²1) / 3 with Aᵀ1 = (2, 3, 0) and Aᵀ²1 = (6, 0, 0)
    assert x.grad.flatten().tolist() == pytest.approx([3.0, 4 / 3, 1 / 3])
    with pytest.raises(ValueError, match="at least one layer"):
        layer_mean(adjacency, x, 0)


@pytest.mark.parametrize("layers", [1, 2, 4])
def test_the_layer_mean_is_the_layers_summed_one_by_one_bit_for_bit(layers: int) -> None:
    """Values and gradients equal those of the layers propagated and summed one at a time (what autograd did
    before), also when the input has another use and two propagations share the buffers before either
    backward."""
    generator = torch.Generator().manual_seed(layers)
    edge_index = torch.randint(0, 40, (2, 300), generator=generator)
    adjacency = AdjacencyPattern(edge_index, 40).weighted(torch.rand(300, generator=generator))
    table = torch.randn(40, 8, generator=generator)
    upstream = [torch.randn(40, 8, generator=generator) for _ in range(2)]

    def one_by_one(x: torch.Tensor) -> torch.Tensor:
        total, layer = x, x
        for depth in range(layers):
            layer = sparse_propagate(adjacency, layer)
            total = total + layer if depth == 0 else total.add_(layer)
        return total / (layers + 1)

    buffers = LayerBuffers()
    results = []
    for propagate in (one_by_one, lambda x: layer_mean(adjacency, x, layers, buffers)):
        x = table.clone().requires_grad_()
        outs = [propagate(x), propagate(x)]
        loss = sum((out * grad).sum() for out, grad in zip(outs, upstream)) + (x * x).sum()
        loss.backward()
        results.append((outs[0].detach(), outs[1].detach(), x.grad))
    for mine, reference in zip(results[1], results[0]):
        assert torch.equal(mine, reference)


def test_buffers_are_kept_for_the_same_shape_and_replaced_for_another() -> None:
    buffers = LayerBuffers()
    first = buffers.get("even", torch.zeros(5, 3))
    assert buffers.get("even", torch.ones(5, 3)) is first
    assert buffers.get("odd", torch.ones(5, 3)) is not first
    assert buffers.get("even", torch.zeros(6, 3)).shape == (6, 3)
    assert buffers.get("even", torch.zeros(6, 3, dtype=torch.float64)).dtype == torch.float64
