"""Knowledge-aware attention convolution over the collaborative KG (a PyG MessagePassing layer)."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import degree, softmax, spmm, to_torch_csr_tensor

from kgrec.models.transh import transh_project

AGGREGATORS = ("bi", "sum", "mean")


def transh_attention_logits(x: Tensor, edge_index: Tensor, normal: Tensor, translation: Tensor) -> Tensor:
    r"""Attention logit of each edge (j, r, i): :math:`\pi = (x_{i\perp})^\top \tanh(x_{j\perp} + d_r)`.

    ``normal`` and ``translation`` are the per-edge TransH hyperplane normal :math:`w_r` (unit, or zero
    for TransE) and translation :math:`d_r`; :math:`x_\perp` is the projection on the hyperplane, so the
    logit is high where the source, translated by the relation, lands near the target — the same geometry
    the TransH loss trains. Embeddings are unit-normalised first, so the logits stay within [-1, 1]
    whatever the embedding norms grow to and the softmax re-weights neighbours without collapsing onto one.
    """
    x = F.normalize(x, dim=-1)
    source, target = x[edge_index[0]], x[edge_index[1]]
    return (transh_project(target, normal) * torch.tanh(transh_project(source, normal) + translation)).sum(-1)


def edge_weights(logits: Tensor | None, edge_index: Tensor, num_nodes: int, target_exponent: float = 0.5,
                 source_exponent: float = 0.5) -> Tensor:
    r"""Softmax of the logits over each target's incoming edges, rescaled to LightGCN's normalisation.

    :math:`w_{ji} = \alpha_{ji} \deg(i)^{1-a} \deg(j)^{-b}` with :math:`a, b` the target and source
    exponents: with uniform logits (no attention) this is exactly :math:`\deg(i)^{-a}\deg(j)^{-b}` —
    :math:`1/\sqrt{\deg(i)\deg(j)}` at the default ½, ½ — so the attention only re-weights a
    well-tested propagation.
    """
    source, target = edge_index
    deg = degree(target, num_nodes).clamp_min(1.0)
    if logits is None:
        alpha = 1.0 / deg[target]
    else:
        alpha = softmax(logits, target, num_nodes=num_nodes)
    return alpha * deg[target].pow(1.0 - target_exponent) * deg[source].pow(-source_exponent)


class KnowledgeAttentionConv(MessagePassing):
    r"""One propagation step :math:`m_i = \sum_{(j, r, i)} w_{ji} x_j` followed by an aggregator.

    Aggregators: ``mean`` returns :math:`m_i` (parameter-free, LightGCN-style); ``sum`` is
    :math:`\mathrm{LeakyReLU}(W(x_i + m_i))` (GCN); ``bi`` is KGAT's bi-interaction
    :math:`\mathrm{LeakyReLU}(W_1(x_i + m_i)) + \mathrm{LeakyReLU}(W_2(x_i \odot m_i))`. Message dropout
    drops whole messages during training.
    """

    def __init__(self, dim: int, aggregator: str = "mean", message_dropout: float = 0.0) -> None:
        super().__init__(aggr="add")
        if aggregator not in AGGREGATORS:
            raise ValueError(f"aggregator must be one of {AGGREGATORS}, got {aggregator!r}")
        self.aggregator = aggregator
        self.message_dropout = message_dropout
        self.linear = nn.Linear(dim, dim) if aggregator in ("bi", "sum") else None
        self.linear_product = nn.Linear(dim, dim) if aggregator == "bi" else None

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """``edge_index`` [2, E] with ``edge_weight`` [E], or a weighted sparse adjacency ``adj_t`` [N, N]
        (target rows) built by :func:`weighted_adjacency`, which takes PyG's fused sparse-matmul path."""
        if edge_weight is not None and self.training and self.message_dropout > 0:
            edge_weight = F.dropout(edge_weight, self.message_dropout) * (1 - self.message_dropout)
        message = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        if self.aggregator == "mean":
            return message
        combined = F.leaky_relu(self.linear(x + message))
        if self.aggregator == "bi":
            combined = combined + F.leaky_relu(self.linear_product(x * message))
        return combined

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        return edge_weight.unsqueeze(-1) * x_j

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        return spmm(adj_t, x, reduce="sum")


def weighted_adjacency(edge_index: Tensor, edge_weight: Tensor, num_nodes: int) -> Tensor:
    """The transposed weighted adjacency (row = target) as a CSR tensor, for one fused sparse matmul per
    layer instead of a gather, a multiply and a scatter over the edges (about 3× faster on CPU)."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the ops used here are stable
        warnings.simplefilter("ignore", UserWarning)
        return to_torch_csr_tensor(edge_index.flip(0), edge_weight, size=(num_nodes, num_nodes))
