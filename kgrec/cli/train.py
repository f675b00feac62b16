"""``kgrec train`` and ``kgrec evaluate``: one model on one dataset, into a run directory."""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

from kgrec.cli.common import check_positive, checked_run
from kgrec.cli.tables import table
from kgrec.config import RunConfig, load_run_config, with_overrides
from kgrec.data.registry import dataset_reference
from kgrec.errors import ConfigError

MODELS = ("kgrec", "bprmf", "lightgcn", "pop")
SHOWN = ("recall@20", "ndcg@20", "precision@20", "hit@20", "mrr@20", "coverage@20")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``evaluate`` commands."""
    train = commands.add_parser("train", help="train a recommender and write a run directory")
    train.add_argument("dataset", metavar="DATASET", help="a registered dataset or a path to your files")
    train.add_argument("--model", choices=MODELS, help="model (default: the config's, kgrec)")
    train.add_argument("--config", type=Path, help="YAML with sections data, split, model, train, eval")
    train.add_argument("--split-dir", type=Path, help="predefined train.tsv / valid.tsv / test.tsv (raw ids)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="e.g. train.epochs=5")
    train.add_argument("--out", type=Path, help="run directory (default ./runs/<dataset>-<model>-<time>/)")
    train.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    train.add_argument(
        "--nproc", type=int, default=1, metavar="N",
        help="data-parallel training in N local processes (default 1); under torchrun, give torchrun the counts instead",
    )
    train.set_defaults(handler=run_train)

    evaluate = commands.add_parser("evaluate", help="evaluate a run directory on its test split")
    evaluate.add_argument("run", type=Path, metavar="RUN")
    evaluate.add_argument("--protocol", choices=["ranking", "ctr"], default="ranking")
    evaluate.set_defaults(handler=run_evaluate)


def train_config(args: argparse.Namespace) -> RunConfig:
    """The run's config: file (or defaults), then the dataset, --model, --split-dir and --set overrides.

    Everything is checked before the dataset reference is resolved, which imports torch (seconds)."""
    config = load_run_config(args.config) if args.config else RunConfig()
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, name=args.dataset))
    if args.model:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, model=args.model))
    if args.split_dir:
        if not args.split_dir.is_dir():
            raise ConfigError(f"--split-dir {args.split_dir}: no such directory of train.tsv, valid.tsv, test.tsv")
        split = dataclasses.replace(config.split, scheme="predefined", split_dir=str(args.split_dir))
        config = dataclasses.replace(config, split=split)
    config = with_overrides(config, args.set)
    return dataclasses.replace(config, data=dataclasses.replace(config.data, name=dataset_reference(config.data.name)))


def run_train(args: argparse.Namespace) -> None:
    check_positive("--nproc", args.nproc)
    if args.resume and args.out is None:
        raise ConfigError("--resume needs --out RUN, the directory of the interrupted run")
    config = train_config(args)
    from kgrec.run.fit import train_run  # torch: imported once the arguments are checked

    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("runs") / f"{Path(config.data.name).name}-{config.model.model}-{stamp}"
    metrics = train_run(config, out, resume=args.resume, nproc=args.nproc)
    if os.environ.get("RANK", "0") != "0":  # one of torchrun's processes, not the first: the first prints
        return
    test = metrics["test"]
    print(table([[key, test[key]] for key in SHOWN if key in test], ["test metric", "value"]))
    print(f"best epoch {metrics['best_epoch']}, {metrics['seconds_to_best']} s to best, {metrics['peak_rss_mb']} MB peak RSS")
    print(out)


def run_evaluate(args: argparse.Namespace) -> None:
    checked_run(args.run)
    from kgrec.run.fit import evaluate_run  # torch: imported once the run directory is checked

    metrics = evaluate_run(args.run, args.protocol)
    print(table([[key, value] for key, value in metrics.items()], ["metric", "value"]))
