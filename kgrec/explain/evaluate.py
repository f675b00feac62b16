"""``kgrec explain-eval``: coverage, fidelity, diversity, rule precision and the surrogate, on sampled users.

The told-evidence measures ``named_coverage``, ``told_weight_share`` (mean), ``told_weight_share_median``
and ``collaborative_share`` are defined, with their formulas, in :mod:`kgrec.explain.measures`; ``fidelity``
and ``fidelity_strict_rank`` in :mod:`kgrec.explain.fidelity` (:func:`summarise_cases`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from kgrec.explain.compare import compare_methods
from kgrec.explain.context import ExplainContext, sample_users
from kgrec.explain.fidelity import DeletionTest, summarise_cases
from kgrec.explain.measures import told_measures
from kgrec.explain.path_quality import path_quality
from kgrec.explain.rules import BetterThanChance, rule_precision
from kgrec.explain.surrogate import fit_surrogate


def explain_eval(
    ctx: ExplainContext, n_users: int | None = None, k: int | None = None, seed: int | None = None, progress: bool = True,
    methods: Sequence[str] | None = None, slow_users: int = 50, steps: int = 32, epochs: int = 100, workers: int = 1,
) -> dict[str, Any]:
    """Explain the top-``k`` of ``n_users`` sampled users and measure the explanations (see README).

    ``methods`` (e.g. ``["paths", "rules", "saliency", "ig"]``) adds ``"methods"``: every method on one scale
    at equal budgets (:func:`kgrec.explain.compare.compare_methods`; the slow ones on ``slow_users`` users,
    integrated gradients with ``steps`` nodes, GNNExplainer for ``epochs`` epochs, over ``workers`` processes).
    """
    config = ctx.config.explain
    n_users, k, seed = ctx.eval_defaults(n_users, k, seed)
    started = time.perf_counter()
    users = sample_users(ctx, n_users, seed)
    rng = np.random.default_rng(seed)
    deletion = DeletionTest(ctx.model, ctx.graph) if ctx.model.propagation_edges() is not None else None
    explanations, lists, cases, top, negatives = [], [], [], [], []
    for user in tqdm(users, desc="explain-eval", unit="user", disable=not progress):
        listed = ctx.recommend(int(user), k)
        explanations.extend(listed)
        lists.append(listed)
        history = ctx.history(int(user))
        items = np.array([e.item for e in listed])
        top.append(items)
        outside = np.setdiff1d(np.arange(ctx.graph.n_items), np.concatenate([items, history]))
        negatives.append(rng.choice(outside, size=len(items), replace=False))
        if deletion is not None:
            cases.extend(deletion.run(listed, history, ctx.scores(int(user)), rng))
    pair_users = np.array([e.user for e in explanations])
    pair_items = np.array([e.item for e in explanations])
    with_path = np.array([e.path is not None for e in explanations])
    with_rule = np.array([e.rule is not None for e in explanations])
    lengths = [e.path.length for e in explanations if e.path is not None]
    anchors = {(e.user, e.path.nodes[1], e.path.kg_pattern) for e in explanations if e.path is not None}
    rules, precision = rule_precision(ctx.rules, ctx.graph, ctx.split.train, ctx.split.test)
    names = [ctx.phrases.rule_name(ctx.graph, r.pattern) for r in rules.rules]
    full = [len(t) == k for t in top]
    surrogate = (
        fit_surrogate(rules, names, ctx.graph, ctx.split.train, users[full], np.stack([t for t, f in zip(top, full) if f]),
                      np.stack([n for n, f in zip(negatives, full) if f]), config.surrogate_depth, seed).to_dict()
        if any(full) else None
    )
    deletion_summary = summarise_cases(cases)
    return {
        "users": int(len(users)),
        "k": int(k),
        "explained": len(explanations),
        "max_len": config.max_len,
        "path_coverage": float(with_path.mean()) if len(with_path) else float("nan"),
        "path_coverage_len3": float(ctx.explainer.finder.has_path(pair_users, pair_items, 3).mean()) if len(pair_users) else float("nan"),
        "rule_coverage": float(with_rule.mean()) if len(with_rule) else float("nan"),
        **told_measures(explanations, ctx.graph),
        **deletion_summary,
        "average_path_length": float(np.mean(lengths)) if lengths else float("nan"),
        "explanation_diversity": len(anchors) / max(1, int(with_path.sum())),
        "distinct_rules_used": len({e.rule.key for e in explanations if e.rule is not None}),
        "constant_rule_share": float(np.mean([e.rule is not None and e.rule.constant is not None for e in explanations]))
        if explanations else float("nan"),
        "rules": len(rules.rules),
        "constant_rules": len(ctx.rules.constants),
        "chance_bar": asdict(BetterThanChance.of(config)),
        "rule_precision": precision,
        "surrogate": surrogate,
        "path_quality": path_quality(lists, ctx.graph, ctx.split.train, k),
        **({"methods": compare_methods(ctx, methods, n_users, k, seed, slow_users, steps, epochs, progress, workers=workers)} if methods else {}),
        "seconds": round(time.perf_counter() - started, 2),
    }
