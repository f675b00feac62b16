"""Every explanation method on one scale, at equal budgets (``kgrec explain-eval --methods``).

For each sampled user's top-k items that the rule-guided path explanation explains, the *budget* b is the
number of edges that explanation deletes (its chosen path, 2–3 edges). Every method then removes its own
b highest-scoring edges (undirected, as in :mod:`kgrec.explain.fidelity`), so all are compared at the same
number of removed edges:

* deletion fidelity — the deletion test of :class:`~kgrec.explain.fidelity.DeletionTest` with one shared
  random control per case (b random edges of the user's history): share of cases where the method's
  deletion lowers the item's rank more (``summarise_cases``), plus mean rank and score drops;
* sufficiency — score(u, i) when only the method's b edges and the item's own KG edges are kept, divided
  by the full-graph score;
* sparsity — edges the method scores (``edges_scored``) and the fewest holding 90 % of its absolute
  attribution (``edges_90``);
* agreement — Jaccard of the method's b edges with the rule-guided path's edges;
* milliseconds per explanation.

Methods: ``rules`` (kgrec's rule-guided path, the reference), ``paths`` (edges ranked by the heaviest
enumerated path through them, i.e. the model-weight path without rules) and the sensitivity methods of
:mod:`kgrec.explain.sensitivity`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from kgrec.errors import ConfigError
from kgrec.evaluation.ranking import history_mask, rank_of
from kgrec.explain.context import ExplainContext, sample_users
from kgrec.explain.fidelity import DeletionCase, DeletionTest, edge_keys, path_pairs, summarise_cases
from kgrec.explain.path_quality import path_quality
from kgrec.explain.sensitivity import SENSITIVITY_METHODS, EdgeScores, edge_scores, to_explanation
from kgrec.explain.types import Explanation

METHODS = ("paths", "rules", *SENSITIVITY_METHODS)
#: Methods that cost a gradient per step or per epoch: run on the first ``slow_users`` sampled users only.
SLOW_METHODS = ("ig", "gnnexplainer")
PATH_QUALITY = ("lir", "sep", "etd", "lid", "sed")


def parse_methods(text: str) -> list[str]:
    """``"paths,rules,ig"`` → the method names, checked (ConfigError names the unknown one)."""
    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ConfigError(f"unknown explanation method {', '.join(unknown) or text!r}; choose from {', '.join(METHODS)}")
    return list(dict.fromkeys(methods))


def path_edge_scores(ctx: ExplainContext, user: int, item: int) -> EdgeScores:
    """``paths``: each undirected edge scored by the heaviest enumerated path through it (≤ max_len edges)."""
    started = time.perf_counter()
    best: dict[tuple[int, int], float] = {}
    for path in ctx.explainer.finder.paths(user, item):
        for a, b in zip(path.nodes[:-1], path.nodes[1:]):
            key = (min(a, b), max(a, b))
            best[key] = max(best.get(key, 0.0), path.weight)
    pairs = np.array(list(best), dtype=np.int64).reshape(-1, 2)
    return EdgeScores("paths", pairs, np.array(list(best.values()), dtype=np.float64), time.perf_counter() - started)


def rule_edge_scores(pairs: np.ndarray, seconds: float) -> EdgeScores:
    """``rules``: the rule-guided path's edges, scored 1 (the explanation deletes exactly those)."""
    pairs = np.sort(pairs, axis=1)
    return EdgeScores("rules", pairs, np.ones(len(pairs)), seconds)


class _Scale:
    """Per-case measurements of one method against the shared deletion control."""

    def __init__(self, ctx: ExplainContext, tester: DeletionTest) -> None:
        self.ctx, self.tester = ctx, tester
        edges, edge_type = ctx.model.propagation_edges(), ctx.model.propagation_edge_type()
        if edges is None or edge_type is None:
            raise ValueError(f"comparing explanation methods needs a graph model, not {type(ctx.model).__name__}")
        self.edges, self.interact = edges.cpu().numpy(), ctx.graph.is_interact(edge_type.cpu().numpy())

    def sufficiency(self, user: int, item: int, pairs: np.ndarray, full: float) -> float:
        """score with only ``pairs`` and the item's own KG edges kept, over the full-graph score."""
        node = self.ctx.graph.item_node(item)
        own_kg = ~self.interact & ((self.edges[0] == node) | (self.edges[1] == node))
        kept = np.isin(self.tester.keys, edge_keys(pairs, self.ctx.graph.num_nodes)) | own_kg
        dropped = torch.as_tensor(~kept, device=self.tester.device)
        score = self.ctx.model.score_users_without(torch.tensor([user], device=self.tester.device), dropped)[0, item]
        return float(score) / full if full else float("nan")


