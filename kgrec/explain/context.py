"""What explanation code reads of a fitted model, bundled: :class:`ExplainContext`.

Every explanation function (``explain_eval``, ``compare_methods``, the sensitivity methods, the relation and
entity analyses) takes one; :class:`kgrec.Recommender` builds it (``rec.context``). The ranking helpers here
(:func:`ranked_explanations`, :func:`scored_batches`) serve the recommender's own ``recommend`` as well, so a
list is ranked the same way everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from kgrec.config import RunConfig
from kgrec.data.graph import CollaborativeKG
from kgrec.data.split import Split
from kgrec.evaluation.ranking import history_mask, rank_of, top_k, user_histories
from kgrec.explain.explainer import Explainer
from kgrec.explain.phrases import PhraseTable
from kgrec.explain.render import explanation_text
from kgrec.explain.rules import RuleSet
from kgrec.explain.types import Explanation
from kgrec.models.base import RankingModel
from kgrec.models.baselines import item_popularity


@dataclass(frozen=True, eq=False)
class ExplainContext:
    """A fitted ``model`` with its training ``graph``, ``split``, mined ``rules``, relation ``phrases`` and run
    ``config``; users and items are dataset ids.

    ``reload`` rebuilds an equal context in another process (``compare_methods(..., workers=N)``): a picklable
    callable, or None when the context cannot be rebuilt (not saved in a run directory).
    """

    model: RankingModel
    graph: CollaborativeKG
    split: Split
    rules: RuleSet
    phrases: PhraseTable
    config: RunConfig
    reload: Callable[[], ExplainContext] | None = None

    @cached_property
    def explainer(self) -> Explainer:
        return Explainer.build(self.model, self.graph, self.rules, self.phrases, self.config.explain)

    @cached_property
    def histories(self) -> list[np.ndarray]:
        """Each user's training items."""
        return user_histories(self.split.train, self.graph.n_users)

    def history(self, user: int) -> np.ndarray:
        """The user's training items (dataset item ids)."""
        return self.histories[user]

    def users_with_history(self) -> np.ndarray:
        """Users with at least one training interaction (the ones a model can rank for)."""
        return np.flatnonzero([len(items) > 0 for items in self.histories])

    def scores(self, user: int) -> Tensor:
        """The model's score of every item for ``user``."""
        with torch.no_grad():
            return self.model.score_users(torch.tensor([user], device=self.config.train.device))[0].cpu()

    def recommend(self, user: int, k: int) -> list[Explanation]:
        """The explained top-``k`` of ``user`` (popular items for a user without history)."""
        return ranked_explanations(user, self.scores(user), k, self.history(user), self.graph, self.phrases, self.explainer)

    def recommend_all(self, k: int, users: Iterable[int], batch_size: int | None = None) -> Iterator[tuple[int, list[Explanation]]]:
        """``(user, recommend(user, k))`` for each of ``users``, scored ``batch_size`` users at a time."""
        batches = scored_batches(self.model, users, batch_size or self.config.eval.batch_size, self.config.train.device)
        for user, scores in batches:
            yield user, ranked_explanations(user, scores, k, self.history(user), self.graph, self.phrases, self.explainer)

    def eval_defaults(self, n_users: int | None, k: int | None, seed: int | None) -> tuple[int, int, int]:
        """``n_users``, ``k`` and ``seed`` of an explanation evaluation, each taken from the config
        (``explain.eval_users``, ``explain.eval_k``, ``train.seed``) when None."""
        explain = self.config.explain
        return (explain.eval_users if n_users is None else n_users, explain.eval_k if k is None else k,
                self.config.train.seed if seed is None else seed)

    def explain(self, user: int, item: int) -> Explanation:
        """Why ``item`` is (or is not) recommended to ``user``: its rank among the items outside the user's
        history (a history item ranks after all of them), paths, rule and sentence."""
        scores = self.scores(user)
        masked = scores.masked_fill(torch.as_tensor(history_mask(self.history(user), len(scores))), -torch.inf)
        rank = rank_of(masked, item, np.zeros(len(scores), dtype=bool))
        return self.explainer.explain_items(user, [item], [float(scores[item])], [rank])[0]


def sample_users(ctx: ExplainContext, n_users: int, seed: int) -> np.ndarray:
    """Up to ``n_users`` users with training history, sampled with ``seed`` (sorted)."""
    eligible = ctx.users_with_history()
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(eligible, size=min(n_users, len(eligible)), replace=False))


def scored_batches(model: RankingModel, users: Iterable[int], batch_size: int, device: str) -> Iterator[tuple[int, Tensor]]:
    """``(user, score vector)`` of each user in order, scored ``batch_size`` users at a time, so memory stays
    that of one batch however many users there are."""
    ids = np.asarray(list(users), dtype=np.int64)
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        with torch.no_grad():
            scores = model.score_users(torch.as_tensor(batch, device=device)).cpu()
        for row, user in enumerate(batch.tolist()):
            yield user, scores[row]


def ranked_explanations(
    user: int, scores: Tensor, k: int, history: np.ndarray, graph: CollaborativeKG, phrases: PhraseTable,
    explainer: Explainer | None = None,
) -> list[Explanation]:
    """The top-``k`` of ``user`` from its score vector, its ``history`` left out, explained by ``explainer``
    (item, score and rank only when None). A user without history gets the most popular items, flagged
    ``fallback=True`` and labelled as such in the text."""
    if len(history) == 0:
        return popular_explanations(user, k, graph, phrases)
    items, top_scores = top_k(scores, k, history)
    ranks = np.arange(1, len(items) + 1)
    if explainer is not None:
        return explainer.explain_items(user, items, top_scores, ranks)
    return [Explanation(user, int(i), float(s), int(r)) for i, s, r in zip(items, top_scores, ranks)]


def popular_explanations(user: int, k: int, graph: CollaborativeKG, phrases: PhraseTable) -> list[Explanation]:
    """The ``k`` most popular items (training interactions), as fallback explanations for ``user``."""
    popularity = torch.as_tensor(item_popularity(graph), dtype=torch.float64)
    items, counts = top_k(popularity, k, np.zeros(0, dtype=np.int64))
    out = []
    for rank, (item, count) in enumerate(zip(items, counts), start=1):
        explanation = Explanation(user, int(item), float(count), rank, fallback=True)
        out.append(dataclasses.replace(explanation, text=explanation_text(explanation, graph, phrases)))
    return out
