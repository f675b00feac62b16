"""Benchmark: kgrec, its ablations and the baselines on one dataset + split, each in its own process.

Run: ``python pipelines/bench_recommenders.py [--config pipelines/lastfm-benchmark.yaml] [--split-dir DIR]
[--only kgrec,pop] [--set train.epochs=5 ...] [--out bench_recommenders.json]``. Every row is a real
``kgrec train`` run (so its peak RSS is that process's own); the script prints a markdown table and writes
JSON. The rows are the config's kgrec and the variants of its ``pipeline.compare`` (kgrec's ablations
first), so the benchmark and ``kgrec run`` compare the same models. Targets (lastfm-kgcn
split-2026): kgrec NDCG@20 ≥ 0.2528 and Recall@20 ≥ 0.4054.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from kgrec.pipeline import VARIANTS as PIPELINE_VARIANTS
from kgrec.pipeline import is_baseline, load_pipeline_config, variant_overrides

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPLIT = REPO.parent / "shared" / "benchmarks" / "lastfm-kgcn-split-2026"
COLUMNS = ("ndcg@20", "recall@20", "precision@20", "hit@20", "mrr@20")


def bench_variants(config_path: Path) -> dict[str, list[str]]:
    """Display name -> extra ``--set`` overrides: the config's kgrec, then the variants of its
    ``pipeline.compare`` (the list ``kgrec run`` compares), kgrec's ablations before the baselines."""
    config = load_pipeline_config(config_path)
    ordered = sorted(config.pipeline.compare, key=is_baseline)  # stable: the config's order within each group
    return {"kgrec": [], **{PIPELINE_VARIANTS[name][0]: variant_overrides(config, name) for name in ordered}}


def run_variant(name: str, overrides: list[str], args: argparse.Namespace, root: Path) -> dict:
    """Train one variant through the CLI and return its metrics.json."""
    out = root / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    command = [sys.executable, "-m", "kgrec", "train", args.dataset, "--config", str(args.config), "--out", str(out)]
    if args.split_dir:
        command += ["--split-dir", str(args.split_dir)]
    for assignment in overrides + args.set:
        command += ["--set", assignment]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"{name}: kgrec train failed:\n{completed.stderr[-2000:]}")
    return json.loads((out / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="lastfm-kgcn")
    parser.add_argument("--config", type=Path, default=REPO / "pipelines" / "lastfm-benchmark.yaml")
    parser.add_argument("--split-dir", type=Path, default=DEFAULT_SPLIT)
    parser.add_argument("--only", help="comma-separated variant names (prefix match)")
    parser.add_argument("--set", action="append", default=[], help="override for every variant, e.g. train.epochs=5")
    parser.add_argument("--out", type=Path, default=Path("bench_recommenders.json"))
    parser.add_argument("--runs", type=Path, help="keep the run directories here (default: a temporary folder)")
    args = parser.parse_args()
    chosen = {n: o for n, o in bench_variants(args.config).items() if not args.only or any(n.startswith(p) for p in args.only.split(","))}
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = args.runs or Path(scratch)
        for name, overrides in chosen.items():
            results[name] = run_variant(name, overrides, args, root)
            print(f"done: {name}", file=sys.stderr)
    header = ["model", *COLUMNS, "best epoch", "s to best", "s/epoch", "eval s", "peak RSS MB"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for name, m in results.items():
        cells = [f"{m['test'][c]:.4f}" for c in COLUMNS]
        cells += [str(m["best_epoch"]), f"{m['seconds_to_best']:.0f}", f"{m['seconds_per_epoch']:.2f}", f"{m['eval_seconds']:.2f}", f"{m['peak_rss_mb']:.0f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    from kgrec.atomic import atomic_write_text

    atomic_write_text(args.out, json.dumps(results, indent=2) + "\n")
    print(f"\n{args.out}")


if __name__ == "__main__":
    main()
