"""The joint recommender: a knowledge-aware GNN over the collaborative KG, trained with TransH.

One embedding table serves both parts: TransH learns it from KG triples, the GNN propagates it over
user–item and KG edges with attention from TransH's hyperplane geometry, and BPR ranks items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.sampler import SamplerOutput

from kgrec.config import ModelConfig
from kgrec.data.graph import CollaborativeKG
from kgrec.models.base import BPR, WHOLE, Objective, RankingModel, Shard, ranking_term, shard_weighted
from kgrec.models.layers import KnowledgeAttentionConv, TransHAttention, edge_weights
from kgrec.models.sparse import AdjacencyPattern, LayerBuffers, WeightedAdjacency, layer_mean
from kgrec.models.transh import TransH, bern_corrupt, bern_probabilities


@dataclass(frozen=True)
class _GraphStructures:
    """What the model precomputes once for its edge list: the sparse pattern, the attention's pairs and each
    node's number of in-edges (for sampled training)."""

    adjacency: AdjacencyPattern
    attention: TransHAttention
    in_degree: Tensor


class KGRec(RankingModel):
    """score(u, i) = ⟨ū, ī⟩ with ū, ī the mean of the layer-0 embeddings and the L propagation layers over
    the CKG.

    Loss = a ranking loss (BPR or a sampled softmax) + λ₂·L2 + λ_kg · TransH margin loss on a batch of KG
    triples (with "bern" negatives).
    ``config.use_kg = False`` keeps only interact edges (pure CF), ``attention = False`` uses uniform
    weights, ``kge = "transe"`` drops the hyperplanes, ``lambda_kg = 0`` drops the KG loss.
    """

    def __init__(self, graph: CollaborativeKG, config: ModelConfig) -> None:
        super().__init__(graph.n_users, graph.n_items, config.l2)
        self.config = config
        self.num_nodes = graph.num_nodes
        self.kge = TransH(
            graph.num_nodes, graph.num_relations, config.dim, margin=config.margin, hyperplanes=config.kge == "transh"
        )
        self.node_emb = self.kge.node_emb  # shared between the GNN and TransH
        nn.init.normal_(self.node_emb.weight, std=0.1)
        edge_type = graph.data.edge_type
        is_interact = graph.is_interact(edge_type)
        keep = torch.ones_like(is_interact) if config.use_kg else is_interact
        self.register_buffer("edge_index", graph.data.edge_index[:, keep].clone())
        self.register_buffer("edge_type", edge_type[keep].clone())
        kg = ~is_interact
        self.register_buffer("kg_triples", torch.stack([graph.data.edge_index[0, kg], edge_type[kg], graph.data.edge_index[1, kg]]))
        self.register_buffer(
            "bern", bern_probabilities(self.kg_triples[0], self.kg_triples[1], self.kg_triples[2], graph.num_relations)
        )
        self.convs = nn.ModuleList(
            KnowledgeAttentionConv(config.dim, config.aggregator) for _ in range(config.layers)
        )
        self._epoch_edge_weight: Tensor | None = None  # see training_edge_weight
        self._eval_logits: Tensor | None = None  # see attention_logits
        self._structures_of: Tensor | None = None  # the edge list _own_graph's structures were computed for
        self._weighted: tuple[Tensor, WeightedAdjacency] | None = None  # see _weighted_adjacency
        self._layer_buffers = LayerBuffers()  # a training step's [N, d] layers and gradients (see _propagated_mean)

    def attention_logits(self) -> Tensor | None:
        """Attention logits of the model's edges from the layer-0 embeddings, or None without attention. An
        edge's logit depends on its own endpoints and relation only, so a subgraph's are a selection of these.
        In evaluation mode they are computed once (until the model next enters training mode), as the cached
        final embeddings are: scoring, the explainer's path weights and every deletion test use the same.

        As in KGAT, the attention is a function of the KG embedding and receives no gradient from the
        ranking loss: back-propagating BPR through the softmax lets it collapse onto a few edges.
        """
        if not self.config.attention:
            return None
        if not self.training and self._eval_logits is not None and self._eval_logits.device == self.edge_index.device:
            return self._eval_logits
        with torch.no_grad():
            logits = self._own_graph().attention(self.node_emb.weight, self.kge.normal_table(), self.kge.rel_emb.weight)
        self._eval_logits = None if self.training else logits
        return logits

    def train(self, mode: bool = True) -> KGRec:
        """Switch mode; entering training mode also drops the epoch's attention (``attention_refresh``), any
        switch the evaluation-mode attention logits, and leaving it the training steps' layer buffers (the
        evaluation that follows needs the memory)."""
        self._epoch_edge_weight = self._eval_logits = None
        if not mode:
            self._layer_buffers = LayerBuffers()
        return super().train(mode)

    def training_edge_weight(self) -> Tensor:
        """The edge weights of a training step: fresh with ``attention_refresh = "step"``; with ``"epoch"``
        those computed at the first step since the model last entered training mode (the trainer does so
        once per epoch), as the attention receives no gradient anyway."""
        if self.config.attention_refresh == "step" or not self.training:
            return self.edge_weight()
        if self._epoch_edge_weight is None:
            self._epoch_edge_weight = self.edge_weight()
        return self._epoch_edge_weight

    def edge_weight(self, keep: Tensor | None = None) -> Tensor:
        """Propagation weight of each edge (of the ``keep`` subgraph, renormalised over what is kept)."""
        edge_index, logits, config = self.edge_index, self.attention_logits(), self.config
        if keep is not None:
            edge_index, logits = edge_index[:, keep], None if logits is None else logits[keep]
        return edge_weights(logits, edge_index, self.num_nodes, config.norm_target, config.norm_source)

    def propagate(self, edge_weight: Tensor | None = None, keep: Tensor | None = None, edge_mask: Tensor | None = None) -> Tensor:
        """All node representations: the mean of the layer outputs (layer 0 included), over the edges
        ``keep`` selects (a bool mask or edge indices; all by default).

        ``edge_mask`` (one value per kept edge) multiplies the weights without renormalising them — 1 keeps
        an edge, 0 silences it — and forces per-edge message passing, so gradients reach the mask and
        PyG's explain hooks (``set_masks``) see one message per edge (sensitivity analysis).

        Without per-edge messages, the edges left out keep their places in the model's own sparse pattern
        with weight 0, so propagating over a subgraph re-sorts nothing (a deletion test on MovieLens-1M's
        1.5 M edges: 0.5 → 0.16 s; the same sums).
        """
        edge_index = self.edge_index if keep is None else self.edge_index[:, keep]
        if edge_weight is None:
            edge_weight = self.training_edge_weight() if keep is None else self.edge_weight(keep)
        if edge_mask is not None:
            edge_weight = edge_weight * edge_mask
        elif keep is not None and not edge_weight.requires_grad:
            full = edge_weight.new_zeros(self.edge_index.size(1)).index_put((keep,), edge_weight)
            edge_index, edge_weight = self.edge_index, full
        return self._propagated_mean(edge_index, edge_weight, edge_mask is not None)

    def _propagated_mean(self, edge_index: Tensor, edge_weight: Tensor, per_edge: bool = False, x: Tensor | None = None) -> Tensor:
        """The mean of layer 0 (the embeddings; ``x``: the rows of a subgraph's nodes, which ``edge_index`` then
        numbers 0 … n − 1) and every layer's output, summed as the layers are computed: two layers and the sum
        are held at a time, not every layer (the sum's order, and so its bits, are those of summing the list).
        The running sum also hands every layer the same gradient instead of materialising an [N, L+1, d] one
        for a stacked tensor. With fixed weights and parameter-free layers (``aggregator: mean``) the whole
        propagation and its gradient are one :func:`~kgrec.models.sparse.layer_mean`, whose layers stay in the
        model's buffers from one training step to the next (the same bits)."""
        # evaluation may run in several threads, and a sampled subgraph has another size at every step
        reuse = x is None and self.training and torch.is_grad_enabled()
        x = self.node_emb.weight if x is None else x
        if edge_weight.requires_grad or per_edge:  # per-edge gradients or masks
            graph, weight = edge_index, edge_weight
        else:
            graph, weight = self._weighted_adjacency(edge_index, edge_weight, x.size(0)), None
            if self.convs and self.config.aggregator == "mean":  # every layer is built with the config's aggregator
                return layer_mean(graph, x, len(self.convs), self._layer_buffers if reuse else None)
        total = x
        for depth, conv in enumerate(self.convs):
            x = conv(x, graph, weight)
            total = total + x if depth == 0 else total.add_(x)  # the first sum is new: layer 0 may be a leaf
        return total / (len(self.convs) + 1)

    def _weighted_adjacency(self, edge_index: Tensor, edge_weight: Tensor, num_nodes: int) -> WeightedAdjacency:
        """The sparse adjacency carrying ``edge_weight``; for the model's own edges, kept while the same weight
        tensor comes back (every step of an epoch with ``attention_refresh = "epoch"``)."""
        if edge_index is not self.edge_index:
            return AdjacencyPattern(edge_index, num_nodes).weighted(edge_weight)
        if self._weighted is None or self._weighted[0] is not edge_weight:
            self._weighted = (edge_weight, self._own_graph().adjacency.weighted(edge_weight))
        return self._weighted[1]

    def _own_graph(self) -> _GraphStructures:
        """The sorted index structures of the model's own edge list, computed at first use (and again after
        the model moves to another device): every training step propagates over it."""
        if self._structures_of is not self.edge_index:
            self._structures = _GraphStructures(
                AdjacencyPattern(self.edge_index, self.num_nodes), TransHAttention(self.edge_index, self.edge_type, self.num_nodes),
                torch.bincount(self.edge_index[1], minlength=self.num_nodes),
            )
            self._structures_of = self.edge_index
        return self._structures

    def embeddings(self) -> tuple[Tensor, Tensor]:
        return _users_and_items(self.propagate(), self.n_users, self.n_items)

    def propagation_edges(self) -> Tensor:
        return self.edge_index

    def propagation_edge_type(self) -> Tensor:
        return self.edge_type

    def propagation_weights(self) -> Tensor:
        return self.edge_weight()

    def embeddings_without(self, dropped: Tensor) -> tuple[Tensor, Tensor]:
        return _users_and_items(self.propagate(keep=~dropped), self.n_users, self.n_items)

    def squared_ego_norm(self, users: Tensor, items: Tensor) -> Tensor:
        """Σ over the batch's rows of ‖e‖², as Σ over nodes of (occurrences) · ‖e‖²: no gather of the
        batch's rows (64 negatives per positive) and no scatter of their gradient back into the table."""
        weight = self.node_emb.weight
        counts = torch.bincount(torch.cat([users, items + self.n_users]), minlength=weight.size(0)).to(weight.dtype)
        return _CountedSquaredNorm.apply(counts, weight, weight)

    def kg_loss(self, batch_size: int, generator: torch.Generator | None = None, shard: Shard = WHOLE) -> Tensor:
        """TransH margin loss on ``batch_size`` random KG triples of the graph, with "bern" negatives.

        With a ``shard`` every process draws the same global batch of triples and negatives (the same
        random stream) and computes its part of the loss (:meth:`TransH.loss`)."""
        n = self.kg_triples.size(1)
        pick = torch.randint(n, (min(batch_size, n),), generator=generator, device=self.kg_triples.device)
        head, rel, tail = self.kg_triples[:, pick]
        neg_head, neg_tail = bern_corrupt(head, rel, tail, self.num_nodes, self.bern, generator)
        return self.kge.loss(head, rel, tail, neg_head, neg_tail, shard)

    def loss(self, users: Tensor, positives: Tensor, negatives: Tensor, objective: Objective = BPR,
             shard: Shard = WHOLE) -> tuple[Tensor, dict[str, float]]:
        return self._with_kg_loss(*super().loss(users, positives, negatives, objective, shard), shard)

    def _with_kg_loss(self, total: Tensor, parts: dict[str, float], shard: Shard = WHOLE) -> tuple[Tensor, dict[str, float]]:
        """The loss plus λ_kg · the TransH loss of a batch of triples (when the config has it)."""
        if self.config.lambda_kg > 0 and self.config.use_kg and self.kg_triples.size(1):
            kg = self.kg_loss(self.config.kg_batch_size, shard=shard)
            total = total + self.config.lambda_kg * kg
            parts["kg"] = float(kg.detach())
        return total, parts

    # ---- mini-batch training over a sampled neighbourhood (train.sampling = "neighbor") --------------------
    def batch_nodes(self, users: Tensor, positives: Tensor, negatives: Tensor) -> Tensor:
        """The CKG nodes of a training batch, sorted and distinct: its users, positive and negative items."""
        return torch.unique(torch.cat([users, positives + self.n_users, negatives.reshape(-1) + self.n_users]))

    def propagate_sample(self, sample: SamplerOutput) -> Tensor:
        """Representations [n, d] of the sampled nodes ``sample.node``: the mean of L layers propagated over
        the sampled edges only, each carrying its propagation weight in the full graph
        (:meth:`training_edge_weight`) times deg(i) / s(i) for a target i with deg(i) in-edges of which s(i)
        were sampled — each edge's inverse inclusion probability under uniform sampling, so the sampled
        message is an unbiased estimate of the full one, and exactly it where all were kept.

        A node's representation is exact when the sample holds its whole L-hop in-neighbourhood (a seed of
        a sample with unlimited fan-outs). The weights are computed on the full edge list, as for full
        propagation, so the model trained is the one evaluation propagates: with ``attention_refresh =
        "epoch"`` once per epoch (O(E), cheap next to an epoch of steps), with ``"step"`` at every step.
        """
        device = self.edge_index.device
        node, row, col = sample.node.to(device), sample.row.to(device), sample.col.to(device)
        in_degree = self._own_graph().in_degree.index_select(0, node.index_select(0, col))
        sampled = torch.bincount(col, minlength=node.numel()).index_select(0, col)
        weight = self.training_edge_weight().index_select(0, sample.edge.to(device)) * (in_degree / sampled)
        return self._propagated_mean(torch.stack([row, col]), weight, x=self.node_emb.weight.index_select(0, node))

    def sampled_loss(self, users: Tensor, positives: Tensor, negatives: Tensor, sample: SamplerOutput,
                     objective: Objective = BPR, shard: Shard = WHOLE) -> tuple[Tensor, dict[str, float]]:
        """:meth:`loss` with the propagation over ``sample`` only: a sample whose first nodes are
        :meth:`batch_nodes` (the seeds), as :class:`kgrec.training.neighbors.NeighborSampler` draws it.
        The ranking loss, λ₂ · L2 of the batch's layer-0 rows and the TransH loss are those of :meth:`loss`.
        With a ``shard`` the batch is the global one and ``sample`` that of this process's rows of it."""
        total_rows = len(users)
        users, positives, negatives = shard.take(users, positives, negatives)
        if not len(users):  # a global batch with fewer rows than processes (see RankingModel.ranking_loss)
            zero = sum((p.reshape(-1)[:0].sum() for p in self.convs.parameters()), self.node_emb.weight[:0].sum())
            return self._with_kg_loss(zero, {objective.loss: 0.0, "l2": 0.0}, shard)
        seeds = self.batch_nodes(users, positives, negatives)
        if not torch.equal(sample.node[: seeds.numel()].to(seeds.device), seeds):
            raise ValueError("sampled_loss: the sample's first nodes must be the batch's nodes (batch_nodes)")
        final = self.propagate_sample(sample)
        user_ids, positive_ids = torch.searchsorted(seeds, users), torch.searchsorted(seeds, positives + self.n_users)
        negative_ids = torch.searchsorted(seeds, negatives.reshape(-1) + self.n_users)
        user_rows, positive_rows = final.index_select(0, user_ids), final.index_select(0, positive_ids)
        negative_rows = final.index_select(0, negative_ids).view(len(users), -1, final.size(-1))
        ranking = ranking_term(user_rows, positive_rows, negative_rows, objective)
        counts = torch.bincount(torch.cat([user_ids, positive_ids, negative_ids]), minlength=seeds.numel())
        ego = self.node_emb.weight.index_select(0, seeds)
        reg = counts.to(ego.dtype) @ (ego * ego).sum(dim=-1) / (2 * len(users))
        total = ranking + self.l2 * reg
        parts = {objective.loss: float(ranking.detach()), "l2": float(reg.detach())}
        return self._with_kg_loss(*shard_weighted(total, parts, shard, len(users), total_rows), shard)


