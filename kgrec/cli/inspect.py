"""``kgrec inspect RUN --relations / --entities``: which relations and KG entities the model leans on."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from kgrec.atomic import json_safe
from kgrec.cli.common import check_positive
from kgrec.cli.explain import load_recommender
from kgrec.cli.tables import table
from kgrec.errors import ConfigError
from kgrec.explain.types import INSPECT_DIR

if TYPE_CHECKING:
    from kgrec.explain.association import Association


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``inspect`` command."""
    inspect = commands.add_parser(
        "inspect", help="which relations and entities the model leans on: usage, attention, NDCG drop without them"
    )
    inspect.add_argument("run", type=Path, metavar="RUN")
    inspect.add_argument("--relations", action="store_true", help="analyse every relation")
    inspect.add_argument("--entities", action="store_true", help="analyse the KG entities most used by explanations")
    inspect.add_argument("--users", type=int, help="sampled users explained (default: the config's explain.eval_users)")
    inspect.add_argument("-k", type=int, help="explained list length (default: explain.eval_k)")
    inspect.add_argument("--top", type=int, default=20, help="entities analysed (default 20)")
    inspect.add_argument("--format", choices=["table", "json"], default="table")
    inspect.add_argument("--out-dir", type=Path, help="where <kind>.json and <kind>.png go (default RUN/inspect)")
    inspect.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> None:
    kinds = [kind for kind in ("relations", "entities") if getattr(args, kind)]
    if not kinds:
        raise ConfigError("kgrec inspect: choose what to analyse: --relations and/or --entities")
    for name, value in (("--users", args.users), ("-k", args.k), ("--top", args.top)):
        check_positive(name, value)
    rec = load_recommender(args.run)
    from kgrec.explain.association import analyse, write_association  # torch: after the run loads

    out_dir = args.out_dir or args.run / INSPECT_DIR
    results = analyse(rec.context, kinds, args.users, args.k, args.top)
    written = write_association(results, out_dir)
    if out_dir.resolve() == (args.run / INSPECT_DIR).resolve() and (args.run / "report.html").exists():
        from kgrec.report import build_report  # matplotlib: only when there is a report to refresh

        written.append(build_report(args.run)[0])  # the report's "What the model leans on" section
    if args.format == "json":
        print(json.dumps(json_safe({kind: r.to_dict() for kind, r in results.items()}), indent=2, ensure_ascii=False))
        return
    for result in results.values():
        print(result_table(result, args.run))
        print()
    print("\n".join(str(path) for path in written))


def result_table(result: Association, run: Path) -> str:
    """The heading line, the table of one analysis and a note on relations the model does not use."""
    what = "relation" if result.kind == "relations" else "entity"
    head = (f"{result.kind} of {run} ({result.model}): {result.explanations:,} explanations of {result.users:,} users' "
            f"top-{result.k} ({result.with_path:,} with a path); valid NDCG@20 with every edge {result.full:.4f}")
    if result.kind == "relations":
        rows = [[r.name, r.label, r.edges, r.share, r.listed_share, r.mean_weight, r.ndcg, r.drop] for r in result.rows]
        header = [what, "noun", "edges", "told share", "listed share", "mean weight", "NDCG@20 without", "drop"]
    else:
        rows = [[r.label, r.edges, r.share, r.listed_share, r.mean_weight, r.ndcg, r.drop] for r in result.rows]
        header = [what, "edges", "told share", "listed share", "mean weight", "NDCG@20 without", "drop"]
    lines = [head, table(rows, header) if rows else f"(no {what} is used by any explanation path)"]
    if result.absent:
        absent = ", ".join(result.absent)
        lines.append(f"not in the model's propagation graph (never used, nothing to remove): {absent}")
    return "\n".join(lines)
