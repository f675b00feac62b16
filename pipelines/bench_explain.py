"""Benchmark of the explanations of trained runs: latency, coverage and faithfulness.

Run: ``python pipelines/bench_explain.py RUN [RUN ...] [--users 200] [--out bench_explain.json]``, on run
directories written by ``kgrec train``, one per dataset: lastfm-kgcn (on the benchmark split), ml100k,
lastfm-dbpedia and ml1m-dbpedia (``pipelines/<dataset>.yaml``). For each run: median and p95 latency of
``recommend(user, 10, explain=True)`` after the model is loaded (rules mined beforehand), the time to
explain every user's top-10 (``--no-all-users`` skips it, e.g. for ml1m-dbpedia's 6,040 users), and
``kgrec explain-eval``'s measures on ``--users`` sampled users, among them the told-evidence measures
``collaborative_share``, ``named_coverage``, ``told_weight_share`` (mean and median) and both fidelities
(``fidelity``, ``fidelity_strict_rank``). It prints a markdown table, one column per dataset, and writes
every measure to ``--out`` (JSON). Targets: rule coverage ≥ 90 %, named coverage 100 % (the DBpedia
datasets), median told weight share ≥ 25 %, fidelity ≥ 90 % and strict-rank fidelity ≥ 70 %, p95 latency
≤ 50 ms, all users of lastfm-kgcn ≤ 60 s.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from kgrec.atomic import atomic_write_text
from kgrec.explain.evaluate import explain_eval
from kgrec.recommender import Recommender, freeze_loaded_objects


def latency(rec: Recommender, users: np.ndarray, k: int) -> list[float]:
    """Milliseconds of one explained top-k list per user."""
    times = []
    for user in users:
        started = time.perf_counter()
        rec.recommend(int(user), k, explain=True)
        times.append(1000 * (time.perf_counter() - started))
    return times


def bench_run(run: Path, n_users: int, k: int, all_users: bool) -> dict[str, object]:
    """All measures of one run directory."""
    started = time.perf_counter()
    rec = Recommender.load(run)
    _ = rec.rules, rec.explainer  # mined or read, then the path index built: not part of the latency
    freeze_loaded_objects()  # as kgrec serve does: a long-lived process keeps the run out of the GC's sweeps
    setup = time.perf_counter() - started
    rng = np.random.default_rng(0)
    eligible = rec.users_with_history()
    latency(rec, eligible[:5], k)  # warm-up
    times = latency(rec, rng.choice(eligible, size=min(100, len(eligible)), replace=False), k)
    everyone = None
    if all_users:
        started = time.perf_counter()
        for user in tqdm(eligible, desc=f"explain all ({run.name})", unit="user"):
            rec.recommend(int(user), k, explain=True)
        everyone = time.perf_counter() - started
    report = explain_eval(rec.context, n_users, k)
    return {
        "run": str(run),
        "dataset": rec.dataset.name,
        "model": rec.config.model.model,
        "setup_s": round(setup, 2),
        "latency_ms_median": round(float(np.median(times)), 2),
        "latency_ms_p95": round(float(np.percentile(times, 95)), 2),
        "all_users_s": None if everyone is None else round(everyone, 1),
        "users_explained": int(len(eligible)),
        **{key: value for key, value in report.items() if key != "surrogate"},
        "surrogate_accuracy": (report["surrogate"] or {}).get("accuracy"),
        "surrogate_f1": (report["surrogate"] or {}).get("f1"),
    }


#: The datasets the benchmark is run on (one run directory each), the table's column order; runs of other
#: datasets are measured too, in the given order after these.
DATASETS = ("lastfm-kgcn", "ml100k", "lastfm-dbpedia", "ml1m-dbpedia")

#: The measures printed, one row each, in this order (keys of :func:`bench_run`'s rows, i.e. of
#: ``kgrec explain-eval --format json`` plus the latencies and the surrogate's scores).
MEASURES = ("model", "latency_ms_median", "latency_ms_p95", "all_users_s", "path_coverage_len3", "rule_coverage", "collaborative_share",
            "named_coverage", "told_weight_share", "told_weight_share_median", "fidelity", "fidelity_strict_rank",
            "rank_ties", "mean_rank_drop", "random_rank_drop", "average_path_length", "rule_precision", "surrogate_f1")


def markdown(rows: list[dict[str, object]]) -> str:
    """One column per run, headed by its dataset (and the run's folder when two runs share a dataset), one
    row per measure of :data:`MEASURES`."""
    def cell(value: object) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    names = [str(row.get("dataset")) for row in rows]
    heads = [f"{name} ({Path(str(row['run'])).name})" if names.count(name) > 1 else name for name, row in zip(names, rows)]
    lines = ["| measure | " + " | ".join(heads) + " |", "|---|" + "---|" * len(rows)]
    lines += ["| " + " | ".join([key, *(cell(row.get(key)) for row in rows)]) + " |" for key in MEASURES]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN")
    parser.add_argument("--users", type=int, default=200, help="users sampled by explain-eval")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--no-all-users", action="store_true", help="skip explaining every user")
    parser.add_argument("--out", type=Path, default=Path("bench_explain.json"))
    args = parser.parse_args()
    rows = [bench_run(run, args.users, args.k, not args.no_all_users) for run in args.runs]
    rank = {name: n for n, name in enumerate(DATASETS)}
    rows.sort(key=lambda row: rank.get(str(row["dataset"]), len(DATASETS)))  # stable: the given order otherwise
    print(markdown(rows))
    atomic_write_text(args.out, json.dumps(rows, indent=2, default=float) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
