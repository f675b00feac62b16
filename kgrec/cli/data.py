"""``kgrec data list | stats | split | export``: inspect, split and convert datasets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from kgrec.cli.tables import table
from kgrec.config import DataConfig, SplitConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.formats import recbole_atomic
from kgrec.data.load import load_dataset
from kgrec.data.registry import list_specs
from kgrec.data.sources import where_found
from kgrec.data.split import split


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group."""
    data = commands.add_parser("data", help="list, inspect, split and export datasets")
    actions = data.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="registered datasets and where their files were found")
    listing.set_defaults(handler=run_list)

    stats = actions.add_parser("stats", help="counts of users, items, interactions, entities, relations, triples")
    add_dataset_arguments(stats)
    stats.add_argument("--json", action="store_true", help="print the statistics as JSON")
    stats.set_defaults(handler=run_stats)

    splitting = actions.add_parser("split", help="split a dataset and save train/valid/test.tsv (raw ids)")
    add_dataset_arguments(splitting)
    splitting.add_argument("--out", required=True, type=Path, help="directory for train.tsv, valid.tsv, test.tsv")
    splitting.add_argument("--seed", type=int, default=SplitConfig.seed, help="random seed (default %(default)s)")
    splitting.add_argument("--scheme", choices=["ratio", "loo", "temporal", "random", "predefined"], default="ratio")
    splitting.add_argument(
        "--ratios", type=float, nargs=3, default=list(SplitConfig.ratios), metavar=("TRAIN", "VALID", "TEST")
    )
    splitting.set_defaults(handler=run_split)

    export = actions.add_parser("export", help="write a dataset in another format")
    add_dataset_arguments(export)
    export.add_argument("--format", choices=["recbole"], required=True, help="output format")
    export.add_argument("--out", required=True, type=Path, help="output directory (written atomically)")
    export.set_defaults(handler=run_export)


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every command that loads a dataset takes (mirroring DataConfig)."""
    parser.add_argument("name", metavar="NAME", help="a registered dataset (kgrec data list) or a path to your files")
    group = parser.add_argument_group("dataset options")
    group.add_argument("--input-format", choices=["tsv", "kgat", "recbole"], help="format of the files at a NAME path")
    group.add_argument("--threshold", type=float, help="positives are ratings >= this (0 keeps every rating)")
    group.add_argument("--keep-unlinked-items", action="store_true", help="keep items without a KG entity")
    group.add_argument("--min-user-interactions", type=int, default=0, metavar="N")
    group.add_argument("--min-item-interactions", type=int, default=0, metavar="N")
    group.add_argument("--iterative-filter", action="store_true", help="repeat the filters to a fixed point")
    group.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    group.add_argument("--no-verify", action="store_true", help="accept local files whose SHA256 differs")


def data_config(args: argparse.Namespace) -> DataConfig:
    """DataConfig from the dataset arguments."""
    return DataConfig(
        name=args.name,
        format=args.input_format,
        threshold=args.threshold,
        keep_unlinked_items=args.keep_unlinked_items,
        min_user_interactions=args.min_user_interactions,
        min_item_interactions=args.min_item_interactions,
        iterative_filter=args.iterative_filter,
        download=not args.no_download,
        verify_checksums=not args.no_verify,
    )


def run_list(args: argparse.Namespace) -> None:
    rows = []
    for spec in list_specs():
        places = "; ".join(where_found(source.folder, source.files) for source in spec.sources)
        rows.append([spec.name, spec.description, places])
    print(table(rows, ["dataset", "description", "files"]))


def stats_rows(dataset: RecDataset) -> list[list[object]]:
    """The summary rows printed by ``kgrec data stats``."""
    stats = dataset.stats()
    linked_share = stats.linked_items / stats.items if stats.items else 0.0
    rows: list[list[object]] = [
        ["dataset", stats.name],
        ["users", stats.users],
        ["items", stats.items],
        ["interactions", stats.interactions],
        ["density", f"{stats.density:.4%}"],
        ["entities", stats.entities],
        ["relations", stats.relations],
        ["triples", stats.triples],
        ["linked items", f"{stats.linked_items:,} ({linked_share:.1%})"],
        ["ratings", "yes" if stats.has_ratings else "no"],
        ["timestamps", "yes" if stats.has_timestamps else "no"],
    ]
    for kind, ids in (("users", dataset.users), ("items", dataset.items), ("entities", dataset.entities)):
        named = np.flatnonzero(ids.names != "")
        if len(named):
            examples = ", ".join(ids.name(i) for i in named[:3])
            rows.append([f"named {kind}", f"{len(named):,} of {len(ids):,}, e.g. {examples}"])
    for key, value in dataset.info.items():
        rows.append([key, value])
    return rows


def run_stats(args: argparse.Namespace) -> None:
    dataset = load_dataset(data_config(args))
    if args.json:
        print(json.dumps(dataset.stats().to_dict(), indent=2))
        return
    print(table(stats_rows(dataset)))
    per_relation = sorted(dataset.stats().per_relation.items(), key=lambda kv: (-kv[1], kv[0]))
    if per_relation:
        print()
        print(table(per_relation, ["relation", "triples"]))


def run_split(args: argparse.Namespace) -> None:
    dataset = load_dataset(data_config(args))
    parts = split(dataset, SplitConfig(scheme=args.scheme, ratios=tuple(args.ratios), seed=args.seed))
    out = parts.save(args.out, dataset)
    summary = parts.summary()
    rows = [[name, summary[name], summary[f"{name}_users"]] for name in ("train", "valid", "test")]
    print(table(rows, ["part", "interactions", "users"]))
    print(out)


def run_export(args: argparse.Namespace) -> None:
    dataset = load_dataset(data_config(args))
    print(recbole_atomic.export(dataset, args.out))
