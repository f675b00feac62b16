"""The user-facing recommender: a trained run with its data, able to recommend, explain and evaluate.

>>> rec = kgrec.Recommender.load("runs/lastfm-kgcn-kgrec-20261123-101500")
>>> for explanation in rec.recommend("2", k=5, explain=True):
...     print(explanation.rank, explanation.text)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path as FilePath

import numpy as np
import torch

from kgrec.config import RunConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.data.lookup import resolve
from kgrec.data.split import Split
from kgrec.errors import UnknownItemError, UnknownUserError
from kgrec.explain.explainer import Explainer, top_k
from kgrec.explain.phrases import PhraseTable
from kgrec.explain.render import explanation_text
from kgrec.explain.rules import RuleSet, mine_rules
from kgrec.explain.types import Explanation, Path, Rule
from kgrec.models.base import RankingModel
from kgrec.models.baselines import item_popularity

RULES_FILE = "rules.json"


class Recommender:
    """A fitted model with its dataset, split and training graph (see :meth:`load`)."""

    def __init__(self, config: RunConfig, dataset: RecDataset, split: Split, graph: CollaborativeKG, model: RankingModel, run_dir: FilePath | None = None) -> None:
        self.config, self.dataset, self.split, self.graph, self.model = config, dataset, split, graph, model
        self.run_dir = run_dir
        self.model.eval()

    @classmethod
    def load(cls, run_dir: str | FilePath) -> Recommender:
        """Load a run directory written by ``kgrec train`` (best weights, its own split and config).

        A missing or damaged run raises RunError, one of another kgrec version or dataset IncompatibleRunError,
        a bad config.yaml value ConfigError; each message names the file.

        >>> rec = Recommender.load("runs/my-run")
        >>> rec.recommend("2", k=10, explain=True)[0].text
        """
        from kgrec.training.run import load_run

        config, prepared, model = load_run(FilePath(run_dir))
        return cls(config, prepared.dataset, prepared.split, prepared.graph, model, FilePath(run_dir))

    def save(self, directory: str | FilePath) -> FilePath:
        """Copy this recommender's run directory (config, split, weights, rules, ...) to ``directory``,
        which appears complete or not at all; ``Recommender.load(directory)`` reads it back.

        >>> rec.save("models/lastfm"); Recommender.load("models/lastfm")
        """
        import shutil

        from kgrec.atomic import atomic_directory
        from kgrec.errors import ConfigError

        if self.run_dir is None:
            raise ConfigError("this recommender has no run directory to save; train it with kgrec.train(..., out=DIR)")
        target = FilePath(directory)
        if target.resolve() == self.run_dir.resolve():
            return target
        _ = self.rules  # make sure the rules are in the run directory
        with atomic_directory(target) as staging:
            shutil.copytree(self.run_dir, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns("last.pt"))
        return target

    # ---- ids -----------------------------------------------------------------------------------------------
    def user_id(self, user: str | int) -> int:
        """Dataset user id of a raw id or display name (a ``str``), or an ``int`` that already is one.

        Unknown users raise UnknownUserError with close matches."""
        return _identify(self.dataset.users, user, UnknownUserError)

    def item_id(self, item: str | int) -> int:
        """Dataset item id of a raw id or display name (a ``str``), or an ``int`` that already is one."""
        return _identify(self.dataset.items, item, UnknownItemError)

    @cached_property
    def _history(self) -> list[np.ndarray]:
        train = self.split.train
        order = np.argsort(train.user, kind="stable")
        bounds = np.searchsorted(train.user[order], np.arange(self.dataset.n_users + 1))
        return [train.item[order[bounds[u] : bounds[u + 1]]] for u in range(self.dataset.n_users)]

    def history(self, user: str | int) -> np.ndarray:
        """The user's training items (dataset item ids)."""
        return self._history[self.user_id(user)]

    def users_with_history(self) -> np.ndarray:
        """Dataset ids of the users with at least one training interaction (the ones a model can rank for)."""
        return np.flatnonzero([len(items) > 0 for items in self._history])

    # ---- explanations' ingredients --------------------------------------------------------------------------
    @cached_property
    def rules(self) -> RuleSet:
        """Mined rules of this run: read from ``rules.json`` in the run directory, or mined and saved there."""
        path = None if self.run_dir is None else self.run_dir / RULES_FILE
        if path is not None and path.exists():
            return RuleSet.load(path, self.graph)
        explain = self.config.explain
        rules = mine_rules(self.graph, self.split.train, explain.rule_max_len, explain.min_support, explain.min_confidence, explain.max_rules)
        if path is not None:
            rules.save(path)
        return rules

    @cached_property
    def phrases(self) -> PhraseTable:
        return PhraseTable.load(self.dataset.name)

    @cached_property
    def explainer(self) -> Explainer:
        return Explainer.build(self.model, self.graph, self.rules, self.phrases, self.config.explain)

    # ---- verbs ---------------------------------------------------------------------------------------------
    def scores(self, user: str | int) -> torch.Tensor:
        """The model's score of every item for ``user``."""
        uid = self.user_id(user)
        with torch.no_grad():
            return self.model.score_users(torch.tensor([uid], device=self.config.train.device))[0].cpu()

    def recommend(self, user: str | int, k: int = 10, explain: bool = False) -> list[Explanation]:
        """Top-``k`` items the user has not interacted with in training, best first.

        Each entry is an :class:`Explanation` (item, score, rank); with ``explain=True`` it also carries
        the paths, the rule and the sentence. A user without training history gets the most popular
        items, flagged ``fallback=True`` and labelled as such in the text.

        >>> rec.recommend("Alice", k=5, explain=True)[0].text
        """
        uid = self.user_id(user)
        return self._ranked(uid, self.scores(uid), k, explain)

    def recommend_all(
        self, k: int = 10, explain: bool = False, users: Iterable[str | int] | None = None, batch_size: int | None = None
    ) -> Iterator[tuple[int, list[Explanation]]]:
        """``(user id, recommend(user, k, explain))`` for many users (default: every user), in their order.

        Users are scored ``batch_size`` at a time (default ``eval.batch_size``) and their lists yielded one by
        one, so memory stays that of one batch however many users there are.

        >>> for user, explanations in rec.recommend_all(10, explain=True): ...
        """
        ids = np.arange(self.dataset.n_users) if users is None else np.array([self.user_id(u) for u in users], dtype=np.int64)
        batch_size = batch_size or self.config.eval.batch_size
        for start in range(0, len(ids), batch_size):
            batch = ids[start : start + batch_size]
            with torch.no_grad():
                scores = self.model.score_users(torch.as_tensor(batch, device=self.config.train.device)).cpu()
            for row, uid in enumerate(batch.tolist()):
                yield uid, self._ranked(uid, scores[row], k, explain)

    def _ranked(self, uid: int, scores: torch.Tensor, k: int, explain: bool) -> list[Explanation]:
        """The top-``k`` list of ``uid`` from its score vector; popular items for a user without history."""
        history = self._history[uid]
        if len(history) == 0:
            return self._popular(uid, k)
        items, top_scores = top_k(scores, k, history)
        ranks = np.arange(1, len(items) + 1)
        if explain:
            return self.explainer.explain_items(uid, items, top_scores, ranks)
        return [Explanation(uid, int(i), float(s), int(r)) for i, s, r in zip(items, top_scores, ranks)]

    def explain(self, user: str | int, item: str | int) -> Explanation:
        """Why ``item`` is (or is not) recommended to ``user``: its rank, paths, rule and sentence.

        >>> e = rec.explain("u_91", "Star Wars")
        >>> e.rank, e.rule, e.text
        """
        uid, iid = self.user_id(user), self.item_id(item)
        scores = self.scores(uid)
        history = self._history[uid]
        masked = scores.clone()
        masked[torch.as_tensor(history, dtype=torch.long)] = -torch.inf
        rank = 1 + int((masked > masked[iid]).sum()) + int((masked[:iid] == masked[iid]).sum())
        return self.explainer.explain_items(uid, [iid], [float(scores[iid])], [rank])[0]

    def paths(self, user: str | int, item: str | int, max_len: int | None = None) -> list[Path]:
        """Every path (up to the configured cap) from the user to the item, strongest first.

        >>> for path in rec.paths("u_91", "Star Wars", max_len=3)[:5]:
        ...     print(path.weight, rec.path_text(path))
        """
        return self.explainer.finder.paths(self.user_id(user), self.item_id(item), max_len)

    def path_text(self, path: Path) -> str:
        """``Alice –liked→ Heat –was directed by→ Michael Mann –directed→ Collateral``."""
        parts = [self.graph.node_name(path.nodes[0])]
        for relation, node in zip(path.relations, path.nodes[1:]):
            parts.append(f"–{self.phrases.phrase(self.graph, relation)}→ {self.graph.node_name(node)}")
        return " ".join(parts)

    def rule_name(self, rule: Rule) -> str:
        """A rule's readable name, e.g. "same director"."""
        return self.phrases.rule_name(self.graph, rule.pattern)

    def evaluate(self, protocol: str = "ranking") -> dict[str, float]:
        """Test metrics of this model on its split: ``ranking`` (full ranking) or ``ctr``.

        >>> rec.evaluate()["ndcg@20"]
        >>> rec.evaluate("ctr")["auc"]
        """
        from kgrec.evaluation.ctr import evaluate_ctr_protocol
        from kgrec.training.run import Prepared, test_ranking

        prepared = Prepared(self.dataset, self.split, self.graph)
        if protocol == "ctr":
            return evaluate_ctr_protocol(self.model, self.dataset, self.split, self.config.train.seed)
        return test_ranking(self.model, prepared, self.config)

    def _popular(self, user: int, k: int) -> list[Explanation]:
        items, counts = top_k(torch.as_tensor(item_popularity(self.graph), dtype=torch.float64), k, np.zeros(0, dtype=np.int64))
        out = []
        for rank, (item, count) in enumerate(zip(items, counts), start=1):
            explanation = Explanation(user, int(item), float(count), rank, fallback=True)
            out.append(dataclasses.replace(explanation, text=explanation_text(explanation, self.graph, self.phrases)))
        return out


def _identify(ids, query: str | int, error: type[UnknownUserError] | type[UnknownItemError]) -> int:
    if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
        if not 0 <= int(query) < len(ids):
            raise error(f"{ids.kind} id {int(query)} out of range: the dataset has {len(ids)} {ids.kind}s")
        return int(query)
    return resolve(ids, query, error)
