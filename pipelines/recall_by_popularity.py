"""Where a trained run's hits come from, by the items' training counts (valid or test, top-k lists).

Run: ``python pipelines/recall_by_popularity.py RUN_DIR [--part valid|test] [--k 20] [--out FILE]``. Prints a
markdown table (items, held-out interactions and interactions per item, hit rate, share of the top-k slots per
training-count bucket) and writes it as JSON (default ``RUN_DIR/recall_by_popularity_<part>.json``). The
valid lists mask training items; the test lists mask training and validation items, as the evaluator does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--part", choices=("valid", "test"), default="valid")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--out", type=Path, help="JSON file (default: RUN_DIR/recall_by_popularity_<part>.json)")
    args = parser.parse_args()

    from kgrec.cli import EXIT_USAGE, error_line
    from kgrec.errors import KgrecError

    try:
        report(args)
    except KgrecError as error:  # one line, exit code 2, as the kgrec CLI
        print(f"error: {error_line(error)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def report(args: argparse.Namespace) -> None:
    """Rank the run's held-out users, print the table and write the JSON (a ConfigError for a bad --k)."""
    from kgrec.atomic import atomic_write_json
    from kgrec.errors import ConfigError
    from kgrec.evaluation.breakdown import popularity_breakdown
    from kgrec.evaluation.ranking import evaluate_top_k
    from kgrec.models.baselines import item_popularity
    from kgrec.run.fit import load_run

    config, prepared, model = load_run(args.run_dir)
    split, n_items = prepared.split, prepared.dataset.n_items
    if not 1 <= args.k <= n_items:
        raise ConfigError(f"--k {args.k}: expected a list length between 1 and the {n_items:,} items")
    target = split.valid if args.part == "valid" else split.test
    masked = [split.train] if args.part == "valid" else [split.train, split.valid]
    users = np.unique(target.user)
    top_items, top_scores = evaluate_top_k(model.score_users, users, masked, n_items, args.k,
                                           config.eval.batch_size, config.train.device, progress=True)
    filled = torch.isfinite(top_scores).cpu().numpy()
    table = popularity_breakdown(users, top_items.cpu().numpy(), filled, target, item_popularity(prepared.graph))

    print(f"{args.run_dir} ({config.model.model}), {args.part}, top {args.k}, {len(users):,} users\n")
    print("| training interactions | items | held-out interactions | per item | hit rate | top-k slots |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in table.itertuples(index=False):
        print(f"| {row.train_count} | {row.items:,} | {row.interactions:,} | {row.per_item:.2f} | {row.hit_rate:.3f} "
              f"| {row.slot_share:.3f} |")
    out = args.out or args.run_dir / f"recall_by_popularity_{args.part}.json"
    rows = table.astype(object).to_dict(orient="records")  # Python numbers; atomic_write_json writes NaN as null
    atomic_write_json(out, {"run": str(args.run_dir), "part": args.part, "k": args.k, "users": len(users),
                            "buckets": rows})
    print(f"\n{out}")


if __name__ == "__main__":
    main()
