"""The interface every recommender implements, so that one trainer, one evaluator and the explanations serve
them all (a graph model also declares its propagation edges, their relation ids and their weights)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class Objective:
    """How a batch's sampled negatives enter the ranking loss.

    ``loss``: ``bpr`` (−log σ(s⁺ − s⁻), the mean over the m negatives of each positive) or ``softmax``
    (sampled softmax: cross-entropy of the positive against its m negatives)."""

    loss: str = "bpr"


BPR = Objective()


@dataclass(frozen=True)
class Shard:
    """The part of every global batch one process computes under data parallelism: process ``rank`` of
    ``world`` takes the contiguous rows [n · rank / world, n · (rank + 1) / world) of an n-row batch.

    Every process draws the same global batch (one seed). A loss that is a mean over the batch's n rows is
    computed as the mean over this process's k rows times :meth:`weight` = world · k / n, so that the mean
    of the processes' losses — what DistributedDataParallel's averaged gradients differentiate — is the
    global batch's loss: Σ over processes of (sum of its rows) / n. ``Shard()`` (process 0 of 1) takes
    every row with weight 1, and leaves one-process training bit for bit as it was."""

    rank: int = 0
    world: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world:
            raise ValueError(f"Shard: rank {self.rank} is not one of the {self.world} processes")

    def rows(self, n: int) -> slice:
        """This process's rows of an ``n``-row batch."""
        return slice(n * self.rank // self.world, n * (self.rank + 1) // self.world)

    def take(self, *batch: Tensor) -> tuple[Tensor, ...]:
        """This process's rows of each of the equally long ``batch`` tensors."""
        if self.world == 1:
            return batch
        rows = self.rows(len(batch[0]))
        return tuple(tensor[rows] for tensor in batch)

    def weight(self, local: int, total: int) -> float:
        """The factor of a mean over ``local`` of a global batch's ``total`` rows: world · local / total."""
        return self.world * local / total

    def mean(self, values: Tensor, total: int) -> Tensor:
        """This process's part of the mean over ``total`` rows of which ``values`` are its own: their mean
        times :meth:`weight`, or a zero (connected to the graph) when it has none."""
        if self.world == 1:
            return values.mean()
        if values.numel() == 0:
            return values.sum()
        return values.mean() * self.weight(values.numel(), total)


WHOLE = Shard()


class RankingModel(nn.Module):
    """A model that scores every item for a batch of users.

    Subclasses implement :meth:`embeddings` (final user and item representations, score = dot product)
    or override :meth:`score_users`; trainable ones get BPR + L2 from :meth:`loss`. In eval mode the
    final embeddings are computed once and cached until the model is trained again.
    """

    trainable: bool = True

    def __init__(self, n_users: int, n_items: int, l2: float = 0.0) -> None:
        super().__init__()
        self.n_users, self.n_items, self.l2 = n_users, n_items, l2
        self._cache: tuple[Tensor, Tensor] | None = None

    def embeddings(self) -> tuple[Tensor, Tensor]:
        """Final (user [U, d], item [I, d]) representations."""
        raise NotImplementedError

    def ego_embeddings(self, users: Tensor, items: Tensor) -> list[Tensor]:
        """The layer-0 embeddings the default :meth:`squared_ego_norm` penalises (a subclass may override
        that instead)."""
        return []

    # ---- what training, evaluation and explanations read of a graph model (None: no graph) --------------
    def propagation_edges(self) -> Tensor | None:
        """The (2, E) node pairs a graph model propagates over; None for models without a graph."""
        return None

    def propagation_edge_type(self) -> Tensor | None:
        """The CKG relation id [E] of each :meth:`propagation_edges` edge; None for models without a graph."""
        return None

    def propagation_weights(self) -> Tensor | None:
        """The weight [E] each :meth:`propagation_edges` edge carries in the propagation (attention or
        degree normalisation); None for models without a graph."""
        return None

    def embeddings_without(self, dropped: Tensor) -> tuple[Tensor, Tensor]:
        """Final representations recomputed as if the edges ``dropped`` (bool [E] over
        :meth:`propagation_edges`) were not in the graph: the deletion test of explanations."""
        raise NotImplementedError(f"{type(self).__name__} does not propagate over a graph")

    def score_users_without(self, users: Tensor, dropped: Tensor) -> Tensor:
        """Scores [B, n_items] after deleting the ``dropped`` edges (see :meth:`embeddings_without`)."""
        with torch.no_grad():
            user_emb, item_emb = self.embeddings_without(dropped)
        return user_emb[users] @ item_emb.T

    def train(self, mode: bool = True) -> RankingModel:
        self._cache = None
        return super().train(mode)

    def _final(self) -> tuple[Tensor, Tensor]:
        if self.training:
            return self.embeddings()
        if self._cache is None:
            with torch.no_grad():
                self._cache = self.embeddings()
        return self._cache

    def score_users(self, users: Tensor) -> Tensor:
        """Scores [B, n_items] of every item for each user in ``users``."""
        user_emb, item_emb = self._final()
        return user_emb[users] @ item_emb.T

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        """Scores [B] of (user, item) pairs."""
        user_emb, item_emb = self._final()
        return (user_emb[users] * item_emb[items]).sum(dim=-1)

    def loss(self, users: Tensor, positives: Tensor, negatives: Tensor, objective: Objective = BPR,
             shard: Shard = WHOLE) -> tuple[Tensor, dict[str, float]]:
        """The ranking loss of ``objective`` (``negatives`` [B] or [B, m]) + l2 · ½‖ego embeddings of the batch‖² / batch size.

        ``shard``: under data parallelism, this process's part of the global batch ``users, positives,
        negatives`` (:class:`Shard`); the value and the parts are then this process's weighted share."""
        return self.ranking_loss(*self.embeddings(), users, positives, negatives, objective, shard)

    def ranking_loss(self, user_emb: Tensor, item_emb: Tensor, users: Tensor, positives: Tensor, negatives: Tensor,
                     objective: Objective = BPR, shard: Shard = WHOLE) -> tuple[Tensor, dict[str, float]]:
        """:meth:`loss` on given final embeddings [U, d] and [I, d]; the L2 penalty applies to the batch's
        users, positives and every sampled negative."""
        total_rows = len(users)
        users, positives, negatives = shard.take(users, positives, negatives)
        if not len(users):  # a global batch with fewer rows than processes: nothing here, but a graph to differentiate
            return user_emb[:0].sum(), {objective.loss: 0.0, "l2": 0.0}
        user_rows = user_emb.index_select(0, users)  # index_select: its gradient needs no sort in deterministic mode
        positive_rows = item_emb.index_select(0, positives)  # before the negatives: gradients sum in the usual order
        negative_rows = item_emb.index_select(0, negatives.reshape(-1)).view(len(users), -1, user_rows.size(-1))
        ranking = ranking_term(user_rows, positive_rows, negative_rows, objective)
        reg = self.squared_ego_norm(users, torch.cat([positives, negatives.reshape(-1)])) / (2 * len(users))
        total = ranking + self.l2 * reg
        return shard_weighted(total, {objective.loss: float(ranking.detach()), "l2": float(reg.detach())}, shard, len(users), total_rows)

    def squared_ego_norm(self, users: Tensor, items: Tensor) -> Tensor:
        """The sum of squared L2 norms of :meth:`ego_embeddings` (a row counts once per occurrence)."""
        egos = self.ego_embeddings(users, items)
        return sum((e * e).sum() for e in egos) if egos else torch.zeros((), device=users.device)


def shard_weighted(loss: Tensor, parts: dict[str, float], shard: Shard, local: int, total: int) -> tuple[Tensor, dict[str, float]]:
    """A loss and its reported parts that are means over ``local`` rows of a ``total``-row global batch, times
    the shard's :meth:`Shard.weight` (unchanged for one process)."""
    if shard.world == 1:
        return loss, parts
    weight = shard.weight(local, total)
    return loss * weight, {key: value * weight for key, value in parts.items()}


def ranking_term(user_rows: Tensor, positive_rows: Tensor, negative_rows: Tensor, objective: Objective = BPR) -> Tensor:
    """The ranking loss of ``objective`` for a batch's user rows [B, d], positive rows [B, d] and negative rows
    [B, m, d] (without the L2 penalty)."""
    positive = (user_rows * positive_rows).sum(-1, keepdim=True)  # [B, 1]
    negative = (user_rows.unsqueeze(1) * negative_rows).sum(-1)  # [B, m]
    if objective.loss == "softmax":
        logits = torch.cat([positive, negative], dim=1)
        return F.cross_entropy(logits, torch.zeros(len(user_rows), dtype=torch.long, device=user_rows.device))
    return -F.logsigmoid(positive - negative).mean()
