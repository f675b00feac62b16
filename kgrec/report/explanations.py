"""The report's explanation sections: top mined rules, explanation quality and the gallery of recommendations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kgrec.config import ExplainConfig
from kgrec.data.relations import RelationNames
from kgrec.errors import KgrecError
from kgrec.explain.phrases import PhraseTable, path_line
from kgrec.explain.rules import BetterThanChance, RuleSet
from kgrec.explain.types import Rule
from kgrec.report.document import Card, Heading, P, Picture, Pre, Section, Table, Text, not_available
from kgrec.report.formatting import NONE, finite, fmt, pct, seconds, sentence_parts
from kgrec.report.plots import methods_png
from kgrec.report.rundir import EXPLAIN_EVAL, GALLERY, GALLERY_DIR, RULES, Context, gallery_picture_name

TOP_RULES, TOP_PATHS = 20, 3


def rules_section(ctx: Context) -> Section:
    """The top mined rules of ``rules.json``."""
    section = Section("rules", "Top mined rules")
    path = ctx.files.run_dir / RULES
    if not path.exists():
        section.blocks.append(not_available(f"{RULES} not found"))
        return section
    try:
        rules = RuleSet.load(path)
    except KgrecError as error:
        section.blocks.append(not_available(f"{RULES} unreadable ({error})"))
        return section
    if not rules.rules:
        section.blocks.append(P("No rule reached the minimum support and confidence.", "na"))
        return section
    phrases = PhraseTable.load(ctx.dataset_name)
    names = RelationNames(rules.relation_names)

    def name(pattern: Sequence[int]) -> str:
        try:
            return phrases.rule_name(names, tuple(pattern)) if rules.relation_names else rules.label(pattern)
        except (IndexError, KeyError, ValueError):
            return rules.label(pattern)

    shown = rules.rules[:TOP_RULES]
    measured = any(r.test_precision is not None for r in shown)
    header = ["#", "rule", "pattern", "support", "connected", "confidence", "head coverage", "lift",
              "popularity lift", "p-value"]
    header += ["test precision"] if measured else []
    table_rows = []
    for n, rule in enumerate(shown, 1):
        label = "[" + ", ".join(rules.pattern_names(rule.pattern)) + "]"
        cells: list[Text] = [str(n), name(rule.pattern), ("code", label), *_measure_cells(rule)]
        if measured:
            cells.append(fmt(rule.test_precision, 4))
        table_rows.append(cells)
    section.blocks.append(P(
        f"{len(rules):,} rule{'s' if len(rules) != 1 else ''} \"users who liked j also like i when j and i are "
        f"linked by the pattern\", mined from the training interactions over {rules.n_items:,} items "
        f"({rules.n_coliked:,} ordered pairs co-liked by at least {rules.min_colikes} "
        f"user{'s' if rules.min_colikes != 1 else ''}, base co-like rate {rules.base_rate:.3g}); "
        + (f"the top {len(shown)} by confidence:" if len(shown) < len(rules) else "best first:")
    ))
    section.blocks.append(Table(header, table_rows, frozenset({0, *range(3, len(header))})))
    bar = BetterThanChance.of({**asdict(ExplainConfig()), **ctx.section_config("explain")})
    told_patterns = sum(bar.admits(rule) for rule in rules.rules)
    section.blocks.append(P(
        f"Explanations tell only rules better than chance: {bar.describe()} ({told_patterns:,} of the "
        f"{len(rules):,} pattern rules, and {len(rules.constants):,} rule{'s' if len(rules.constants) != 1 else ''} "
        "with a constant)."
    ))
    if rules.constants:
        constants = rules.constants[:TOP_RULES]
        section.blocks.append(P(f"Rules with a constant (both items linked to one node), the top {len(constants)} by "
                                "confidence:"))
        section.blocks.append(Table(
            ["#", "rule", "pattern", *header[3:10]],
            [[str(n), name(rule.pattern), ("code", rules.label(rule.pattern, rule.constant)), *_measure_cells(rule)]
             for n, rule in enumerate(constants, 1)],
            frozenset(range(3, 10)),
        ))
    section.blocks.append(P("Support: co-liked pairs the pattern links; connected: all pairs it links; confidence = "
                            "support / connected; head coverage = support / all co-liked pairs; lift = confidence / "
                            "base rate; popularity lift = support / the co-liked pairs expected among the same pairs "
                            "from their items' popularity alone, p-value its Poisson tail.", "note"))
    return section


def _measure_cells(rule: Rule) -> list[Text]:
    """A rule's measures as table cells: support, connected, confidence, head coverage, lift, popularity lift and
    p-value."""
    return [fmt(rule.support), fmt(rule.connected), fmt(rule.confidence, 3), fmt(rule.head_coverage, 4),
            fmt(rule.lift, 2), fmt(rule.popularity_lift, 2), NONE if rule.p_value is None else f"{rule.p_value:.1e}"]


EXPLAIN_MEASURES: tuple[tuple[str, str, str], ...] = (
    # key, label, format ("pct", "num", "int", "s")
    ("path_coverage", "path coverage (explained items with a path)", "pct"),
    ("path_coverage_len3", "path coverage, paths of length ≤ 3", "pct"),
    ("rule_coverage", "rule coverage (told paths instantiate a mined rule)", "pct"),
    ("constant_rule_share", "told by a rule with a constant (one named node between the items)", "pct"),
    ("collaborative_share", "collaborative share (told by co-likes only: no rule path reaches the item)", "pct"),
    ("named_coverage", "named coverage (every item and entity of the told paths has a real name)", "pct"),
    ("told_weight_share", "told weight share: mean (told paths' share of the item's path weight)", "pct"),
    ("told_weight_share_median", "told weight share: median", "pct"),
    ("fidelity", "fidelity (deleting the explanation lowers the rank more than random edges)", "pct"),
    ("fidelity_strict_rank", "fidelity, strict rank only (rank ties count as failures)", "pct"),
    ("rank_ties", "rank ties (neither deletion moves the item)", "pct"),
    ("mean_rank_drop", "mean rank drop: explanation", "num"),
    ("random_rank_drop", "mean rank drop: random edges", "num"),
    ("mean_score_drop", "mean score drop: explanation", "num"),
    ("random_score_drop", "mean score drop: random edges", "num"),
    ("average_path_length", "average length of the told path", "num"),
    ("explanation_diversity", "explanation diversity", "num"),
    ("rules", "rules mined", "int"),
    ("constant_rules", "rules with a constant (only those better than chance are kept)", "int"),
    ("distinct_rules_used", "distinct rules told", "int"),
    ("rule_precision", "rule precision on test (micro)", "num"),
    ("seconds", "evaluation time", "s"),
)


def _measure(value: Any, kind: str) -> str:
    """One explanation measure formatted as ``kind`` ("pct", "num", "int", "s")."""
    if kind == "pct":
        return pct(value)
    if kind == "int":
        return fmt(int(value)) if finite(value) else NONE
    if kind == "s":
        return seconds(value)
    return fmt(value, 4)


def explain_section(ctx: Context) -> Section:
    """The explanation quality measures and surrogate tree of ``explain_eval.json``."""
    section = Section("explanations", "Explanation quality")
    report = ctx.files.mapping(EXPLAIN_EVAL)
    if report is None:
        section.blocks.append(not_available(ctx.files.why(EXPLAIN_EVAL)))
        return section
    scope = []
    if report.get("users") is not None:
        scope.append(f"{fmt(report['users'])} sampled users")
    if report.get("k") is not None:
        scope.append(f"their top-{report['k']} recommendations")
    if report.get("explained") is not None:
        scope.append(f"{fmt(report['explained'])} explanations")
    if report.get("cases") is not None:
        scope.append(f"{fmt(report['cases'])} deletion tests")
    if scope:
        section.blocks.append(P("Measured on " + ", ".join(scope) + "."))
    rows = [[label, _measure(report[key], kind)] for key, label, kind in EXPLAIN_MEASURES if key in report]
    if rows:
        section.blocks.append(Table(["measure", "value"], rows, frozenset({1})))
    section.blocks.append(P("Fidelity deletes the told path's edges from the propagation graph and compares the drop "
                            "in the item's rank with deleting as many random edges around the user's history.", "note"))
    section.blocks += _methods_blocks(report.get("methods"))
    section.blocks.append(Heading(3, "Surrogate tree"))
    surrogate = report.get("surrogate")
    if not isinstance(surrogate, dict):
        section.blocks.append(not_available("no surrogate was fitted (no user with a full top-k list)"))
        return section
    section.blocks.append(P([
        "A shallow decision tree over rule features mimics \"in the model's top-k\"; on held-out users it agrees with "
        "the model with accuracy ", ("b", fmt(surrogate.get("accuracy"), 3)),
        " and F1 ", ("b", fmt(surrogate.get("f1"), 3)),
        f" ({fmt(surrogate.get('train_pairs'))} training pairs, {fmt(surrogate.get('test_pairs'))} test pairs).",
    ]))
    if surrogate.get("tree"):
        section.blocks.append(Pre(str(surrogate["tree"])))
    return section


METHOD_COLUMNS = (("cases", "cases", "int"), ("fidelity", "deletion fidelity", "pct"),
                  ("mean_rank_drop", "rank drop", "num"), ("sufficiency", "sufficiency", "num"),
                  ("edges_90", "edges for 90 %", "num"), ("jaccard_rules", "Jaccard vs rules", "num"),
                  ("ms_per_explanation", "ms / explanation", "num"), ("etd", "ETD", "num"), ("sed", "SED", "num"))


def _methods_blocks(compared: Any) -> list[Any]:
    """``explain-eval --methods``: every method's row at equal budgets and fidelity against sparsity; nothing
    when the comparison was not run."""
    if not isinstance(compared, Mapping) or not isinstance(compared.get("methods"), Mapping):
        return []
    methods = {str(name): values for name, values in compared["methods"].items() if isinstance(values, Mapping)}
    rows = [[name, *[_method_cell(values.get(key), kind) for key, _, kind in METHOD_COLUMNS]] for name, values in methods.items()]
    return [
        Heading(3, "Every method on one scale"),
        P(f"Each method removes as many edges as the rule-guided path explanation; {fmt(compared.get('users'))} users "
          f"({fmt(compared.get('slow_users'))} for ig and gnnexplainer), top-{compared.get('k', '?')}."),
        Table(["method", *[title for _, title, _ in METHOD_COLUMNS]], rows, frozenset(range(1, len(METHOD_COLUMNS) + 1))),
        Picture("methods.png", methods_png(methods), "explanation methods: fidelity against sparsity",
                "One point per method: deletion fidelity against the edges holding 90 % of its attribution."),
    ]


def _method_cell(value: Any, kind: str) -> str:
    if not finite(value):
        return NONE
    return fmt(int(value)) if kind == "int" else pct(value) if kind == "pct" else fmt(value, 3)


def _path_cells(path: Mapping[str, Any]) -> str:
    """A path as ``node —relation→ node …`` text, by names and phrases ("?" where the file has none, never an id)."""
    nodes = path.get("node_info") or [{} for _ in path.get("nodes", [])]
    relations = path.get("relation_info") or [{} for _ in path.get("relations", [])]
    if not nodes:
        return "?"
    return path_line([str(node.get("name") or "?") for node in nodes], [_phrase(relation) for relation in relations])


def _phrase(relation: Any) -> str:
    """The phrase of a ``relation_info`` entry ("?" without one: its name may be an IRI such as ``dbo:genre``)."""
    return str(relation.get("phrase") or "?") if isinstance(relation, Mapping) else "?"


def _told_indexes(rec: Mapping[str, Any], n_paths: int) -> list[int]:
    """The indexes of the told paths of a recommendation's JSON (``told``, else ``chosen``), valid ones only."""
    told = rec.get("told")
    if not isinstance(told, list):
        told = [rec.get("chosen")]
    return [k for k in dict.fromkeys(told) if isinstance(k, int) and not isinstance(k, bool) and 0 <= k < n_paths]


