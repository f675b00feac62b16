"""TransH (Wang et al., AAAI 2014) as a PyG ``KGEModel``, its hyperplane helpers and "bern" negative sampling.

``transh_project`` and ``transh_distance`` are standalone so the recommender's attention layer can score
edges with the same formula as the KG embedding it is trained jointly with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Embedding
from torch_geometric.nn.kge import KGEModel

from kgrec.models.base import WHOLE, Shard


def transh_project(x: Tensor, w: Tensor) -> Tensor:
    r"""Project ``x`` onto the hyperplane with unit normal ``w``: :math:`x_\perp = x - (w^\top x)\, w`.

    ``w`` must have unit L2 norm (not checked); both broadcast over leading dims, the last dim is the embedding.
    """
    return x - (x * w).sum(dim=-1, keepdim=True) * w


def transh_distance(
    h: Tensor, t: Tensor, w: Tensor, d: Tensor, p_norm: float = 2.0, squared: bool = True
) -> Tensor:
    r"""TransH distance :math:`\| h_\perp + d_r - t_\perp \|_p` (squared by default), over the last dim.

    With :math:`x_\perp = x - (w_r^\top x) w_r` and unit ``w``; the paper scores
    :math:`f_r(h, t) = \| h_\perp + d_r - t_\perp \|_2^2` (low = plausible). ``squared`` returns the
    ``p_norm``-norm squared (for ``p_norm=2`` the plain sum of squares, exact and smooth at zero).
    """
    diff = transh_project(h, w) + d - transh_project(t, w)
    if p_norm == 2:
        sq = (diff * diff).sum(dim=-1)
        return sq if squared else sq.sqrt()
    dist = diff.norm(p=p_norm, dim=-1)
    return dist * dist if squared else dist


def squared_transh_distance(delta: Tensor, w: Tensor, d: Tensor) -> Tensor:
    r""":math:`\| \Delta_\perp + d_r \|_2^2` for :math:`\Delta = h - t`: the paper's score, as the projection is
    linear (:math:`h_\perp - t_\perp = \Delta_\perp`), with a hand-written gradient.

    Equal to ``transh_distance(h, t, w, d)`` up to rounding, in about half the time with gradients: one
    projection instead of two, and a backward pass of a few fused steps instead of autograd's chain.
    ``w`` and ``d`` may broadcast against ``delta`` over leading dims (e.g. positives and negatives
    stacked in front of one batch of relations).
    """
    return _SquaredTransHDistance.apply(delta, w, d)


class _SquaredTransHDistance(torch.autograd.Function):
    """Forward and backward of :func:`squared_transh_distance`."""

    @staticmethod
    def forward(ctx, delta: Tensor, w: Tensor, d: Tensor) -> Tensor:
        along = (delta * w).sum(dim=-1, keepdim=True)  # wᵀΔ
        residual = torch.addcmul(delta + d, along, w, value=-1.0)  # Δ⊥ + d
        ctx.save_for_backward(delta, w, along, residual)
        ctx.translation_shape = d.shape
        return (residual * residual).sum(dim=-1)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        delta, w, along, residual = ctx.saved_tensors
        g = residual * (2.0 * grad).unsqueeze(-1)  # ∂/∂(Δ⊥ + d), which is also ∂/∂d
        g_along = (g * w).sum(dim=-1, keepdim=True)
        grad_delta = torch.addcmul(g, g_along, w, value=-1.0)  # the projection is symmetric: g⊥
        grad_w = torch.addcmul(along * g, g_along, delta).neg_()  # −(wᵀΔ) g − (wᵀg) Δ
        return _sum_to(grad_delta, delta.shape), _sum_to(grad_w, w.shape), _sum_to(g, ctx.translation_shape)


def _sum_to(grad: Tensor, shape: torch.Size) -> Tensor:
    """Sum a broadcast gradient back to ``shape`` (leading dims that were added or of size 1)."""
    if grad.shape == shape:
        return grad
    extra = grad.dim() - len(shape)
    grad = grad.sum(dim=tuple(range(extra))) if extra else grad
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.size(i) != 1)
    return grad.sum(dim=ones, keepdim=True) if ones else grad


class TransH(KGEModel):
    r"""The TransH model from the `"Knowledge Graph Embedding by Translating on Hyperplanes"
    <https://ojs.aaai.org/index.php/AAAI/article/view/8870>`_ paper (Wang et al., AAAI 2014).

    Each relation :math:`r` has a hyperplane with unit normal :math:`\mathbf{w}_r` and a translation
    :math:`\mathbf{d}_r` on it; entities are projected, :math:`\mathbf{e}_\perp = \mathbf{e} -
    \mathbf{w}_r^\top \mathbf{e}\, \mathbf{w}_r`, so that :math:`\mathbf{h}_\perp + \mathbf{d}_r \approx
    \mathbf{t}_\perp`, giving the score (higher = more plausible)

    .. math::
        s(h, r, t) = - {\| \mathbf{h}_\perp + \mathbf{d}_r - \mathbf{t}_\perp \|}_2^2 .

    The loss is the margin ranking loss plus the paper's soft constraints, averaged over the entities
    and relations in the batch: :math:`[\|\mathbf{e}\|_2^2 - 1]_+` and
    :math:`[(\mathbf{w}_r^\top \mathbf{d}_r)^2 / \|\mathbf{d}_r\|_2^2 - \epsilon^2]_+`.
    :math:`\mathbf{w}_r` is L2-normalised inside :meth:`forward`, so :math:`\|\mathbf{w}_r\| = 1` always holds.

    Args:
        num_nodes (int): The number of nodes/entities in the graph.
        num_relations (int): The number of relations in the graph.
        hidden_channels (int): The hidden embedding size.
        margin (float, optional): The margin of the ranking loss. (default: :obj:`1.0`)
        p_norm (float, optional): The order of the distance norm. (default: :obj:`2.0`)
        squared (bool, optional): Use the squared distance, as in the paper. (default: :obj:`True`)
        sparse (bool, optional): If set to :obj:`True`, gradients w.r.t. to the
            embedding matrices will be sparse. (default: :obj:`False`)
        soft_constraint_weight (float, optional): The weight :math:`C` of the soft constraints.
            (default: :obj:`0.05`)
        epsilon (float, optional): The orthogonality tolerance :math:`\epsilon`. (default: :obj:`1e-5`)
        hyperplanes (bool, optional): If set to :obj:`False`, no projection (:math:`\mathbf{w}_r = 0`):
            squared-L2 TransE, the joint model's ablation. (default: :obj:`True`)
    """

    def __init__(
        self,
        num_nodes: int,
        num_relations: int,
        hidden_channels: int,
        margin: float = 1.0,
        p_norm: float = 2.0,
        squared: bool = True,
        sparse: bool = False,
        soft_constraint_weight: float = 0.05,
        epsilon: float = 1e-5,
        hyperplanes: bool = True,
    ):
        super().__init__(num_nodes, num_relations, hidden_channels, sparse)
        self.hyperplanes = hyperplanes
        self.margin = margin
        self.p_norm = p_norm
        self.squared = squared
        self.soft_constraint_weight = soft_constraint_weight
        self.epsilon = epsilon
        self.rel_normal = Embedding(num_relations, hidden_channels, sparse=sparse)
        self.reset_parameters()

    def reset_parameters(self):
        """Xavier-uniform tables (as OpenKE's TransH); the normals start at unit length."""
        for emb in (self.node_emb, self.rel_emb, self.rel_normal):
            torch.nn.init.xavier_uniform_(emb.weight)
        F.normalize(self.rel_normal.weight.data, p=2.0, dim=-1, out=self.rel_normal.weight.data)

    def normals(self, rel_type: Tensor) -> Tensor:
        """Unit hyperplane normals w_r; zeros when ``hyperplanes`` is off, which turns TransH into TransE."""
        return self._unit_normals(self.rel_normal(rel_type))

    def normal_table(self) -> Tensor:
        """Every relation's unit normal [R, d] (the same rows as :meth:`normals`), for batches that need
        many: the table is small, so indexing it is cheaper than an embedding lookup per batch."""
        return self._unit_normals(self.rel_normal.weight)

    def _unit_normals(self, w: Tensor) -> Tensor:
        return F.normalize(w, p=2.0, dim=-1) if self.hyperplanes else torch.zeros_like(w)

    def forward(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        w = self.normals(rel_type)
        head, tail, d = self.node_emb(head_index), self.node_emb(tail_index), self.rel_emb(rel_type)
        return -transh_distance(head, tail, w, d, self.p_norm, self.squared)

    def soft_constraint(self, node_index: Tensor, rel_type: Tensor) -> Tensor:
        r"""Mean :math:`[\|e\|^2 - 1]_+` over the unique ``node_index`` plus mean
        :math:`[(w_r^\top d_r)^2 / \|d_r\|^2 - \epsilon^2]_+` over the unique ``rel_type`` (unweighted)."""
        rels = rel_type.unique()
        return self._constraint_penalty(self.node_emb(node_index.unique()), self.normals(rels), self.rel_emb(rels))

    def _constraint_penalty(self, entities: Tensor, normals: Tensor, translations: Tensor, shard: Shard = WHOLE,
                            totals: tuple[int, int] | None = None) -> Tensor:
        """The soft constraints on given rows of the tables (each entity and relation once); with a ``shard``,
        this process's part of their means over ``totals`` = (distinct entities, distinct relations)."""
        n_entities, n_relations = (len(entities), len(normals)) if totals is None else totals
        entity = shard.mean(F.relu((entities * entities).sum(dim=-1) - 1.0), n_entities)
        if not self.hyperplanes:
            return entity
        cos2 = (normals * translations).sum(dim=-1).pow(2) / (translations * translations).sum(dim=-1).clamp_min(1e-12)
        return entity + shard.mean(F.relu(cos2 - self.epsilon**2), n_relations)

    def loss(
        self,
        head_index: Tensor,
        rel_type: Tensor,
        tail_index: Tensor,
        neg_head_index: Tensor | None = None,
        neg_tail_index: Tensor | None = None,
        shard: Shard = WHOLE,
    ) -> Tensor:
        """Margin ranking loss (mean) + ``soft_constraint_weight`` × :meth:`soft_constraint` on the batch.

        Negatives pair row-wise with the positives. Without both, PyG's uniform :meth:`random_sample` is
        used; with one, the other side keeps the positive index (e.g. from :func:`bern_corrupt`).
        The value is that of :meth:`forward` and :meth:`soft_constraint` on the batch, computed from one
        lookup of the batch's unique entities, so the entity table's gradient is built once per call,
        not once per lookup (the joint recommender calls this at every training step).

        ``shard`` (data parallelism, :class:`kgrec.models.base.Shard`): the triples are the global batch; this
        process scores its rows of it and constrains every world-th of the batch's distinct entities and
        relations, each term weighted so that the mean over the processes is the global batch's loss.
        """
        if neg_head_index is None and neg_tail_index is None:
            neg_head_index, _, neg_tail_index = self.random_sample(head_index, rel_type, tail_index)
        neg_head_index = head_index if neg_head_index is None else neg_head_index
        neg_tail_index = tail_index if neg_tail_index is None else neg_tail_index
        total = len(head_index)
        sides = shard.take(head_index, neg_head_index, tail_index, neg_tail_index)
        local_rel = shard.take(rel_type)[0]
        rels, constrained, totals = rel_type.unique(), None, None
        if shard.world > 1:  # the constraints are means over the global batch's distinct rows: every world-th here
            every_node = torch.cat([head_index, neg_head_index, tail_index, neg_tail_index]).unique()
            constrained, totals = every_node[shard.rank :: shard.world], (every_node.numel(), rels.numel())
            rels = rels[shard.rank :: shard.world]
        nodes = torch.cat([*sides] if constrained is None else [*sides, constrained])
        unique_nodes, row_of_node = nodes.unique(return_inverse=True)
        entities = self.node_emb(unique_nodes)
        local = len(local_rel)
        dim = entities.size(-1)
        heads, tails = entities.index_select(0, row_of_node[: 4 * local]).view(2, 2, local, dim)  # [pos/neg, B, d] each
        normals, translations = self.normal_table(), self.rel_emb.weight
        w, d = normals.index_select(0, local_rel), translations.index_select(0, local_rel)
        if self.p_norm == 2 and self.squared:
            pos, neg = -squared_transh_distance(heads - tails, w, d)
        else:
            pos, neg = -transh_distance(heads, tails, w, d, self.p_norm, self.squared)
        margins = F.margin_ranking_loss(pos, neg, target=torch.ones_like(pos), margin=self.margin, reduction="none")
        ranking = shard.mean(margins, total)
        if constrained is not None:
            entities = entities.index_select(0, row_of_node[4 * local :])
        penalty = self._constraint_penalty(
            entities, normals.index_select(0, rels), translations.index_select(0, rels), shard, totals
        )
        return ranking + self.soft_constraint_weight * penalty


def bern_probabilities(head: Tensor, rel: Tensor, tail: Tensor, num_relations: int) -> Tensor:
    """Per relation, the "bern" probability of corrupting the head: ``tph / (tph + hpt)`` (Wang et al. 2014).

    ``tph`` = mean number of tails per distinct head, ``hpt`` = mean number of heads per distinct tail,
    of the relation; one-to-many relations thus mostly corrupt the head, which yields fewer false negatives.
    The triple count cancels (duplicates do not matter): P = #distinct tails / (#distinct heads + #distinct tails).
    Relations without triples get 0.5. Returns a float tensor [num_relations].
    """
    if rel.numel() and (int(rel.min()) < 0 or int(rel.max()) >= num_relations):
        raise ValueError(f"relation ids must lie in [0, {num_relations})")
    num_triples = torch.bincount(rel, minlength=num_relations).float()
    span = int(torch.cat([head, tail]).max()) + 1 if head.numel() else 1  # (relation, node) as one key: a 1-D unique
    num_heads = torch.bincount(torch.unique(rel * span + head) // span, minlength=num_relations).float()
    num_tails = torch.bincount(torch.unique(rel * span + tail) // span, minlength=num_relations).float()
    tph = num_triples / num_heads.clamp_min(1.0)
    hpt = num_triples / num_tails.clamp_min(1.0)
    return torch.where(num_triples > 0, tph / (tph + hpt).clamp_min(1e-12), torch.full_like(tph, 0.5))


def bern_corrupt(
    head: Tensor,
    rel: Tensor,
    tail: Tensor,
    num_nodes: int,
    probabilities: Tensor,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """One negative per positive: with ``probabilities[r]`` replace the head, else the tail, by a uniform entity.

    Unfiltered like PyG's ``random_sample`` (the draw may hit the original entity or another true triple).
    Returns ``(neg_head, neg_tail)``; pass them to :meth:`TransH.loss`.
    """
    p = probabilities.to(device=head.device, dtype=torch.float)[rel]
    replace_head = torch.rand(head.shape, generator=generator, device=head.device) < p
    random = torch.randint(num_nodes, head.shape, generator=generator, device=head.device)
    return torch.where(replace_head, random, head), torch.where(replace_head, tail, random)
