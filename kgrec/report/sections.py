"""The report's summary and its run sections: dataset card, configuration, training curves, metrics and split."""

from __future__ import annotations

import json
import re
from typing import Any

from kgrec.data.registry import get_spec
from kgrec.explain.types import INSPECT_DIR, KINDS
from kgrec.report import plots
from kgrec.report.document import Heading, Inline, P, Picture, Pre, Section, Table, Text, not_available
from kgrec.report.formatting import METRIC_FAMILIES, NONE, finite, fmt, largest_k, metric_label, pct, seconds
from kgrec.report.rundir import COMPARISON, CONFIG, DATASET, HISTORY, METRICS, SPLIT, STATS, Context

TOP_RELATIONS = 25


def _model_description(ctx: Context) -> str:
    """The model and its main settings in a few words."""
    model = ctx.section_config("model")
    name = ctx.model_name
    if name in ("pop", "itemknn"):
        return name
    details = []
    if model.get("layers") is not None and name != "bprmf":
        details.append(f"{model['layers']} layers")
    if model.get("dim") is not None:
        details.append(f"dimension {model['dim']}")
    if name == "kgrec":
        if model.get("use_kg") is False:
            details.append("no KG")
        else:
            if model.get("kge"):
                kge = {"transh": "TransH", "transe": "TransE"}.get(str(model["kge"]), str(model["kge"]))
                weight = f" (λ_kg {model['lambda_kg']})" if model.get("lambda_kg") is not None else ""
                details.append(f"{kge} KG loss{weight}")
            if model.get("attention") is not None:
                details.append("knowledge-aware attention" if model["attention"] else "uniform edge weights")
    return f"{name} ({', '.join(details)})" if details else name


def summary_block(ctx: Context) -> P:
    """The summary paragraph: model, dataset, headline test metrics and timing."""
    parts: list[Inline] = []
    card = ctx.stats or ctx.dataset or {}
    version = ctx.config.get("kgrec_version")
    parts.append(f"Run {ctx.files.run_dir.name!s}" + (f" (kgrec {version})" if version else "") + ": model ")
    parts.append(("b", _model_description(ctx)))
    parts.append(" on ")
    parts.append(("b", ctx.dataset_name))
    if card:
        counts = ", ".join(f"{fmt(card[k])} {k}" for k in ("users", "items", "interactions") if k in card)
        kg = ", ".join(f"{fmt(card[k])} {k}" for k in ("entities", "relations", "triples") if k in card)
        parts.append(f" ({counts}" + (f"; knowledge graph of {kg}" if kg else "") + ")")
    parts.append(". ")
    metrics = ctx.metrics or {}
    test = metrics.get("test") if isinstance(metrics.get("test"), dict) else None
    if test is None and ctx.rows:
        test = ctx.rows[0].get("test")
    k = largest_k([test]) if test else None
    at_k = [f"{f}@{k}" for f, _ in METRIC_FAMILIES if test and finite(test.get(f"{f}@{k}"))]
    if test and at_k:
        headline = [m for m in at_k if m.startswith(("ndcg@", "recall@"))] or at_k[:2]
        parts.append("Test ")
        for n, name in enumerate(headline):
            parts += [(" and " if n else ""), f"{metric_label(name)} ", ("b", fmt(test[name]))]
        if test.get("users") is not None:
            parts.append(f" over {fmt(test['users'])} test users")
        parts.append(". ")
        others = [r for r in (ctx.rows or [])[1:] if finite((r.get("test") or {}).get(f"ndcg@{k}"))]
        if others and finite(test.get(f"ndcg@{k}")):
            best = max(others, key=lambda r: r["test"][f"ndcg@{k}"])
            other = best["test"][f"ndcg@{k}"]
            change = f" ({(test[f'ndcg@{k}'] / other - 1) * 100:+.1f} %)" if other > 0 else ""
            parts.append(f"Best compared model by NDCG@{k}: {best.get('name', '?')} with {fmt(other)}{change}. ")
    else:
        parts.append("No test metrics are available. ")
    timing = []
    if metrics.get("best_epoch") is not None:
        of = f" of {metrics['epochs_run']}" if metrics.get("epochs_run") is not None else ""
        timing.append(f"best epoch {metrics['best_epoch']}{of}")
    if finite(metrics.get("seconds_to_best")):
        timing.append(f"{seconds(metrics['seconds_to_best'])} to the best epoch")
    if finite(metrics.get("seconds_per_epoch")):
        timing.append(f"{seconds(metrics['seconds_per_epoch'])} per epoch")
    if finite(metrics.get("eval_seconds")):
        timing.append(f"test evaluation {seconds(metrics['eval_seconds'])}")
    if finite(metrics.get("peak_rss_mb")):
        timing.append(f"peak memory {metrics['peak_rss_mb']:,.0f} MB")
    if timing:
        text = "; ".join(timing)
        parts.append(text[0].upper() + text[1:] + ".")
    return P(parts, "summary")


