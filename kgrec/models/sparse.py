"""Weighted propagation over a fixed graph as one sparse matmul per layer, forward and backward.

Training re-weights the same edges at every step (the attention changes, the edges do not). Building a
sparse tensor from the edge list sorts and coalesces the edges each time, and autograd's backward of a
CSR matmul transposes the matrix, sorting again. :class:`AdjacencyPattern` does the sorting once per
graph; each step only places the new weights into the two fixed patterns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor


def _row_pointers(rows: Tensor, num_nodes: int) -> Tensor:
    """CSR row pointers of sorted row indices: where each row's entries start, and the end."""
    counts = torch.bincount(rows, minlength=num_nodes)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


def csr_matrix(crow: Tensor, col: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """A sparse CSR tensor (PyTorch's constructor, without its beta warning)."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the ops used here are stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size)


@dataclass(frozen=True)
class WeightedAdjacency:
    """The weighted adjacency with target rows (``matrix``: row i sums the messages into i) and its
    transpose (``transposed``), for :func:`sparse_propagate` and its gradient."""

    matrix: Tensor
    transposed: Tensor


class AdjacencyPattern:
    """The sparsity pattern of a graph's adjacency ``A[target, source]`` and of ``Aᵀ``, computed once.

    Parallel edges (the same source and target under several relations) share one entry whose value is
    the sum of their weights, as when PyG coalesces an edge list.
    """

    def __init__(self, edge_index: Tensor, num_nodes: int) -> None:
        source, target = edge_index
        entries, self.entry_of_edge = torch.unique(target * num_nodes + source, return_inverse=True)
        rows, cols = entries // num_nodes, entries % num_nodes
        self.num_nodes, self.num_entries = num_nodes, entries.numel()
        self.crow, self.col = _row_pointers(rows, num_nodes), cols
        self.transposed_order = torch.argsort(cols * num_nodes + rows)
        self.crow_t, self.col_t = _row_pointers(cols[self.transposed_order], num_nodes), rows[self.transposed_order]

    def weighted(self, edge_weight: Tensor) -> WeightedAdjacency:
        """The adjacency carrying ``edge_weight`` (one value per edge of the pattern's edge list)."""
        values = edge_weight.new_zeros(self.num_entries).scatter_add_(0, self.entry_of_edge, edge_weight)
        return WeightedAdjacency(
            csr_matrix(self.crow, self.col, values, (self.num_nodes, self.num_nodes)),
            csr_matrix(self.crow_t, self.col_t, values.index_select(0, self.transposed_order), (self.num_nodes, self.num_nodes)),
        )


class _SparsePropagate(torch.autograd.Function):
    """``A @ x`` with the gradient ``Aᵀ @ grad`` from the precomputed transpose (no gradient for A)."""

    @staticmethod
    def forward(ctx, matrix: Tensor, transposed: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.transposed = transposed
        return torch.sparse.mm(matrix, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, None, Tensor]:  # type: ignore[override]
        return None, None, torch.sparse.mm(ctx.transposed, grad)


def sparse_propagate(adjacency: WeightedAdjacency, x: Tensor) -> Tensor:
    """Every node's weighted sum of its in-neighbours' rows of ``x``: ``A @ x``, differentiable in ``x``."""
    return _SparsePropagate.apply(adjacency.matrix, adjacency.transposed, x)
