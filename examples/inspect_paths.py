"""Inspect an explanation: every path from a user to their top item, the mined rules, and the chosen one.

Trains kgrec on moviekg-omdb (or loads a finished run with ``--run``), takes the user's top-ranked item
and prints (1) every path user → ... → item up to ``--max-len`` edges with the model's weight (the product
of the propagation weights along it), (2) the rules mined from the training data ("users who liked j also
like i when j and i share a director", with support / confidence / lift) and (3) the explanation kgrec
tells: which path, which rule, the sentence. ``--html`` also writes the HTML page with the subgraph picture.

    python examples/inspect_paths.py                         # trains 60 epochs into runs/examples/inspect
    python examples/inspect_paths.py --run runs/movies --user u_414 --max-len 3 --html
    python examples/inspect_paths.py --epochs 2 --out /tmp/inspect --set model.dim=16    # smoke test
"""

from __future__ import annotations

import argparse
from pathlib import Path

import kgrec


def main() -> None:
    parser = argparse.ArgumentParser(description="Print the paths, rules and chosen explanation of one recommendation.")
    parser.add_argument("--run", type=Path, help="an existing run directory to load instead of training")
    parser.add_argument("--epochs", type=int, default=60, help="training epochs when no --run is given (default 60)")
    parser.add_argument("--out", type=Path, default=Path("runs/examples/inspect"), help="run directory to train into")
    parser.add_argument("--user", default="u_91", help="raw user id (default u_91)")
    parser.add_argument("--max-len", type=int, default=4, help="longest path in edges (default 4)")
    parser.add_argument("--top", type=int, default=10, help="paths and rules shown (default 10)")
    parser.add_argument("--html", action="store_true", help="also write OUT/explanation.html")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override: model.dim=16")
    args = parser.parse_args()

    if args.run:
        rec = kgrec.Recommender.load(args.run)
    else:
        overrides = [f"train.epochs={args.epochs}", "model.attention=false", "explain.min_support=3", *args.set]
        rec = kgrec.train("moviekg-omdb", overrides=overrides, out=args.out, progress=False)
    item = rec.recommend(args.user, 1)[0].item
    user_name, item_name = rec.dataset.users.name(rec.user_id(args.user)), rec.dataset.items.name(item)

    paths = rec.paths(args.user, item, args.max_len)  # at most explain.max_paths, strongest first
    capped = " (the explain.max_paths cap)" if len(paths) == rec.config.explain.max_paths else ""
    print(f"{len(paths)} paths{capped} of length <= {args.max_len} from {user_name} to the top item {item_name}:")
    for n, path in enumerate(paths[: args.top], start=1):
        print(f"{n:>4}. length {path.length}  weight {path.weight:.3g}  {rec.path_text(path)}")
    patterns: dict[tuple[int, ...], list] = {}
    for n, path in enumerate(paths, start=1):
        patterns.setdefault(path.kg_pattern, []).append((n, path))
    print("strongest path of each relation pattern:")
    for found in list(patterns.values())[: args.top]:
        n, path = found[0]
        count = f"{len(found)} path{'s' if len(found) > 1 else ''} of this pattern"
        print(f"{n:>4}. ({count})  weight {path.weight:.3g}  {rec.path_text(path)}")

    rules = rec.rules.rules
    print(f"\n{len(rules)} rules mined from {rec.rules.n_coliked:,} co-liked item pairs:")
    for rule in rules[: args.top]:
        print(f"  {rec.rule_name(rule):<36} support {rule.support:>5}  "
              f"confidence {rule.confidence:.3f}  lift {rule.lift:.2f}")

    e = rec.explain(args.user, item)
    print(f"\nexplanation of {item_name} (rank {e.rank}, score {e.score:.3f}):")
    where = f"#{paths.index(e.path) + 1} by weight" if e.path in paths else "not in the list above"
    print(f"  told path ({where}): {rec.path_text(e.path)}" if e.path else "  told path: none (no path to the item)")
    if e.rule:
        print(f"  rule: {rec.rule_name(e.rule)} (confidence {e.rule.confidence:.2f})")
    else:
        print("  rule: none (the told path matches no mined rule)")
    print(f"  sentence: {e.text}")
    if args.html:
        from kgrec.explain.render import explanations_html

        out = (args.run or args.out) / "explanation.html"
        print(explanations_html(user_name, [e], rec.graph, rec.phrases, out))


if __name__ == "__main__":
    main()