def _recommendation_card(user_raw: str, rec: Mapping[str, Any], gallery: Path) -> Card:
    """The card of one explained recommendation: sentence, paths, rule and picture. Its text shows names and
    phrases only: raw item and entity ids and relation names (IRIs such as ``dbo:genre``) stay in the JSON."""
    rank = rec.get("rank", "?")
    item = str(rec.get("item_name") or "?")
    blocks: list[Any] = [Heading(4, [("", f"#{rank} "), ("", item)])]
    score = f"score {rec['score']:.4g}" if finite(rec.get("score")) else "score —"
    blocks.append(P(f"{score} for {item}" + (" · popularity fallback" if rec.get("fallback") else ""), "note"))
    sentence = rec.get("sentence") or rec.get("text") or ""
    blocks.append(P(sentence_parts(str(sentence)) if sentence else "No sentence.", "" if sentence else "na"))
    paths = [p for p in rec.get("paths") or [] if isinstance(p, dict)]
    if paths and not rec.get("fallback"):
        told = _told_indexes(rec, len(paths))
        others = sorted((k for k in range(len(paths)) if k not in told), key=lambda k: -(paths[k].get("weight") or 0.0))
        order = (told + others)[: max(TOP_PATHS, min(len(told), TOP_PATHS + 2))]
        weights = [paths[k].get("weight") for k in order]
        rows = [[("b", "✓") if k in told else "", _path_cells(paths[k]), f"{w:.4g}" if finite(w) else NONE]
                for k, w in zip(order, weights)]
        blocks.append(Table(["told", "path", "weight"], rows, frozenset({2}),
                            row_classes=["chosen" if k in told else "" for k in order]))
        if told and finite(rec.get("told_weight_share")):
            carry = "told path carries" if len(told) == 1 else "told paths carry"
            blocks.append(P(f"The {len(told)} {carry} {pct(rec['told_weight_share'])} of the item's path weight.", "note"))
        if len(paths) > len(order):
            more = len(paths) - len(order)
            blocks.append(P(f"{more} more path{'s' if more != 1 else ''} not shown.", "note"))
    rule, info = rec.get("rule"), rec.get("rule_info")
    if isinstance(rule, dict):
        info = info if isinstance(info, Mapping) else {}
        name = str(info.get("name") or "rule")
        pattern = " → ".join(_phrase(relation) for relation in info.get("relations") or [])
        blocks.append(P(["Rule ", ("code", name), f" ({pattern})" if pattern else "",
                         f": confidence {fmt(rule.get('confidence'), 3)}, support {fmt(rule.get('support'))} "
                         f"co-liked pairs, lift {fmt(rule.get('lift'), 2)}."], "note"))
    elif not rec.get("fallback"):
        blocks.append(P("No mined rule applies.", "note"))
    picture = gallery_picture_name(user_raw, int(rank) if finite(rank) else 0, str(rec.get("item_raw", "")))
    if (gallery / picture).is_file():
        blocks.append(Picture(f"{GALLERY_DIR}/{picture}", (gallery / picture).read_bytes(),
                              f"explanation subgraph for {item}", "User (blue), items (orange), entities (green); "
                              "edge width = path weight, labels = relation phrases."))
    elif paths:
        blocks.append(P("Subgraph picture: not available.", "na"))
    return Card(blocks)


def gallery_section(ctx: Context) -> Section:
    """The explained recommendations of ``gallery.json`` with their pictures."""
    section = Section("gallery", "Gallery of explained recommendations")
    document = ctx.files.mapping(GALLERY)
    users = document.get("users") if document else None
    if not isinstance(users, list):
        if document is not None:
            ctx.files.note(GALLERY, f"{GALLERY} has no 'users' list")
        section.blocks.append(not_available(ctx.files.why(GALLERY)))
        return section
    if not users:
        section.blocks.append(P("The gallery is empty.", "na"))
    gallery = ctx.files.run_dir / GALLERY_DIR
    for doc in users:
        if not isinstance(doc, dict):
            continue
        user = doc.get("user") if isinstance(doc.get("user"), dict) else {}
        raw = str(user.get("raw", ""))
        name = str(user.get("name") or f"user {raw}")
        recs = [r for r in doc.get("recommendations") or [] if isinstance(r, dict)]
        who = name if name == f"user {raw}" else f"{name} (user {raw})"
        section.blocks.append(Heading(3, f"{who}: top {len(recs)}"))
        section.blocks += [_recommendation_card(raw, rec, gallery) for rec in recs]
    return section
