"""``kgrec run`` (a pipeline YAML, or ``--resume RUN``) and ``kgrec demo`` (the embedded lastfm-dbpedia demo)."""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources
from pathlib import Path

from kgrec.cli.tables import table
from kgrec.config import RunConfig, load_pipeline_config
from kgrec.errors import ConfigError
from kgrec.run.files import saved_run_config

SHOWN = ("ndcg@20", "recall@20", "precision@20", "hit@20", "mrr@20")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``run`` and ``demo`` commands."""
    run = commands.add_parser("run", help="a whole pipeline: train, compare, explain, report")
    run.add_argument("pipeline", nargs="?", type=Path, metavar="PIPELINE.yaml", help="e.g. pipelines/ml100k.yaml")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="e.g. train.epochs=5")
    run.add_argument("--out", type=Path, help="run directory (default ./runs/<pipeline>-<time>/)")
    run.add_argument("--resume", type=Path, metavar="RUN", help="continue the interrupted run in RUN")
    run.set_defaults(handler=run_run)

    demo = commands.add_parser("demo", help="train, compare and explain on lastfm-dbpedia with a fast preset")
    demo.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="e.g. train.epochs=20")
    demo.add_argument("--out", type=Path, help="run directory (default ./runs/demo-<time>/)")
    demo.set_defaults(handler=run_demo)


def run_run(args: argparse.Namespace) -> None:
    if (args.pipeline is None) == (args.resume is None):
        raise ConfigError("kgrec run: give a pipeline YAML, or --resume RUN (not both)")
    if args.resume is not None:
        if args.set:
            raise ConfigError("--set cannot change a run being resumed; its config.yaml is fixed")
        execute(saved_run_config(args.resume), args.resume, resume=True)
        return
    config = load_pipeline_config(args.pipeline, args.set)
    out = args.out or Path("runs") / f"{args.pipeline.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    execute(config, out, resume=False)


#: The one line ``kgrec demo`` prints before training: it is not the tuned configuration.
DEMO_PRESET_NOTE = (
    "kgrec demo: a fast preset (uniform weights, one-negative BPR, batches of 16,384 pairs, at most 80 epochs); "
    "`kgrec run pipelines/lastfm-dbpedia.yaml` trains the tuned configuration"
)


def run_demo(args: argparse.Namespace) -> None:
    with resources.as_file(resources.files("kgrec") / "demo.yaml") as path:
        config = load_pipeline_config(path, args.set)
    out = args.out or Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    print(DEMO_PRESET_NOTE)
    execute(config, out, resume=False, show_users=3)


def execute(config: RunConfig, out: Path, resume: bool, show_users: int = 0) -> None:
    """Run the pipeline and print its comparison table (and a few explained lists); the last line is the
    report (or run directory) path."""
    from kgrec.pipeline import run_pipeline  # torch: imported once the config is checked

    result = run_pipeline(config, out, resume=resume)
    rows = [[row["name"], *(row["test"].get(key) for key in SHOWN), row["best_epoch"], row["seconds_to_best"]] for row in result.comparison]
    print(table(rows, ["model", *SHOWN, "best epoch", "s to best"]))
    if result.explain_eval:
        e = result.explain_eval
        print(f"explanations: path coverage {e['path_coverage']:.3f}, rule coverage {e['rule_coverage']:.3f}, fidelity {e['fidelity']:.3f} ({e['users']} users)")
    if show_users:
        print_gallery(out, show_users)
    print(result.report[0] if result.report else out)


def print_gallery(out: Path, users: int) -> None:
    """The explained recommendations of the report's gallery, as text."""
    document = json.loads((out / "gallery.json").read_text(encoding="utf-8")) if (out / "gallery.json").exists() else {"users": []}
    for entry in document["users"][:users]:
        print(f"\n{entry['user']['name']}:")
        for rec in entry["recommendations"]:
            print(f"  {rec['rank']}. {rec.get('item_name', rec['item'])}")
            print(f"     {rec.get('text') or rec.get('sentence', '')}")
