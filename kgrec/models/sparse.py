"""Weighted propagation over a fixed graph as one sparse matmul per layer, forward and backward.

Training re-weights the same edges at every step (the attention changes, the edges do not). Building a
sparse tensor from the edge list sorts and coalesces the edges each time, and autograd's backward of a
CSR matmul transposes the matrix, sorting again. :class:`AdjacencyPattern` does the sorting once per
graph; each step only places the new weights into the two fixed patterns.

Every product writes into a given tensor (``addmm`` with β = 0): ``torch.sparse.mm`` zero-fills a fresh result,
multiplies into it and copies it out. :func:`layer_mean` runs a whole L-layer propagation and its gradient in
reusable :class:`LayerBuffers`: on a graph whose [N, d] tables exceed what the C allocator recycles (32 MB), every
fresh one is mapped and zero-filled page by page by the kernel, which at a million nodes cost more than the
arithmetic.
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
    the sum of their weights, as when PyG coalesces an edge list. The index arrays are 32-bit where the graph
    allows, the width the CPU's sparse product reads (it would convert 64-bit ones at every product).
    """

    def __init__(self, edge_index: Tensor, num_nodes: int) -> None:
        source, target = edge_index
        entries, self.entry_of_edge = torch.unique(target * num_nodes + source, return_inverse=True)
        rows, cols = entries // num_nodes, entries % num_nodes
        self.num_nodes, self.num_entries = num_nodes, entries.numel()
        self.transposed_order = torch.argsort(cols * num_nodes + rows)
        index = torch.int32 if max(num_nodes, self.num_entries) < 2**31 else torch.int64
        self.crow, self.col = _row_pointers(rows, num_nodes).to(index), cols.to(index)
        self.crow_t, self.col_t = _row_pointers(cols[self.transposed_order], num_nodes).to(index), rows[self.transposed_order].to(index)

    def weighted(self, edge_weight: Tensor) -> WeightedAdjacency:
        """The adjacency carrying ``edge_weight`` (one value per edge of the pattern's edge list)."""
        values = edge_weight.new_zeros(self.num_entries).scatter_add_(0, self.entry_of_edge, edge_weight)
        return WeightedAdjacency(
            csr_matrix(self.crow, self.col, values, (self.num_nodes, self.num_nodes)),
            csr_matrix(self.crow_t, self.col_t, values.index_select(0, self.transposed_order), (self.num_nodes, self.num_nodes)),
        )


def sparse_product(matrix: Tensor, x: Tensor, out: Tensor | None = None) -> Tensor:
    """``matrix @ x`` for a sparse CSR ``matrix``, written into ``out`` (a fresh tensor by default): the values
    of ``torch.sparse.mm``, bit for bit, without its zero-filled temporary and copy (half the time at 10⁶ nodes)."""
    out = torch.empty(matrix.size(0), x.size(1), dtype=x.dtype, device=x.device) if out is None else out
    return torch.addmm(out, matrix, x, beta=0.0, out=out)


class _SparsePropagate(torch.autograd.Function):
    """``A @ x`` with the gradient ``Aᵀ @ grad`` from the precomputed transpose (no gradient for A)."""

    @staticmethod
    def forward(ctx, matrix: Tensor, transposed: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.transposed = transposed
        return sparse_product(matrix, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, None, Tensor]:  # type: ignore[override]
        return None, None, sparse_product(ctx.transposed, grad)


def sparse_propagate(adjacency: WeightedAdjacency, x: Tensor) -> Tensor:
    """Every node's weighted sum of its in-neighbours' rows of ``x``: ``A @ x``, differentiable in ``x``."""
    return _SparsePropagate.apply(adjacency.matrix, adjacency.transposed, x)


class LayerBuffers:
    """Named tensors that :func:`layer_mean` writes its layers and gradients into, kept from one training
    step to the next (replaced when a step needs another shape). Not for concurrent use: one per model,
    used in training only."""

    def __init__(self) -> None:
        self._tensors: dict[str, Tensor] = {}

    def __len__(self) -> int:
        return len(self._tensors)

    def get(self, name: str, like: Tensor) -> Tensor:
        """The buffer ``name`` with the shape, dtype and device of ``like`` (its values are left over)."""
        tensor = self._tensors.get(name)
        if tensor is None or tensor.shape != like.shape or tensor.dtype != like.dtype or tensor.device != like.device:
            tensor = self._tensors[name] = torch.empty_like(like)
        return tensor


class _LayerMean(torch.autograd.Function):
    """(x + A x + … + Aᴸ x) / (L + 1), and its gradient g + Aᵀ(g + Aᵀ(… + Aᵀ g)) with g = grad / (L + 1).

    The operations and their order are those of L :func:`sparse_propagate` layers summed by autograd, so the
    bits are too: x enters twice, as layer 0 and as what is propagated, so that its two gradients (g and
    Aᵀ(…)) reach the embedding table separately, as they did, and are summed with the table's other gradients
    (L2, TransH) in the same order. The output and the gradients are fresh tensors; the layers live in
    ``buffers``."""

    @staticmethod
    def forward(ctx, matrix: Tensor, transposed: Tensor, layers: int, buffers: LayerBuffers | None,  # type: ignore[override]
                layer_zero: Tensor, propagated: Tensor) -> Tensor:
        buffers = LayerBuffers() if buffers is None else buffers
        ctx.transposed, ctx.layers, ctx.buffers = transposed, layers, buffers
        spaces = (buffers.get("even", propagated), buffers.get("odd", propagated))
        layer = sparse_product(matrix, propagated, spaces[0])
        total = torch.add(layer_zero, layer)
        for depth in range(1, layers):
            layer = sparse_product(matrix, layer, spaces[depth % 2])
            total.add_(layer)
        return total.div_(layers + 1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[None, None, None, None, Tensor, Tensor]:  # type: ignore[override]
        spaces = (ctx.buffers.get("even", grad), ctx.buffers.get("odd", grad))
        share = grad / (ctx.layers + 1)  # the gradient every layer's output gets from the mean
        upstream = share
        for depth in range(ctx.layers - 1):  # layer l − 1's output: its share + Aᵀ · the gradient of layer l's
            upstream = sparse_product(ctx.transposed, upstream, spaces[depth % 2]).add_(share)
        return None, None, None, None, share, sparse_product(ctx.transposed, upstream)


def layer_mean(adjacency: WeightedAdjacency, x: Tensor, layers: int, buffers: LayerBuffers | None = None) -> Tensor:
    """The mean of ``x`` and its ``layers`` ≥ 1 propagations over ``adjacency`` (parameter-free layers), differentiable
    in ``x``; ``buffers`` (training) keeps the [N, d] layers and gradients from one call to the next."""
    if layers < 1:
        raise ValueError(f"layer_mean: expected at least one layer, got {layers}")
    return _LayerMean.apply(adjacency.matrix, adjacency.transposed, layers, buffers, x, x)