@dataclass(frozen=True)
class _Row:
    """One method's measurements of one explained recommendation."""

    case: DeletionCase
    sufficiency: float
    scored: int
    mass90: int
    jaccard: float
    ms: float
    explanation: Explanation


@dataclass(frozen=True)
class _Settings:
    """What every user's measurement needs besides the run (sent once to each worker process)."""

    methods: tuple[str, ...]
    k: int
    seed: int
    steps: int
    epochs: int


def _measure_user(ctx: ExplainContext, tester: DeletionTest, scale: _Scale, settings: _Settings, user: int, slow: bool) -> dict[str, list[_Row]]:
    """Every method's rows for one user's explained top-k (the slow methods only when ``slow``).

    The random control is drawn from a generator seeded with (seed, user), so a user's rows do not depend
    on which other users are measured, or in which process."""
    rng = np.random.default_rng([settings.seed, user])
    started = time.perf_counter()
    listed = ctx.recommend(user, settings.k)
    rule_seconds = (time.perf_counter() - started) / max(1, len(listed))
    history = ctx.history(user)
    base = ctx.scores(user)
    masked = history_mask(history, len(base))
    rows: dict[str, list[_Row]] = {m: [] for m in settings.methods}
    for explanation in listed:
        reference = path_pairs(explanation)
        if not len(reference):
            continue
        control = tester.run([explanation], history, base, rng)[0]  # the rule path's case and the shared control
        item, budget, full = explanation.item, len(reference), float(base[explanation.item])
        reference_keys = set(edge_keys(reference, ctx.graph.num_nodes).tolist())
        for method in settings.methods:
            if method in SLOW_METHODS and not slow:
                continue
            if method == "rules":
                scores = rule_edge_scores(reference, rule_seconds)
            elif method == "paths":
                scores = path_edge_scores(ctx, user, item)
            else:
                scores = edge_scores(ctx.model, user, item, method, settings.steps, settings.epochs, settings.seed)
            chosen = scores.top(budget)
            if method == "rules":
                case = control
            else:
                without = tester.scores_without(user, chosen)
                case = DeletionCase(user, item, control.rank, budget, rank_of(without, item, masked) - control.rank,
                                    float(base[item] - without[item]), control.random_rank_drop, control.random_score_drop)
            chosen_keys = set(edge_keys(chosen, ctx.graph.num_nodes).tolist()) if len(chosen) else set()
            rows[method].append(_Row(
                case, scale.sufficiency(user, item, chosen, full), int(np.count_nonzero(scores.scores)), scores.edges_for_mass(0.9),
                len(chosen_keys & reference_keys) / max(1, len(chosen_keys | reference_keys)), 1000 * scores.seconds,
                explanation if method == "rules" else to_explanation(ctx, user, item, scores, full, explanation.rank),
            ))
    return rows


_WORKER: tuple[ExplainContext, DeletionTest, _Scale, _Settings] | None = None


def _start_worker(reload: Callable[[], ExplainContext], settings: _Settings, threads: int) -> None:
    """Process-pool initialiser: rebuild the context (load the run) once per worker process."""
    global _WORKER
    torch.set_num_threads(threads)
    ctx = reload()
    tester = DeletionTest(ctx.model, ctx.graph)
    _WORKER = (ctx, tester, _Scale(ctx, tester), settings)


def _worker_user(task: tuple[int, bool]) -> dict[str, list[_Row]]:
    assert _WORKER is not None, "worker not initialised"
    ctx, tester, scale, settings = _WORKER
    return _measure_user(ctx, tester, scale, settings, *task)


def _measure(ctx: ExplainContext, settings: _Settings, tasks: list[tuple[int, bool]], workers: int, progress: bool) -> Iterator[dict[str, list[_Row]]]:
    """Each task's rows in task order: in this process, or in ``workers`` processes that each rebuild the
    context with ``ctx.reload``."""
    bar = partial(tqdm, total=len(tasks), desc="explain methods", unit="user", disable=not progress)
    if workers <= 1:
        tester = DeletionTest(ctx.model, ctx.graph)
        scale = _Scale(ctx, tester)
        yield from bar(_measure_user(ctx, tester, scale, settings, user, slow) for user, slow in tasks)
        return
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    threads = max(1, torch.get_num_threads() // workers)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_start_worker,
                             initargs=(ctx.reload, settings, threads)) as pool:
        yield from bar(pool.map(_worker_user, tasks))


