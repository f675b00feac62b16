"""``kgrec recommend``, ``paths``, ``rules`` and ``explain-eval``: explained recommendations of a run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kgrec.atomic import atomic_write_text, json_safe, safe_file_name
from kgrec.cli.common import check_positive, checked_run
from kgrec.cli.tables import table
from kgrec.errors import ConfigError

if TYPE_CHECKING:
    from kgrec.recommender import Recommender


def register(commands: argparse._SubParsersAction) -> None:
    """Add the explanation commands."""
    recommend = commands.add_parser("recommend", help="top-k recommendations of a user, optionally explained")
    recommend.add_argument("run", type=Path, metavar="RUN")
    who = recommend.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="raw user id or name")
    who.add_argument("--all-users", action="store_true", help="every user's list, one JSON line each, to --out "
                     "(.jsonl, or .parquet with pyarrow); resumes an interrupted job")
    recommend.add_argument("-k", type=int, default=10, help="list length (default 10)")
    recommend.add_argument("--explain", action="store_true", help="add paths, rule and sentence")
    recommend.add_argument("--format", choices=["text", "json", "html"], default=None, help="output of --user (default text)")
    recommend.add_argument("--out", type=Path, help="file for json/html (html default: RUN/explanations/user-<id>.html); "
                           "with --all-users the .jsonl or .parquet file")
    recommend.add_argument("--workers", type=int, default=1, help="with --all-users: processes (default 1)")
    recommend.set_defaults(handler=run_recommend)

    paths = commands.add_parser("paths", help="every path from a user to an item, with the model's weights")
    paths.add_argument("run", type=Path, metavar="RUN")
    paths.add_argument("--user", required=True, help="raw user id or name")
    paths.add_argument("--item", required=True, help="raw item id or name")
    paths.add_argument("--max-len", type=int, default=4, help="longest path in edges (default 4)")
    paths.add_argument("--top", type=int, default=50, help="paths shown (default 50)")
    paths.add_argument("--format", choices=["table", "json"], default="table")
    paths.set_defaults(handler=run_paths)

    rules = commands.add_parser("rules", help="the rules mined from the run's training interactions")
    rules.add_argument("run", type=Path, metavar="RUN")
    rules.add_argument("--top", type=int, default=30, help="rules shown (default 30)")
    rules.add_argument("--constants", action="store_true",
                       help="list the rules with a constant (one fixed node between the two items) instead")
    rules.add_argument("--format", choices=["table", "json"], default="table")
    rules.set_defaults(handler=run_rules)

    evaluate = commands.add_parser("explain-eval", help="coverage and faithfulness of the run's explanations")
    evaluate.add_argument("run", type=Path, metavar="RUN")
    evaluate.add_argument("--users", type=int, help="sampled users (default: the config's explain.eval_users, 200)")
    evaluate.add_argument("-k", type=int, help="explained list length (default: explain.eval_k, 10)")
    evaluate.add_argument("--format", choices=["text", "json"], default="text")
    evaluate.add_argument("--methods", help="also compare explanation methods at equal budgets, comma-separated from "
                          "paths,rules,saliency,ig,gnnexplainer,attention,random (writes RUN/explain_methods.md)")
    evaluate.add_argument("--slow-users", type=int, default=50, help="users for the slow methods ig and gnnexplainer (default 50)")
    evaluate.add_argument("--ig-steps", type=int, default=32, help="integrated-gradients steps (Gauss-Legendre nodes, default 32)")
    evaluate.add_argument("--gnn-epochs", type=int, default=100, help="GNNExplainer epochs (default 100)")
    evaluate.add_argument("--workers", type=int, default=1, help="processes for the method comparison (same result, "
                          "about N times faster on N cores; default 1)")
    evaluate.set_defaults(handler=run_explain_eval)


def load_recommender(run: Path) -> Recommender:
    """The run's recommender, once its config.yaml is checked (a mistyped run fails before torch loads)."""
    checked_run(run)
    from kgrec.recommender import Recommender  # torch: imported once the run directory is checked

    return Recommender.load(run)


def run_recommend(args: argparse.Namespace) -> None:
    check_positive("-k", args.k)
    if args.all_users:
        run_recommend_all(args)
        return
    if args.workers != 1:
        raise ConfigError("--workers is an option of --all-users")
    args.format = args.format or "text"
    rec = load_recommender(args.run)
    from kgrec.explain.render import explanations_html, recommendations_document  # torch: after the run loads

    user = rec.user_id(args.user)
    explanations = rec.recommend(user, args.k, explain=args.explain or args.format == "html")
    if explanations and explanations[0].fallback:
        print(f"note: user {args.user!r} has no training history (cold start): showing the most popular items", file=sys.stderr)
    raw = rec.dataset.users.raw(user)
    if args.format == "json":
        document = recommendations_document(user, explanations, rec.graph, rec.phrases, {"run": str(args.run)})
        text = json.dumps(json_safe(document), indent=2, ensure_ascii=False)
        if args.out:
            atomic_write_text(args.out, text + "\n")
            print(args.out)
        else:
            print(text)
        return
    if args.format == "html":
        out = args.out or args.run / "explanations" / f"user-{safe_file_name(raw)}.html"
        page = explanations_html(rec.graph.node_name(user), explanations, rec.graph, rec.phrases, out, out.with_suffix(""))
        print(page)
        return
    name = rec.graph.node_name(user)
    print(f"top {len(explanations)} for {name}" + (f" (user {raw})" if name != f"user {raw}" else "") + ":")
    for e in explanations:
        name = rec.dataset.items.name(e.item)
        print(f"{e.rank:>3}. {name}  (score {e.score:.4g})")
        if args.explain:
            print(f"     {e.text}")