def _dataset_info(ctx: Context) -> list[tuple[str, Text]]:
    """Description, licence, URL and the other free-form ``info`` values of the dataset (all optional)."""
    info = ctx.stats.get("info") if ctx.stats else None
    info = dict(info) if isinstance(info, dict) else {}
    rows: list[tuple[str, Text]] = []

    def take(*keys: str) -> Any:
        for key in keys:
            if info.get(key) not in (None, ""):
                return info.pop(key)
        return None

    description, licence = take("title", "description", "name"), take("licence", "license")
    url = take("url", "homepage", "source_url")
    if description is None or licence is None:  # registered datasets have a description and a licence
        try:
            spec = get_spec(ctx.dataset_name)
            description = description or spec.description or None
            licence = licence or spec.licence or None
        except Exception:  # noqa: BLE001 - an unregistered (bring-your-own) dataset simply has none
            pass
    if description:
        rows.append(("description", str(description)))
    if licence:
        rows.append(("licence", str(licence)))
    if url:
        rows.append(("URL", ("code", str(url))))  # shown as text, never as a link: the report loads nothing
    for key, value in info.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        rows.append((str(key), shown))
    return rows


def dataset_section(ctx: Context) -> Section:
    """The dataset card and the triples per relation."""
    section = Section("dataset", "Dataset")
    card = ctx.stats or ctx.dataset
    if not card:
        section.blocks.append(not_available(ctx.files.why(STATS, DATASET)))
        return section
    rows: list[tuple[str, Text]] = [("name", ("code", str(card.get("name", ctx.dataset_name))))]
    for key, label in (("users", "users"), ("items", "items"), ("interactions", "interactions (positives)")):
        if key in card:
            rows.append((label, fmt(card[key])))
    if finite(card.get("density")):
        rows.append(("density", f"{100 * card['density']:.3g} %"))
    for key in ("entities", "relations", "triples"):
        if key in card:
            rows.append((f"KG {key}", fmt(card[key])))
    if card.get("linked_items") is not None:
        items = card.get("items")
        share = f" ({pct(card['linked_items'] / items)})" if finite(items) and items else ""
        rows.append(("items linked to a KG entity", fmt(card["linked_items"]) + share))
    for key, label in (("has_ratings", "ratings"), ("has_timestamps", "timestamps")):
        if key in card:
            rows.append((label, fmt(bool(card[key]))))
    rows += _dataset_info(ctx)
    section.blocks.append(Table(["", ""], [list(r) for r in rows], kv=True))
    if not ctx.stats:
        why = ctx.files.why(STATS)
        section.blocks.append(P(f"Density, linked items and relation counts: not available ({why}).", "na"))
    per_relation = ctx.stats.get("per_relation") if ctx.stats else None
    if isinstance(per_relation, dict) and per_relation:
        ordered = sorted(per_relation.items(), key=lambda kv: (-(kv[1] or 0), kv[0]))
        shown = ordered[:TOP_RELATIONS]
        total = sum(v for _, v in ordered if finite(v)) or 0
        section.blocks.append(Heading(3, "Triples per relation"))
        section.blocks.append(Table(
            ["relation", "triples", "share"],
            [[("code", str(name)), fmt(count), pct(count / total) if total and finite(count) else NONE]
             for name, count in shown],
            numeric=frozenset({1, 2}),
        ))
        if len(ordered) > len(shown):
            section.blocks.append(P(f"… and {len(ordered) - len(shown):,} more relations.", "note"))
    return section


def config_section(ctx: Context) -> Section:
    """The saved ``config.yaml``."""
    section = Section("config", "Configuration")
    if ctx.config_text is None:
        section.blocks.append(not_available(ctx.files.why(CONFIG)))
    else:
        section.blocks.append(Pre(ctx.config_text, "config.yaml, as saved in the run directory:", "columns"))
    return section


