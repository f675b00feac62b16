"""The user-facing recommender: a trained run with its data, able to recommend, explain and evaluate.

>>> rec = kgrec.Recommender.load("runs/lastfm-kgcn-kgrec-20261123-101500")
>>> for explanation in rec.recommend("2", k=5, explain=True):
...     print(explanation.rank, explanation.text)
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterable, Iterator
from functools import cached_property, partial
from pathlib import Path as FilePath

import numpy as np
import torch

from kgrec.atomic import atomic_directory
from kgrec.config import RunConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.data.lookup import resolve
from kgrec.data.split import Split
from kgrec.errors import ConfigError, UnknownItemError, UnknownUserError
from kgrec.evaluation.ranking import user_histories
from kgrec.explain.context import ExplainContext, ranked_explanations, scored_batches
from kgrec.explain.explainer import Explainer
from kgrec.explain.phrases import PhraseTable
from kgrec.explain.render import path_text, rule_name
from kgrec.explain.rules import RuleSet
from kgrec.explain.types import Explanation, Path, Rule
from kgrec.models.base import RankingModel
from kgrec.run.fit import Prepared, evaluate_model, load_run, run_rules


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
        config, prepared, model = load_run(FilePath(run_dir))
        return cls(config, prepared.dataset, prepared.split, prepared.graph, model, FilePath(run_dir))

    def save(self, directory: str | FilePath) -> FilePath:
        """Copy this recommender's run directory (config, split, weights, rules, ...) to ``directory``,
        which appears complete or not at all; ``Recommender.load(directory)`` reads it back.

        >>> rec.save("models/lastfm"); Recommender.load("models/lastfm")
        """
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
        return user_histories(self.split.train, self.dataset.n_users)

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
        return run_rules(self.run_dir, Prepared(self.dataset, self.split, self.graph), self.config)

    @cached_property
    def phrases(self) -> PhraseTable:
        return PhraseTable.load(self.dataset.name)

    @cached_property
    def context(self) -> ExplainContext:
        """What the explanation functions of :mod:`kgrec.explain` take: model, graph, split, rules, phrases
        and config (``kgrec.explain.evaluate.explain_eval(rec.context)``)."""
        reload = None if self.run_dir is None else partial(load_context, str(self.run_dir))
        return ExplainContext(self.model, self.graph, self.split, self.rules, self.phrases, self.config, reload)

    @property
    def explainer(self) -> Explainer:
        return self.context.explainer

    # ---- verbs ---------------------------------------------------------------------------------------------
    def scores(self, user: str | int) -> torch.Tensor:
        """The model's score of every item for ``user``."""
        uid = self.user_id(user)
        return next(scored_batches(self.model, [uid], 1, self.config.train.device))[1]

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
        ids = np.arange(self.dataset.n_users) if users is None else [self.user_id(u) for u in users]
        batches = scored_batches(self.model, ids, batch_size or self.config.eval.batch_size, self.config.train.device)
        for uid, scores in batches:
            yield uid, self._ranked(uid, scores, k, explain)

    def _ranked(self, uid: int, scores: torch.Tensor, k: int, explain: bool) -> list[Explanation]:
        """The top-``k`` list of ``uid`` from its score vector; popular items for a user without history."""
        explainer = self.explainer if explain and len(self._history[uid]) else None
        return ranked_explanations(uid, scores, k, self._history[uid], self.graph, self.phrases, explainer)

    def explain(self, user: str | int, item: str | int) -> Explanation:
        """Why ``item`` is (or is not) recommended to ``user``: its rank, paths, rule and sentence.

        >>> e = rec.explain("u_91", "Star Wars")
        >>> e.rank, e.rule, e.text
        """
        return self.context.explain(self.user_id(user), self.item_id(item))

    def paths(self, user: str | int, item: str | int, max_len: int | None = None) -> list[Path]:
        """Every path (up to the configured cap) from the user to the item, strongest first.

        >>> for path in rec.paths("u_91", "Star Wars", max_len=3)[:5]:
        ...     print(path.weight, rec.path_text(path))
        """
        return self.explainer.finder.paths(self.user_id(user), self.item_id(item), max_len)

    def path_text(self, path: Path) -> str:
        """``Alice —liked→ Heat —was directed by→ Michael Mann —directed→ Collateral``."""
        return path_text(path, self.graph, self.phrases)

    def rule_name(self, rule: Rule) -> str:
        """A rule's readable name, e.g. "same director" ("same director: Michael Mann" with a constant)."""
        return rule_name(rule, self.graph, self.phrases)

    def evaluate(self, protocol: str = "ranking") -> dict[str, float]:
        """Test metrics of this model on its split: ``ranking`` (full ranking) or ``ctr``.

        >>> rec.evaluate()["ndcg@20"]
        >>> rec.evaluate("ctr")["auc"]
        """
        return evaluate_model(self.model, Prepared(self.dataset, self.split, self.graph), self.config, protocol)


def _identify(ids, query: str | int, error: type[UnknownUserError] | type[UnknownItemError]) -> int:
    if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
        if not 0 <= int(query) < len(ids):
            raise error(f"{ids.kind} id {int(query)} out of range: the dataset has {len(ids)} {ids.kind}s")
        return int(query)
    return resolve(ids, query, error)


def load_context(run_dir: str) -> ExplainContext:
    """The explanation context of the run in ``run_dir`` (what a worker process of
    :func:`kgrec.explain.compare.compare_methods` rebuilds)."""
    return Recommender.load(run_dir).context


def freeze_imported_objects() -> None:
    """Move what the imports created (modules, classes, functions: as long-lived as a serving process) out of
    the garbage collector's generations before a run is loaded, so that the collection of
    :func:`freeze_loaded_objects` walks only what the load created: walking torch's and pandas' 400,000
    objects took 0.25 s of the service's start, to free about a hundred."""
    gc.freeze()


def freeze_loaded_objects() -> None:
    """Move everything loaded so far out of the garbage collector's generations: a loaded run lives as long as a
    serving process, and a full collection walking its objects paused one request in twenty by about 200 ms on
    lastfm-dbpedia (p95 245 ms → 18 ms for an explained top-10)."""
    gc.collect()
    gc.freeze()
