"""The joint recommender: a knowledge-aware GNN over the collaborative KG, trained with TransH.

One embedding table serves both parts: TransH learns it from KG triples, the GNN propagates it over
user–item and KG edges with attention from TransH's hyperplane geometry, and BPR ranks items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kgrec.config import ModelConfig
from kgrec.data.graph import CollaborativeKG
from kgrec.models.base import BPR, Objective, RankingModel
from kgrec.models.layers import KnowledgeAttentionConv, TransHAttention, edge_weights
from kgrec.models.sparse import AdjacencyPattern
from kgrec.models.transh import TransH, bern_corrupt, bern_probabilities


@dataclass(frozen=True)
class _GraphStructures:
    """What the model precomputes once for its edge list: the sparse pattern and the attention's pairs."""

    adjacency: AdjacencyPattern
    attention: TransHAttention


class KGRec(RankingModel):
    """score(u, i) = ⟨ū, ī⟩ with ū, ī the mean of the L propagation layers over the CKG (or LightGCN++'s
    ``ego_weight`` mix; unit-normalised with ``config.normalize``, so the score is a cosine).

    Loss = BPR + λ₂·L2 + λ_kg · TransH margin loss on a batch of KG triples (with "bern" negatives).
    ``config.use_kg = False`` keeps only interact edges (pure CF), ``attention = False`` uses uniform
    weights, ``kge = "transe"`` drops the hyperplanes, ``lambda_kg = 0`` drops the KG loss.
    """

    synthesises_negatives = True

    def __init__(self, graph: CollaborativeKG, config: ModelConfig) -> None:
        super().__init__(graph.n_users, graph.n_items, config.l2)
        self.config = config
        self.num_nodes = graph.num_nodes
        self.kge = TransH(
            graph.num_nodes, graph.num_relations, config.dim, margin=config.margin, hyperplanes=config.kge == "transh"
        )
        self.node_emb = self.kge.node_emb  # shared between the GNN and TransH
        nn.init.normal_(self.node_emb.weight, std=0.1)
        half = graph.num_relations // 2
        edge_type = graph.data.edge_type
        is_interact = (edge_type == 0) | (edge_type == half)
        keep = torch.ones_like(is_interact) if config.use_kg else is_interact
        self.register_buffer("edge_index", graph.data.edge_index[:, keep].clone())
        self.register_buffer("edge_type", edge_type[keep].clone())
        kg = ~is_interact
        self.register_buffer("edge_scale", torch.where(is_interact[keep], 1.0, config.kg_weight))
        self.register_buffer("kg_triples", torch.stack([graph.data.edge_index[0, kg], edge_type[kg], graph.data.edge_index[1, kg]]))
        self.register_buffer(
            "bern", bern_probabilities(self.kg_triples[0], self.kg_triples[1], self.kg_triples[2], graph.num_relations)
        )
        self.convs = nn.ModuleList(
            KnowledgeAttentionConv(config.dim, config.aggregator, config.message_dropout) for _ in range(config.layers)
        )
        self._epoch_edge_weight: Tensor | None = None  # see training_edge_weight

    def attention_logits(self, edge_index: Tensor | None = None, edge_type: Tensor | None = None) -> Tensor | None:
        """Per-edge attention logits from the layer-0 embeddings over ``config.attention_temperature``, or
        None without attention.

        As in KGAT, the attention is a function of the KG embedding and receives no gradient from the
        ranking loss: back-propagating BPR through the softmax lets it collapse onto a few edges.
        """
        if not self.config.attention:
            return None
        if edge_index is None or edge_index is self.edge_index:
            attention = self._own_graph().attention
        else:
            attention = TransHAttention(edge_index, self.edge_type if edge_type is None else edge_type, self.num_nodes)
        with torch.no_grad():
            logits = attention(self.node_emb.weight, self.kge.normal_table(), self.kge.rel_emb.weight)
        return logits / self.config.attention_temperature

    def train(self, mode: bool = True) -> KGRec:
        """Switch mode; entering training mode also drops the epoch's attention (``attention_refresh``)."""
        self._epoch_edge_weight = None
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
        edge_index, edge_type, scale = self.edge_index, self.edge_type, self.edge_scale
        if keep is not None:
            edge_index, edge_type, scale = edge_index[:, keep], edge_type[keep], scale[keep]
        logits, config = self.attention_logits(edge_index, edge_type), self.config
        return edge_weights(logits, edge_index, self.num_nodes, config.norm_target, config.norm_source) * scale

    def propagate(self, edge_weight: Tensor | None = None, keep: Tensor | None = None, edge_mask: Tensor | None = None) -> Tensor:
        """All node representations: the layer outputs (layer 0 included) read out by :meth:`_readout`,
        over the edges ``keep`` selects (a bool mask or edge indices; all by default).

        ``edge_mask`` (one value per kept edge) multiplies the weights without renormalising them — 1 keeps
        an edge, 0 silences it — and forces per-edge message passing, so gradients reach the mask and
        PyG's explain hooks (``set_masks``) see one message per edge (sensitivity analysis).
        """
        edge_index = self.edge_index if keep is None else self.edge_index[:, keep]
        if edge_weight is None:
            edge_weight = self.training_edge_weight() if keep is None else self.edge_weight(keep)
        if edge_mask is not None:
            edge_weight = edge_weight * edge_mask
        return self._readout(self._layer_outputs(edge_index, edge_weight, edge_mask is not None))

    def _readout(self, layers: Sequence[Tensor]) -> Tensor:
        """The mean of the layer outputs ``layers`` (L+1 tensors [..., d]; or ``ego_weight`` · layer 0 + the
        rest · the mean of the others), unit-normalised with ``config.normalize`` (scores are then cosines).

        A running sum, not a mean over a stacked tensor: the backward pass then hands every layer the same
        gradient instead of materialising an [N, L+1, d] one."""
        ego_weight = self.config.ego_weight
        if ego_weight is None or len(layers) == 1:
            nodes = _mean(layers)
        else:
            nodes = ego_weight * layers[0] + (1 - ego_weight) * _mean(layers[1:])
        return F.normalize(nodes, dim=-1) if self.config.normalize else nodes

    def _layer_outputs(self, edge_index: Tensor, edge_weight: Tensor, per_edge: bool = False, noise: float = 0.0) -> list[Tensor]:
        """Layer 0 (the embeddings) and every layer's output; ``noise`` > 0 adds XSimGCL's perturbation
        (a random vector of that norm, in the sign orthant of the output) after each layer."""
        dropout = self.training and self.config.message_dropout > 0
        if edge_weight.requires_grad or dropout or per_edge:  # per-edge gradients, masks or dropout
            graph, weight = edge_index, edge_weight
        else:
            pattern = self._own_graph().adjacency if edge_index is self.edge_index else AdjacencyPattern(edge_index, self.num_nodes)
            graph, weight = pattern.weighted(edge_weight), None
        x = self.node_emb.weight
        layers = [x]
        for conv in self.convs:
            if self.config.normalize_layers:
                x = F.normalize(x, dim=-1)
            x = conv(x, graph, weight)
            if noise > 0:
                x = x + torch.sign(x) * F.normalize(torch.rand_like(x), dim=-1) * noise
            layers.append(x)
        return layers

    def _own_graph(self) -> _GraphStructures:
        """The sorted index structures of the model's own edge list, computed at first use (and again after
        the model moves to another device): every training step propagates over it."""
        if getattr(self, "_structures_of", None) is not self.edge_index:
            self._structures = _GraphStructures(
                AdjacencyPattern(self.edge_index, self.num_nodes), TransHAttention(self.edge_index, self.edge_type, self.num_nodes)
            )
            self._structures_of = self.edge_index
        return self._structures

    def embeddings(self) -> tuple[Tensor, Tensor]:
        nodes = self.propagate()
        return nodes[: self.n_users], nodes[self.n_users : self.n_users + self.n_items]

    def propagation_edges(self) -> Tensor:
        return self.edge_index

    def embeddings_without(self, dropped: Tensor) -> tuple[Tensor, Tensor]:
        nodes = self.propagate(keep=~dropped)
        return nodes[: self.n_users], nodes[self.n_users : self.n_users + self.n_items]

    def squared_ego_norm(self, users: Tensor, items: Tensor) -> Tensor:
        """Σ over the batch's rows of ‖e‖², as Σ over nodes of (occurrences) · ‖e‖²: no gather of the
        20,480 rows of a MixGCF batch and no scatter of their gradient back into the table."""
        weight = self.node_emb.weight
        counts = torch.bincount(torch.cat([users, items + self.n_users]), minlength=weight.size(0)).to(weight.dtype)
        return counts @ (weight * weight).sum(dim=-1)

    def kg_loss(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """TransH margin loss on ``batch_size`` random KG triples of the graph, with "bern" negatives."""
        n = self.kg_triples.size(1)
        pick = torch.randint(n, (min(batch_size, n),), generator=generator, device=self.kg_triples.device)
        head, rel, tail = self.kg_triples[:, pick]
        neg_head, neg_tail = bern_corrupt(head, rel, tail, self.num_nodes, self.bern, generator)
        return self.kge.loss(head, rel, tail, neg_head, neg_tail)

    def _mixgcf_rows(self, layers: Sequence[Tensor], users: Tensor, positives: Tensor,
                     negatives: Tensor) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """:func:`mixgcf_batch_layers` for a batch of item ids (``negatives`` [B, M]: the candidates)."""
        candidates = negatives.reshape(len(users), -1) + self.n_users
        return mixgcf_batch_layers(layers, users, positives + self.n_users, candidates)

    def loss(self, users: Tensor, positives: Tensor, negatives: Tensor, objective: Objective = BPR) -> tuple[Tensor, dict[str, float]]:
        config = self.config
        mix = objective.negative_choice == "mixgcf"
        if mix and config.cl_weight == 0 and self.training:  # only the batch's rows are read out
            layers = self._layer_outputs(self.edge_index, self.training_edge_weight())
            rows = self._mixgcf_rows(layers, users, positives, negatives)
            user, positive, negative = (self._readout(layer_rows) for layer_rows in rows)
            total, parts = self.batch_loss(user, positive, negative.unsqueeze(1), users, positives, negatives, objective)
        elif config.cl_weight > 0 and self.training:
            layers = self._layer_outputs(self.edge_index, self.training_edge_weight(), noise=config.cl_noise)
            nodes = self._readout(layers)
            negative_emb = None
            if mix:
                negative_rows = self._mixgcf_rows(layers, users, positives, negatives)[2]
                negative_emb = self._readout(negative_rows).unsqueeze(1)  # [B, 1, d]
            total, parts = self.ranking_loss(nodes[: self.n_users], nodes[self.n_users : self.n_users + self.n_items],
                                             users, positives, negatives, objective, negative_emb)
            view = layers[config.cl_layer]
            batch_users, items = torch.unique(users), torch.unique(positives) + self.n_users
            contrast = info_nce(nodes[batch_users], view[batch_users], config.cl_temperature) + info_nce(nodes[items], view[items], config.cl_temperature)
            total = total + config.cl_weight * contrast
            parts["cl"] = float(contrast.detach())
        else:
            total, parts = super().loss(users, positives, negatives, objective)
        if self.config.lambda_kg > 0 and self.config.use_kg and self.kg_triples.size(1):
            kg = self.kg_loss(self.config.kg_batch_size)
            total = total + self.config.lambda_kg * kg
            parts["kg"] = float(kg.detach())
        return total, parts


def mixgcf_batch_layers(layers: Sequence[Tensor], users: Tensor, positives: Tensor, candidates: Tensor,
                        generator: torch.Generator | None = None) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    r"""Each layer's rows [B, d] of the batch's users, of its positives and of MixGCF's synthesised hard
    negative (Huang et al., KDD 2021), one per row of the batch: three lists of L+1 tensors.

    ``layers`` are every node's layer outputs (L+1 tensors [N, d]); ``users``, ``positives`` [B] and
    ``candidates`` [B, M] are node ids. Positive mixing: at layer l each candidate becomes
    :math:`\beta_l e^l_{i^+} + (1 - \beta_l) e^l_c` with :math:`\beta_l \sim U(0, 1)` drawn per row and layer;
    hop mixing: layer l of the negative is the mixed candidate with the highest :math:`\langle e^l_u, \cdot\rangle`.
    The choice is not differentiated; the mixed embeddings are. Since
    :math:`\langle e^l_u, \beta_l e^l_{i^+} + (1 - \beta_l) e^l_c\rangle` is the same for every candidate
    but for :math:`(1 - \beta_l) \langle e^l_u, e^l_c\rangle` and :math:`1 - \beta_l > 0`, the chosen
    candidate is the one with the highest :math:`\langle e^l_u, e^l_c\rangle`: only it is mixed, so no
    [B, M, L+1, d] tensor of mixes is ever built. Each layer is read by one differentiable gather (users,
    positives and chosen candidates together) into rows that stay separate tensors, so the backward pass
    builds one contiguous gradient per layer (index_add is about 3× slower on strided rows).
    """
    batch = len(users)
    beta = torch.rand(batch, len(layers), 1, device=users.device, generator=generator)
    flat_candidates = candidates.reshape(-1)
    user_rows, positive_rows, negative_rows = [], [], []
    for layer_beta, layer in zip(beta.unbind(dim=1), layers):
        with torch.no_grad():  # one batched matmul scores the M candidates against the user
            scores = torch.bmm(layer.index_select(0, flat_candidates).view(batch, -1, layer.size(-1)),
                               layer.index_select(0, users).unsqueeze(-1)).squeeze(-1)
            chosen = candidates.gather(1, scores.argmax(dim=1, keepdim=True)).squeeze(1)
        user, positive, chosen_row = layer.index_select(0, torch.cat([users, positives, chosen])).view(3, batch, -1)
        user_rows.append(user)
        positive_rows.append(positive)
        negative_rows.append(layer_beta * positive + (1 - layer_beta) * chosen_row)
    return user_rows, positive_rows, negative_rows


def _mean(tensors: Sequence[Tensor]) -> Tensor:
    """The element-wise mean of equally shaped tensors, without stacking them."""
    return sum(tensors[1:], tensors[0]) / len(tensors)


def info_nce(anchor: Tensor, positive: Tensor, temperature: float) -> Tensor:
    """InfoNCE: row r of ``anchor`` should be closest (cosine / ``temperature``) to row r of ``positive``
    among all rows of ``positive``; the mean of −log softmax of the matching pairs."""
    logits = F.normalize(anchor, dim=-1) @ F.normalize(positive, dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(anchor), device=anchor.device))


def relation_usage(model: KGRec) -> np.ndarray:
    """Number of propagation edges per relation id (for reports and sanity checks)."""
    return torch.bincount(model.edge_type, minlength=int(model.bern.numel())).cpu().numpy()