def curves_section(ctx: Context, history: list[dict[str, float | None]] | None) -> Section:
    """The training loss and validation metric curves of ``history.csv``."""
    section = Section("curves", "Training curves")
    if not history:
        section.blocks.append(not_available(ctx.files.why(HISTORY)))
        return section
    columns = {key for row in history for key, value in row.items() if value is not None}
    wanted = str(ctx.section_config("train").get("metric") or "")
    ks = [int(m.group(1)) for c in columns if (m := re.fullmatch(r"valid_ndcg@(\d+)", c))]
    main = wanted if f"valid_{wanted}" in columns else (f"ndcg@{max(ks)}" if ks else "")
    k = main.partition("@")[2]
    drawn = [m for m in (main, f"recall@{k}" if k else "") if m and f"valid_{m}" in columns]
    best_epoch = (ctx.metrics or {}).get("best_epoch")
    best_epoch = int(best_epoch) if finite(best_epoch) else None
    png = plots.curves_png(history, drawn, best_epoch, [metric_label(m) for m in drawn])
    epochs = len(history)
    text = f"{epochs:,} epoch{'s' if epochs != 1 else ''} recorded in {HISTORY}."
    if drawn:
        column = f"valid_{drawn[0]}"
        measured = [(float(row[column] or 0.0), int(row["epoch"] or 0)) for row in history
                    if row.get(column) is not None]
        value, epoch = max(measured, key=lambda m: (m[0], -m[1]))  # the first epoch with the best value
        text += f" Best validation {metric_label(drawn[0])}: {fmt(value)} at epoch {epoch}."
    else:
        text += " No validation metric was recorded."
    section.blocks.append(P(text))
    caption = "Left: training loss per epoch (total and its terms). Right: " + (
        ", ".join(f"validation {metric_label(m)}" for m in drawn) + " per epoch" if drawn else "no validation metric"
    ) + ("; dotted line: best epoch." if best_epoch is not None else ".")
    section.blocks.append(Picture("curves.png", png, "training curves of this run", caption))
    return section


def _split_text(ctx: Context) -> str | None:
    """A sentence describing the split, or None."""
    split = ctx.split
    if not split:
        return None
    scheme = str(split.get("scheme", "unknown"))
    ratios = ctx.section_config("split").get("ratios")
    how = {
        "ratio": "per-user random ratio split" + (f" {'/'.join(f'{r:g}' for r in ratios)}" if isinstance(ratios, list)
                                                 and all(finite(r) for r in ratios) else ""),
        "loo": "leave-one-out split", "leave_one_out": "leave-one-out split", "temporal": "temporal split",
        "predefined": "predefined split (files shipped with the data)",
    }.get(scheme, f"{scheme} split")
    text = f"Split: {how}"
    if split.get("seed") is not None:
        text += f", seed {split['seed']}"
    counts = [f"{fmt(split[p])} {p}" for p in ("train", "valid", "test") if p in split]
    if counts:
        text += f"; {' / '.join(counts)} interactions"
    users = [f"{fmt(split[f'{p}_users'])}" for p in ("train", "valid", "test") if f"{p}_users" in split]
    if len(users) == 3:
        text += f" of {' / '.join(users)} users"
    text += (". Metrics are computed by full ranking over all items, with each user's training items (and, "
             "for test, validation items) masked; the best epoch is chosen on the validation set.")
    return text


