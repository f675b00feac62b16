"""Benchmark of the all-users export: every user's explained top-k in one job, as ``kgrec recommend RUN
--all-users -k K --explain --out FILE.jsonl --workers W`` writes it.

Run: ``python pipelines/bench_export.py RUN [RUN ...] [--workers 1,2] [-k 10] [--out bench_export.json]``, on
run directories written by ``kgrec train``. Each run is loaded once (as the command does; the seconds of the
load are reported apart), then exported once per worker count to a temporary file: the job's seconds
(:class:`kgrec.run.export.ExportSummary`), users per second and megabytes written, and whether every worker
count wrote the same bytes. Set ``OMP_NUM_THREADS=1``: the workers are one thread each. It prints a markdown
table and writes every measure to ``--out`` (JSON). Target: ≥ 500 users/s on ml1m-dbpedia.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

from kgrec.atomic import atomic_write_text
from kgrec.recommender import Recommender
from kgrec.run.export import export_all


def bench_run(run: Path, workers: list[int], k: int) -> list[dict[str, object]]:
    """One row per worker count: the export of every user's explained top-``k`` of ``run``."""
    started = time.perf_counter()
    rec = Recommender.load(run)
    _ = rec.rules, rec.explainer  # mined or read and the path index built, as the first user would
    load = time.perf_counter() - started
    rows, digests = [], set()
    with tempfile.TemporaryDirectory() as folder:
        for count in workers:
            out = Path(folder) / f"recs-{count}.jsonl"
            summary = export_all(rec, out, k, True, workers=count, meta_run=str(run))
            digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
            rows.append({
                "run": str(run), "dataset": rec.dataset.name, "workers": count, "users": summary.users,
                "load_s": round(load, 2), "seconds": round(summary.seconds, 3),
                "users_per_s": round(summary.users / summary.seconds, 1), "mb": round(out.stat().st_size / 2**20, 1),
            })
            out.unlink()
    for row in rows:
        row["same_bytes"] = len(digests) == 1
    return rows


def table(rows: list[dict[str, object]]) -> str:
    """The rows as a markdown table."""
    lines = ["| dataset | workers | users | load s | export s | users/s | MB | same bytes for every worker count |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['dataset']} | {r['workers']} | {r['users']:,} | {r['load_s']} | {r['seconds']} "
              f"| {r['users_per_s']} | {r['mb']} | {'yes' if r['same_bytes'] else 'no'} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories written by kgrec train")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default 1,2)")
    parser.add_argument("-k", type=int, default=10, help="recommendations per user (default 10)")
    parser.add_argument("--out", type=Path, default=Path("bench_export.json"), help="JSON file of every measure")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    rows = [row for run in args.runs for row in bench_run(run, workers, args.k)]
    print(table(rows))
    atomic_write_text(args.out, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
