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

    def loss(self, users: Tensor, positives: Tensor, negatives: Tensor, objective: Objective = BPR) -> tuple[Tensor, dict[str, float]]:
        """The ranking loss of ``objective`` (``negatives`` [B] or [B, m]) + l2 · ½‖ego embeddings of the batch‖² / batch size."""
        return self.ranking_loss(*self.embeddings(), users, positives, negatives, objective)

    def ranking_loss(self, user_emb: Tensor, item_emb: Tensor, users: Tensor, positives: Tensor, negatives: Tensor,
                     objective: Objective = BPR) -> tuple[Tensor, dict[str, float]]:
        """:meth:`loss` on given final embeddings [U, d] and [I, d]; the L2 penalty applies to the batch's
        users, positives and every sampled negative."""
        user_rows = user_emb.index_select(0, users)  # index_select: its gradient needs no sort in deterministic mode
        positive_rows = item_emb.index_select(0, positives)  # before the negatives: gradients sum in the usual order
        negative_rows = item_emb.index_select(0, negatives.reshape(-1)).view(len(users), -1, user_rows.size(-1))
        ranking = ranking_term(user_rows, positive_rows, negative_rows, objective)
        reg = self.squared_ego_norm(users, torch.cat([positives, negatives.reshape(-1)])) / (2 * len(users))
        total = ranking + self.l2 * reg
        return total, {objective.loss: float(ranking.detach()), "l2": float(reg.detach())}

    def squared_ego_norm(self, users: Tensor, items: Tensor) -> Tensor:
        """The sum of squared L2 norms of :meth:`ego_embeddings` (a row counts once per occurrence)."""
        egos = self.ego_embeddings(users, items)
        return sum((e * e).sum() for e in egos) if egos else torch.zeros((), device=users.device)


def ranking_term(user_rows: Tensor, positive_rows: Tensor, negative_rows: Tensor, objective: Objective = BPR) -> Tensor:
    """The ranking loss of ``objective`` for a batch's user rows [B, d], positive rows [B, d] and negative rows
    [B, m, d] (without the L2 penalty)."""
    positive = (user_rows * positive_rows).sum(-1, keepdim=True)  # [B, 1]
    negative = (user_rows.unsqueeze(1) * negative_rows).sum(-1)  # [B, m]
    if objective.loss == "softmax":
        logits = torch.cat([positive, negative], dim=1)
        return F.cross_entropy(logits, torch.zeros(len(user_rows), dtype=torch.long, device=user_rows.device))
    return -F.logsigmoid(positive - negative).mean()