def compare_methods(
    ctx: ExplainContext,
    methods: Sequence[str] = METHODS,
    n_users: int = 200,
    k: int = 10,
    seed: int = 0,
    slow_users: int = 50,
    steps: int = 32,
    epochs: int = 100,
    progress: bool = True,
    users: Sequence[int] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Every method of ``methods`` measured on the top-``k`` of ``n_users`` sampled users (or the given
    ``users``; the first ``slow_users`` of them for :data:`SLOW_METHODS`) at equal budgets, ``steps``
    integrated-gradients nodes and ``epochs`` GNNExplainer epochs; see the module docstring. JSON-ready.

    ``workers`` > 1 spreads the users over that many processes (each rebuilds the context with
    ``ctx.reload``, so it must come from a recommender with a run directory); the result is the same as with one.
    """
    if workers > 1 and ctx.reload is None:
        raise ConfigError("workers > 1 needs a recommender loaded from a run directory (Recommender.load)")
    settings = _Settings(tuple(methods), int(k), int(seed), int(steps), int(epochs))
    users = sample_users(ctx, n_users, seed) if users is None else np.asarray(users, dtype=np.int64)
    tasks = [(int(user), position < slow_users) for position, user in enumerate(users)]
    rows: dict[str, list[_Row]] = {m: [] for m in settings.methods}
    for measured in _measure(ctx, settings, tasks, workers, progress):
        for method, method_rows in measured.items():
            rows[method].extend(method_rows)
    return {
        "users": int(len(users)),
        "slow_users": int(min(slow_users, len(users))),
        "k": int(k),
        "budget": "edges of the rule-guided path explanation (per case)",
        "steps": int(steps),
        "epochs": int(epochs),
        "methods": {m: {**_summary(rows[m]), **_path_quality(ctx, rows[m], k)} for m in settings.methods},
    }


def _path_quality(ctx: ExplainContext, rows: list[_Row], k: int) -> dict[str, float | None]:
    """LIR, SEP, ETD, LID and SED of one method's explanations (Balloccu et al. 2022; see path_quality)."""
    lists: dict[int, list[Explanation]] = {}
    for row in rows:
        lists.setdefault(row.explanation.user, []).append(row.explanation)
    quality = path_quality(list(lists.values()), ctx.graph, ctx.split.train, k)
    return {key: quality[key] for key in PATH_QUALITY}


def _summary(rows: list[_Row]) -> dict[str, float]:
    def mean(values: list) -> float:
        finite = [v for v in values if np.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    sufficiency = [row.sufficiency for row in rows]
    return {
        **summarise_cases([row.case for row in rows]),
        "mean_edges_removed": mean([row.case.edges for row in rows]),
        "sufficiency": mean(sufficiency),
        "sufficiency_median": float(np.median(sufficiency)) if sufficiency else float("nan"),
        "edges_scored": mean([row.scored for row in rows]),
        "edges_90": mean([row.mass90 for row in rows]),
        "jaccard_rules": mean([row.jaccard for row in rows]),
        "ms_per_explanation": mean([row.ms for row in rows]),
    }


def methods_table(report: dict[str, Any]) -> str:
    """The comparison as a markdown table, one row per method."""
    columns = [("cases", "cases", "{:.0f}"), ("fidelity", "deletion fidelity", "{:.3f}"), ("mean_rank_drop", "rank drop", "{:.1f}"),
               ("random_rank_drop", "random rank drop", "{:.1f}"), ("mean_score_drop", "score drop", "{:.4f}"),
               ("sufficiency", "sufficiency", "{:.3f}"), ("edges_scored", "edges scored", "{:.1f}"), ("edges_90", "edges for 90 %", "{:.1f}"),
               ("jaccard_rules", "Jaccard vs rules", "{:.3f}"), ("ms_per_explanation", "ms / explanation", "{:.1f}"),
               *[(key, key.upper(), "{:.3f}") for key in PATH_QUALITY]]
    lines = ["| method | " + " | ".join(title for _, title, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for method, values in report["methods"].items():
        cells = ["n/a" if values[key] is None or not np.isfinite(values[key]) else fmt.format(values[key]) for key, _, fmt in columns]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