def run_recommend_all(args: argparse.Namespace) -> None:
    """``--all-users``: every user's list to ``--out`` (:mod:`kgrec.run.export`)."""
    check_positive("--workers", args.workers)
    if args.out is None:
        raise ConfigError("--all-users needs --out FILE (.jsonl, or .parquet with pyarrow)")
    if args.format not in (None, "json"):
        raise ConfigError(f"--all-users writes JSON lines or Parquet (by the --out suffix), not --format {args.format}")
    from kgrec.run.export import check_output, export_all  # torch: after the options are checked

    check_output(args.out)
    rec = load_recommender(args.run)
    summary = export_all(rec, args.out, args.k, args.explain, args.workers, meta_run=str(args.run))
    resumed = f", {summary.resumed} from an interrupted job" if summary.resumed else ""
    print(f"{summary.users} users{resumed} in {summary.seconds:.1f} s", file=sys.stderr)
    print(summary.out)


def run_paths(args: argparse.Namespace) -> None:
    if args.max_len < 2:
        raise ConfigError(f"--max-len must be at least 2 (user → liked item → ... → item), got {args.max_len}")
    check_positive("--top", args.top)
    rec = load_recommender(args.run)
    paths = rec.paths(args.user, args.item, args.max_len)[: args.top]
    if args.format == "json":
        from kgrec.explain.render import path_row  # torch: after the run loads

        print(json.dumps([path_row(p, rec.graph, rec.phrases) for p in paths], indent=2, ensure_ascii=False))
        return
    if not paths:
        print(f"no path of length ≤ {args.max_len} from {args.user!r} to {args.item!r} in the training graph")
        return
    print(table([[i, p.length, p.weight, rec.path_text(p)] for i, p in enumerate(paths, 1)], ["#", "length", "weight", "path"]))


def run_rules(args: argparse.Namespace) -> None:
    check_positive("--top", args.top)
    rec = load_recommender(args.run)
    rules = (rec.rules.constants if args.constants else rec.rules.rules)[: args.top]
    label = rec.phrases.pattern_label
    if args.format == "json":
        from kgrec.explain.render import rule_row  # torch: after the run loads

        print(json.dumps([rule_row(r, rec.graph, rec.phrases) for r in rules], indent=2, ensure_ascii=False))
        return
    print(table(
        [[rec.rule_name(r), label(rec.graph, r.pattern), r.support, r.connected, r.confidence, r.head_coverage, r.lift,
          r.popularity_lift, r.p_value] for r in rules],
        ["rule", "pattern", "support", "connected", "confidence", "head cov.", "lift", "pop. lift", "p-value"],
    ))
    users = f"{rec.rules.min_colikes} user" + ("s" if rec.rules.min_colikes != 1 else "")
    print(f"{len(rec.rules.rules):,} pattern rules and {len(rec.rules.constants):,} rules with a constant mined from "
          f"{rec.rules.n_coliked:,} item pairs co-liked by at least {users} (base rate {rec.rules.base_rate:.4g})")


def run_explain_eval(args: argparse.Namespace) -> None:
    check_positive("--users", args.users)
    check_positive("-k", args.k)
    for name, value in (("--slow-users", args.slow_users), ("--ig-steps", args.ig_steps), ("--gnn-epochs", args.gnn_epochs), ("--workers", args.workers)):
        check_positive(name, value)
    from kgrec.explain.compare import (  # torch: the methods are checked before the run loads
        methods_table,
        parse_methods,
    )

    methods = parse_methods(args.methods) if args.methods else None
    rec = load_recommender(args.run)
    from kgrec.explain.evaluate import explain_eval  # torch: after the run loads

    report = json_safe(explain_eval(rec.context, args.users, args.k, methods=methods, slow_users=args.slow_users,
                                    steps=args.ig_steps, epochs=args.gnn_epochs, workers=args.workers))
    atomic_write_text(args.run / "explain_eval.json", json.dumps(report, indent=2) + "\n")
    if methods:
        atomic_write_text(args.run / "explain_methods.md", methods_table(report["methods"]) + "\n")
    if (args.run / "report.html").exists():  # keep the run report's "Explanation quality" section current
        from kgrec.report import build_report  # matplotlib: only when there is a report to refresh

        build_report(args.run)
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return
    shown = {k: v for k, v in report.items() if k not in ("surrogate", "path_quality", "methods")}
    print(table([[k, v] for k, v in shown.items()], ["measure", "value"]))
    quality = report.get("path_quality")
    if quality:
        shown_quality = ["n/a" if quality[m] is None else f"{quality[m]:.3f}" for m in ("lir", "sep", "etd", "lid", "sed")]
        print(f"\npath quality (Balloccu et al. 2022; β {quality['beta']:.3f}, {quality['path_types']} path types): "
              + ", ".join(f"{m} {v}" for m, v in zip(("LIR", "SEP", "ETD", "LID", "SED"), shown_quality)))
    surrogate = report.get("surrogate")
    if surrogate:
        print(f"\nsurrogate decision tree: accuracy {surrogate['accuracy']:.3f}, F1 {surrogate['f1']:.3f} on held-out users")
        print(surrogate["tree"])
    if methods:
        compared = report["methods"]
        print(f"\nexplanation methods at equal budgets ({compared['users']} users, {compared['slow_users']} for ig and gnnexplainer; "
              f"budget = {compared['budget']}):")
        print(methods_table(compared))
        print(args.run / "explain_methods.md")
    print(args.run / "explain_eval.json")