def metrics_section(ctx: Context) -> Section:
    """The test metrics of this run and the compared models, and the split."""
    section = Section("metrics", "Metrics against the compared models")
    rows = ctx.rows
    if not rows:
        section.blocks.append(not_available(ctx.files.why(COMPARISON, METRICS)))
    else:
        tests = [r.get("test") if isinstance(r.get("test"), dict) else {} for r in rows]
        k = largest_k(tests)
        metric_names = [f"{f}@{k}" for f, _ in METRIC_FAMILIES if k is not None and any(f"{f}@{k}" in t for t in tests)]
        extra = [("best_epoch", "best epoch", lambda v: fmt(int(v)) if finite(v) else NONE),
                 ("seconds_to_best", "s to best", seconds)]
        if any(finite(r.get("peak_rss_mb")) for r in rows):
            extra.append(("peak_rss_mb", "peak RSS MB", lambda v: f"{v:,.0f}" if finite(v) else NONE))
        best = {}
        for name in metric_names:
            shown = [round(t[name], 4) for t in tests if finite(t.get(name))]
            best[name] = max(shown) if shown else None
        table_rows = []
        for row, test in zip(rows, tests):
            cells: list[Text] = [str(row.get("name") or row.get("model") or "?")]
            for name in metric_names:
                value = test.get(name)
                is_best = len(rows) > 1 and finite(value) and round(value, 4) == best[name]
                cells.append(("b", fmt(value)) if is_best else fmt(value))
            cells += [render(row.get(key)) for key, _, render in extra]
            table_rows.append(cells)
        header = ["model", *(f"test {metric_label(m)}" for m in metric_names), *(label for _, label, _ in extra)]
        numeric = frozenset(range(1, len(header)))
        section.blocks.append(Table(header, table_rows, numeric, row_classes=["main"] + [""] * (len(rows) - 1)))
        note = "Bold: the best value of each metric column. The first row is this run's model." if len(rows) > 1 else ""
        if COMPARISON in ctx.files.missing:
            note += f"No other models were compared ({ctx.files.why(COMPARISON)})."
        if note:
            section.blocks.append(P(note, "note"))
    split_text = _split_text(ctx)
    section.blocks.append(P(split_text) if split_text else P(f"Split: not available ({ctx.files.why(SPLIT)}).", "na"))
    return section


def association_sections(ctx: Context) -> list[Section]:
    """"What the model leans on": the relation and entity analyses ``kgrec inspect`` wrote to ``RUN/inspect/``
    (their tables and bar charts); no section at all when neither analysis was run."""
    found = [kind for kind in KINDS if (ctx.files.run_dir / INSPECT_DIR / f"{kind}.json").is_file()]
    if not found:
        return []
    section = Section("association", "What the model leans on")
    section.blocks.append(P(
        "Share of explained recommendations whose told path (lighter: any listed path) uses a relation or entity, "
        "the mean learned propagation weight of its edges, and the validation NDCG@20 when all its edges are "
        "removed from the propagation graph at inference time (no retraining), with the drop from the full graph."
    ))
    for kind in KINDS:
        section.blocks.append(Heading(3, kind.capitalize()))
        section.blocks += _association_blocks(ctx, kind)
    return [section]


def _association_blocks(ctx: Context, kind: str) -> list[Any]:
    """The scope line, the table and the chart of one analysis of ``RUN/inspect/``."""
    name = f"{INSPECT_DIR}/{kind}.json"
    result = ctx.files.mapping(name)
    if result is None:
        return [not_available(ctx.files.why(name) + f"; run kgrec inspect RUN --{kind}")]
    rows = [r for r in result.get("rows") or [] if isinstance(r, dict)]
    blocks: list[Any] = [P(
        f"{fmt(result.get('explanations'))} explanations of {fmt(result.get('users'))} sampled users' top-"
        f"{result.get('k', '?')}; validation NDCG@20 with every edge: {fmt(result.get('full'))}."
    )]
    relations = kind == "relations"
    header = ["relation" if relations else "entity", "edges", "told path", "listed paths", "mean weight",
              "NDCG@20 without", "drop"]
    table_rows = []
    for row in rows:
        label: Text = str(row.get("label", "?"))
        if relations:
            label = [("code", str(row.get("name", "?"))), f" {row.get('label', '')}"]
        table_rows.append([label, fmt(row.get("edges")), pct(row.get("share")), pct(row.get("listed_share")),
                           fmt(row.get("mean_weight")), fmt(row.get("ndcg"), 5), fmt(row.get("drop"), 5)])
    if table_rows:
        blocks.append(Table(header, table_rows, frozenset(range(1, len(header)))))
    else:
        blocks.append(P(f"No {kind} to show.", "na"))
    if result.get("absent"):
        blocks.append(P("Not in the model's propagation graph: " + ", ".join(map(str, result["absent"])) + ".", "note"))
    picture = ctx.files.run_dir / INSPECT_DIR / f"{kind}.png"
    if picture.is_file():
        blocks.append(Picture(f"{INSPECT_DIR}/{kind}.png", picture.read_bytes(), f"{kind} the model leans on",
                              "Left: share of explanations using it; right: validation NDCG@20 drop without its "
                              "edges."))
    else:
        blocks.append(P("Chart: not available.", "na"))
    return blocks