class _CountedSquaredNorm(torch.autograd.Function):
    """counts @ (‖row‖² of every row of ``weight``), with the value and gradients autograd gives
    ``counts @ (weight * weight).sum(-1)``, bit for bit, without its [N, d] square: the squares are summed a
    block of rows at a time. ``weight`` enters twice, as the two factors of the square, so that the table gets
    their two gradients separately, summed with its others in the order it always did (the same trained bits)."""

    BLOCK = 1 << 16  # rows squared at a time

    @staticmethod
    def forward(ctx, counts: Tensor, weight: Tensor, factor: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(counts, weight)
        squares = weight.new_empty(weight.size(0))
        blocks = (t.split(_CountedSquaredNorm.BLOCK) for t in (weight, factor, squares))
        for rows, factors, out in zip(*blocks):
            torch.sum(rows * factors, dim=-1, out=out)
        return counts @ squares

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[None, Tensor, Tensor]:  # type: ignore[override]
        counts, weight = ctx.saved_tensors
        per_row = (grad * counts).unsqueeze(-1)
        return None, weight * per_row, weight * per_row


def _users_and_items(nodes: Tensor, n_users: int, n_items: int) -> tuple[Tensor, Tensor]:
    """The user rows and the item rows of all node representations, by one split: its gradient is one [N, d]
    tensor, where two slices' are two, summed into a third."""
    users, items, _ = nodes.split([n_users, n_items, nodes.size(0) - n_users - n_items])
    return users, items


def relation_usage(model: KGRec) -> np.ndarray:
    """Number of propagation edges per relation id (for reports and sanity checks)."""
    return torch.bincount(model.edge_type, minlength=int(model.bern.numel())).cpu().numpy()
