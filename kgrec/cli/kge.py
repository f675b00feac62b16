"""``kgrec kge train | evaluate``: a knowledge-graph embedding on its own, with filtered link-prediction metrics."""

from __future__ import annotations

import argparse
import csv
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from kgrec.atomic import atomic_directory, safe_file_name
from kgrec.cli.tables import table
from kgrec.config import KGEConfig, from_dict, parse_yaml, read_yaml_mapping, to_dict
from kgrec.data.load import load_dataset
from kgrec.data.registry import list_specs
from kgrec.errors import ConfigError, DatasetError, RunError
from kgrec.run.files import run_file

METRIC_ROWS = ("mrr", "hits@1", "hits@3", "hits@10", "mean_rank")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``kge`` command group."""
    kge = commands.add_parser("kge", help="train and evaluate a KG embedding (TransH / TransE) on its own")
    actions = kge.add_subparsers(dest="action", metavar="ACTION", required=True)

    train = actions.add_parser(
        "train",
        help="train on a triples directory or a registered dataset's KG; writes a run directory",
        description="Train a KG embedding and write config.yaml, model.pt, metrics.json and history.csv "
        "to a run directory (atomically). The last line printed is the run directory.",
    )
    train.add_argument(
        "source",
        metavar="SOURCE",
        help="a directory with train.txt, valid.txt, test.txt (head<TAB>relation<TAB>tail) or a registered "
        "dataset name (its KG triples are split 80/10/10 with the config's seed)",
    )
    train.add_argument("--out", type=Path, help="run directory (default ./runs/kge-<source>-<YYYYmmdd-HHMMSS>)")
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a KGEConfig field, e.g. --set epochs=100 --set model=transe (repeatable)",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    train.set_defaults(handler=run_train)

    evaluate = actions.add_parser("evaluate", help="reload a run and print its filtered link-prediction metrics")
    evaluate.add_argument("run", metavar="RUN", type=Path, help="a run directory written by `kgrec kge train`")
    evaluate.add_argument("--split", choices=["test", "valid"], default="test", help="which triples (default test)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.set_defaults(handler=run_evaluate)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``key=value`` strings → a dict; values parsed as YAML (``1e-3`` is read as a number too)."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        value = parse_yaml(text, f"--set {item!r}")
        if isinstance(value, str):
            try:  # YAML 1.1 reads 1e-3 as a string
                value = float(value)
            except ValueError:
                pass
        values[key] = value
    return values


def build_config(overrides: dict[str, Any]) -> KGEConfig:
    """KGEConfig from ``--set`` values; an unknown key is a ConfigError listing the valid keys."""
    return from_dict(KGEConfig, overrides, where="--set")


def load_source(source: str, seed: int):
    """``(TripleSplit, description)`` of a triples directory or a registered dataset's KG."""
    from kgrec.data.triples import load_triples, triples_from_dataset  # torch: once the options are checked

    path = Path(source)
    if path.is_dir():
        split = load_triples(path)
        return split, {"kind": "directory", "name": split.name, "path": str(path.resolve())}
    registered = sorted(spec.name for spec in list_specs())
    if source in registered:
        ratios = (0.8, 0.1, 0.1)
        split = triples_from_dataset(load_dataset(source), seed=seed, ratios=ratios)
        return split, {"kind": "dataset", "name": source, "seed": seed, "ratios": list(ratios)}
    if path.exists():
        raise DatasetError("expected a directory with train.txt, valid.txt and test.txt", path)
    raise ConfigError(
        f"unknown source {source!r}: neither a directory with train.txt, valid.txt and test.txt nor a registered "
        f"dataset ({', '.join(registered)})"
    )


def reload_source(description: dict[str, Any], where: Path):
    """The TripleSplit a run was trained on, from its config.yaml ``source`` entry."""
    if not isinstance(description, dict) or description.get("kind") not in ("directory", "dataset"):
        raise ConfigError(f"{where}: missing or malformed 'source' entry")
    if description["kind"] == "directory":
        return load_source(str(description["path"]), 0)[0]
    from kgrec.data.triples import triples_from_dataset  # torch: once the run's config is checked

    return triples_from_dataset(
        load_dataset(description["name"]), seed=int(description["seed"]), ratios=tuple(description["ratios"])
    )


def default_run_dir(name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = safe_file_name(name) or "triples"
    out = Path("runs") / f"kge-{safe}-{stamp}"
    n = 2
    while out.exists():
        out = Path("runs") / f"kge-{safe}-{stamp}-{n}"
        n += 1
    return out


def metric_table(columns: dict[str, dict[str, float]]) -> str:
    rows = [[name, *(float(metrics[name]) for metrics in columns.values())] for name in METRIC_ROWS]
    return table(rows, ["metric", *columns])


def run_train(args: argparse.Namespace) -> None:
    config = build_config(parse_overrides(args.overrides))
    split, source = load_source(args.source, config.seed)

    import torch

    # torch: imported once the options and the source are checked
    from kgrec.evaluation.linkpred import evaluate_link_prediction
    from kgrec.training.kge import save_checkpoint, train_kge

    out = args.out or default_run_dir(source["name"])
    model, history = train_kge(split, config, progress=not args.no_progress)
    start = time.perf_counter()
    metrics: dict[str, Any] = {
        part: evaluate_link_prediction(
            model, getattr(split, part), split.parts, split.num_entities, batch_size=config.eval_batch_size
        )
        for part in ("valid", "test")
    }
    metrics.update(
        model=config.model,
        source=source,
        triples=split.summary(),
        epochs=config.epochs,
        train_seconds=history[-1]["seconds"] if history else 0.0,
        eval_seconds=time.perf_counter() - start,
        torch=torch.__version__,
    )
    with atomic_directory(out) as tmp:
        (tmp / "config.yaml").write_text(
            yaml.safe_dump({"source": source, "kge": to_dict(config)}, sort_keys=False), encoding="utf-8"
        )
        save_checkpoint(tmp / "model.pt", model, config, split)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        fields = list(dict.fromkeys(key for row in history for key in row)) or ["epoch", "loss", "seconds"]
        with open(tmp / "history.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(history)
    print(metric_table({"valid": metrics["valid"], "test": metrics["test"]}))
    print(f"{config.model} on {source['name']}: {config.epochs} epochs in {metrics['train_seconds']:.1f} s")
    print(out)


def run_evaluate(args: argparse.Namespace) -> None:
    config_path = run_file(args.run, "config.yaml", "kgrec kge train")
    document = read_yaml_mapping(config_path)
    if "kge" not in document:  # checked before the slow imports below
        hint = " (a `kgrec train` run: use `kgrec evaluate`)" if "kgrec_version" in document else ""
        raise RunError(f"{config_path}: no 'kge' section; not a run directory written by `kgrec kge train`{hint}")
    from kgrec.evaluation.linkpred import evaluate_link_prediction  # torch: once config.yaml is checked
    from kgrec.training.kge import load_checkpoint

    config = from_dict(KGEConfig, document.get("kge"), where=f"{config_path}:kge")
    split = reload_source(document.get("source"), config_path)
    model, checkpoint = load_checkpoint(args.run / "model.pt")
    for kind, ids in (("entities", split.entities), ("relations", split.relations)):
        if checkpoint.get(kind) != [str(x) for x in ids.raw_ids]:
            raise DatasetError(f"the {kind} of the source differ from those the model was trained on", config_path)
    metrics = evaluate_link_prediction(
        model, getattr(split, args.split), split.parts, split.num_entities, batch_size=config.eval_batch_size
    )
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(metric_table({args.split: metrics}))
