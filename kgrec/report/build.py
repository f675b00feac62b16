"""The run report: one HTML page (self-contained) and one Markdown file describing a pipeline run directory.

:func:`build_report` reads the files a pipeline run leaves (see :mod:`kgrec.pipeline`; every one of them
is optional, a missing or unreadable file leaves its section with a short "not available" line), builds
the report once as a list of sections made of small blocks (paragraphs, tables, code, pictures) and renders
it twice: ``report.html`` (inline CSS, pictures inline as base64 PNG, no scripts, no network) and
``report.md`` (pictures as PNG files under ``report/``). Every file is written atomically, and nothing is
written before every section and picture is ready, so a failure leaves the previous report untouched.

Sections, in order: summary, dataset card, configuration, training curves, metrics against the compared
models (with the split), top rules, explanation quality, gallery of explained recommendations.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Union, cast

import yaml

from kgrec.atomic import atomic_directory, atomic_write_text
from kgrec.report import plots

HTML_NAME, MD_NAME, ASSETS = "report.html", "report.md", "report"
CONFIG, DATASET, STATS, SPLIT = "config.yaml", "dataset.json", "dataset_stats.json", "split/split.json"
HISTORY, METRICS, COMPARISON, RULES = "history.csv", "metrics.json", "comparison.json", "rules.json"
EXPLAIN_EVAL, GALLERY, GALLERY_DIR = "explain_eval.json", "gallery.json", "gallery"
METRIC_FAMILIES = (("ndcg", "NDCG"), ("recall", "Recall"), ("precision", "Precision"), ("hit", "Hit"), ("mrr", "MRR"))
TOP_RULES, TOP_RELATIONS, TOP_PATHS = 20, 25, 3
NONE = "—"


def gallery_picture_name(user_raw: str, rank: int, item_raw: str) -> str:
    """``<user raw>-<rank>-<item raw>.png`` with every character other than a letter, digit, ``-``, ``_`` or
    ``.`` replaced by ``_``: the name of a gallery picture under ``RUN/gallery/``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{user_raw}-{rank}-{item_raw}.png")


# ---- a tiny document model, rendered to HTML and to Markdown -----------------------------------------------
# Inline text: a plain string, or (style, text) with style "" (plain), "b" (bold), "em" (emphasis), "code".
Inline = Union[str, tuple[str, str]]
Text = Union[Inline, Sequence[Inline]]

_HTML_TAGS = {"": "{}", "b": "<strong>{}</strong>", "em": "<em>{}</em>", "code": "<code>{}</code>"}
_MD_MARKS = {"": "{}", "b": "**{}**", "em": "*{}*", "code": "`{}`"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _parts(text: Text) -> list[tuple[str, str]]:
    if isinstance(text, str):
        return [("", text)]
    if isinstance(text, tuple) and len(text) == 2 and all(isinstance(t, str) for t in text) and text[0] in _HTML_TAGS:
        return [cast(tuple[str, str], text)]
    return [("", p) if isinstance(p, str) else cast(tuple[str, str], p) for p in cast(Sequence[Inline], text)]


def _md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


def inline_html(text: Text) -> str:
    return "".join(_HTML_TAGS[style].format(html.escape(value)) for style, value in _parts(text))


def inline_md(text: Text) -> str:
    out = []
    for style, value in _parts(text):
        value = value.replace("\r", " ").replace("\n", " ")
        if style == "code":  # a backtick cannot be escaped inside a code span: fence with a longer run
            fence = "``" if "`" in value else "`"
            out.append(f"{fence} {value} {fence}" if fence == "``" else f"`{value}`")
        elif value:
            out.append(_MD_MARKS[style].format(_md_escape(value)))
    return "".join(out)


@dataclass
class P:
    """A paragraph; ``cls`` "na" marks a "not available" line, "note" a small note, "summary" the summary."""

    text: Text
    cls: str = ""

    def html(self) -> str:
        cls = f' class="{self.cls}"' if self.cls else ""
        return f"<p{cls}>{inline_html(self.text)}</p>"

    def md(self) -> str:
        body = inline_md(self.text)
        return f"_{body}_" if self.cls == "na" else body


def not_available(what: str) -> P:
    return P(f"Not available: {what}.", "na")


@dataclass
class Heading:
    level: int
    text: Text

    def html(self) -> str:
        return f"<h{self.level}>{inline_html(self.text)}</h{self.level}>"

    def md(self) -> str:
        return f"{'#' * self.level} {inline_md(self.text)}"


@dataclass
class Table:
    """``header``: column titles; ``rows``: cells (inline text); ``numeric``: right-aligned column indexes;
    ``row_classes``: an optional CSS class per row ("chosen", "main"); ``kv``: a two-column key/value table."""

    header: Sequence[str]
    rows: Sequence[Sequence[Text]]
    numeric: frozenset[int] = frozenset()
    row_classes: Sequence[str] = ()
    kv: bool = False

    def html(self) -> str:
        def cell(tag: str, k: int, text: Text) -> str:
            cls = ' class="num"' if k in self.numeric else ""
            return f"<{tag}{cls}>{inline_html(text)}</{tag}>"

        head = ""
        if any(self.header):
            head = "<thead><tr>" + "".join(cell("th", k, h) for k, h in enumerate(self.header)) + "</tr></thead>"
        body = []
        for r, row in enumerate(self.rows):
            cls = self.row_classes[r] if r < len(self.row_classes) else ""
            cells = "".join(cell("th" if self.kv and k == 0 else "td", k, c) for k, c in enumerate(row))
            body.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
        table_class = ' class="kv"' if self.kv else ""
        return f"<table{table_class}>{head}<tbody>{''.join(body)}</tbody></table>"

    def md(self) -> str:
        width = max([len(self.header)] + [len(r) for r in self.rows])
        header = list(self.header) + [""] * (width - len(self.header))
        lines = ["| " + " | ".join(inline_md(h) for h in header) + " |",
                 "| " + " | ".join("---:" if k in self.numeric else "---" for k in range(width)) + " |"]
        for row in self.rows:
            cells = [inline_md(c) for c in row] + [""] * (width - len(row))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


@dataclass
class Pre:
    """Preformatted text (a YAML block, a tree); ``cls`` "columns" flows a long block into columns in HTML."""

    text: str
    caption: str = ""
    cls: str = ""

    def html(self) -> str:
        caption = f'<p class="note">{html.escape(self.caption)}</p>' if self.caption else ""
        cls = f' class="{self.cls}"' if self.cls else ""
        return f"{caption}<pre{cls}><code>{html.escape(self.text)}</code></pre>"

    def md(self) -> str:
        fence = "```"
        while fence in self.text:
            fence += "`"
        caption = f"{inline_md(self.caption)}\n\n" if self.caption else ""
        return f"{caption}{fence}\n{self.text.rstrip()}\n{fence}"


@dataclass
class Picture:
    """A PNG shown inline in HTML (base64) and written as ``report/<name>`` for the Markdown."""

    name: str
    data: bytes
    alt: str
    caption: str = ""

    def html(self) -> str:
        encoded = base64.b64encode(self.data).decode("ascii")
        caption = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return f'<figure><img src="data:image/png;base64,{encoded}" alt="{html.escape(self.alt)}">{caption}</figure>'

    def md(self) -> str:
        caption = f"\n\n{inline_md(self.caption)}" if self.caption else ""
        return f"![{_md_escape(self.alt)}]({ASSETS}/{self.name}){caption}"


@dataclass
class Card:
    blocks: list[Any]

    def html(self) -> str:
        return '<div class="card">' + "\n".join(b.html() for b in self.blocks) + "</div>"

    def md(self) -> str:
        return "\n\n".join(b.md() for b in self.blocks)


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Any] = field(default_factory=list)

    def pictures(self) -> Iterable[Picture]:
        for block in self.blocks:
            inner = block.blocks if isinstance(block, Card) else [block]
            yield from (b for b in inner if isinstance(b, Picture))


# ---- reading the run directory ---------------------------------------------------------------------------
@dataclass
class RunFiles:
    """The run directory's files, parsed; ``missing[name]`` says why a file is not available."""

    run_dir: Path
    missing: dict[str, str] = field(default_factory=dict)

    def note(self, name: str, reason: str) -> None:
        self.missing[name] = reason

    def text(self, name: str) -> str | None:
        path = self.run_dir / name
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.note(name, f"{name} not found")
        except (OSError, UnicodeDecodeError) as error:
            self.note(name, f"{name} unreadable ({error})")
        return None

    def json(self, name: str) -> Any:
        text = self.text(name)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            self.note(name, f"{name} is not valid JSON ({error})")
            return None

    def mapping(self, name: str) -> dict[str, Any] | None:
        value = self.json(name)
        if value is not None and not isinstance(value, dict):
            self.note(name, f"{name} is not a JSON object")
            return None
        return value

    def why(self, *names: str) -> str:
        return "; ".join(self.missing[n] for n in names if n in self.missing) or f"{' / '.join(names)} not found"


def _number(cell: str | None) -> float | None:
    try:
        value = float(cell) if cell not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def read_history(files: RunFiles) -> list[dict[str, float | None]] | None:
    """The rows of ``history.csv`` as numbers (None for empty or non-numeric cells), or None."""
    text = files.text(HISTORY)
    if text is None:
        return None
    rows = [{key: _number(value) for key, value in row.items() if key} for row in csv.DictReader(text.splitlines())]
    rows = [row for row in rows if row.get("epoch") is not None]
    if not rows:
        files.note(HISTORY, f"{HISTORY} has no epochs")
        return None
    return rows


# ---- formatting ------------------------------------------------------------------------------------------
def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers for tables: integers with thousands separators, floats with ``digits`` decimals, None as —."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if _finite(value):
        return f"{value:,.{digits}f}"
    return NONE if value is None or isinstance(value, float) else str(value)


def pct(value: Any, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f} %" if _finite(value) else NONE


def seconds(value: Any) -> str:
    if not _finite(value):
        return NONE
    return f"{value:,.0f} s" if value >= 100 else f"{value:.3g} s"


def metric_label(name: str) -> str:
    """``ndcg@20`` → ``NDCG@20``."""
    family, _, k = name.partition("@")
    label = dict(METRIC_FAMILIES).get(family, family.capitalize())
    return f"{label}@{k}" if k else label


def largest_k(metric_maps: Iterable[Mapping[str, Any]]) -> int | None:
    """The largest K of the ranking metrics (``ndcg@K`` ...) present in any of ``metric_maps``."""
    families = {f for f, _ in METRIC_FAMILIES}
    ks = [int(m.group(2)) for values in metric_maps for key in values
          if (m := re.fullmatch(r"([a-z]+)@(\d+)", str(key))) and m.group(1) in families]
    return max(ks) if ks else None


def _sentence(text: str) -> list[tuple[str, str]]:
    """A rendered explanation sentence (items in ``*asterisks*``, the rule in ``backticks``) as inline parts."""
    parts: list[tuple[str, str]] = []
    position = 0
    for match in re.finditer(r"\*([^*]+)\*|`([^`]+)`", text):
        parts.append(("", text[position:match.start()]))
        parts.append(("em", match.group(1)) if match.group(1) is not None else ("code", match.group(2)))
        position = match.end()
    parts.append(("", text[position:]))
    return [p for p in parts if p[1]]


# ---- the sections ----------------------------------------------------------------------------------------
@dataclass
class Context:
    files: RunFiles
    config: dict[str, Any]
    config_text: str | None
    dataset: dict[str, Any] | None
    stats: dict[str, Any] | None
    metrics: dict[str, Any] | None
    rows: list[dict[str, Any]] | None  # comparison rows (or the main model alone)
    split: dict[str, Any] | None

    @property
    def dataset_name(self) -> str:
        for source in (self.stats, self.dataset, self.config.get("data")):
            if isinstance(source, dict) and source.get("name"):
                return str(source["name"])
        return "unknown dataset"

    @property
    def model_name(self) -> str:
        model = self.config.get("model")
        return str(model.get("model", "kgrec")) if isinstance(model, dict) else "kgrec"

    def section_config(self, section: str) -> dict[str, Any]:
        value = self.config.get(section)
        return value if isinstance(value, dict) else {}


def _model_description(ctx: Context) -> str:
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
    at_k = [f"{f}@{k}" for f, _ in METRIC_FAMILIES if test and _finite(test.get(f"{f}@{k}"))]
    if test and at_k:
        headline = [m for m in at_k if m.startswith(("ndcg@", "recall@"))] or at_k[:2]
        parts.append("Test ")
        for n, name in enumerate(headline):
            parts += [(" and " if n else ""), f"{metric_label(name)} ", ("b", fmt(test[name]))]
        if test.get("users") is not None:
            parts.append(f" over {fmt(test['users'])} test users")
        parts.append(". ")
        others = [r for r in (ctx.rows or [])[1:] if _finite((r.get("test") or {}).get(f"ndcg@{k}"))]
        if others and _finite(test.get(f"ndcg@{k}")):
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
    if _finite(metrics.get("seconds_to_best")):
        timing.append(f"{seconds(metrics['seconds_to_best'])} to the best epoch")
    if _finite(metrics.get("seconds_per_epoch")):
        timing.append(f"{seconds(metrics['seconds_per_epoch'])} per epoch")
    if _finite(metrics.get("eval_seconds")):
        timing.append(f"test evaluation {seconds(metrics['eval_seconds'])}")
    if _finite(metrics.get("peak_rss_mb")):
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
            from kgrec.data.registry import get_spec

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
    section = Section("dataset", "Dataset")
    card = ctx.stats or ctx.dataset
    if not card:
        section.blocks.append(not_available(ctx.files.why(STATS, DATASET)))
        return section
    rows: list[tuple[str, Text]] = [("name", ("code", str(card.get("name", ctx.dataset_name))))]
    for key, label in (("users", "users"), ("items", "items"), ("interactions", "interactions (positives)")):
        if key in card:
            rows.append((label, fmt(card[key])))
    if _finite(card.get("density")):
        rows.append(("density", f"{100 * card['density']:.3g} %"))
    for key in ("entities", "relations", "triples"):
        if key in card:
            rows.append((f"KG {key}", fmt(card[key])))
    if card.get("linked_items") is not None:
        items = card.get("items")
        share = f" ({pct(card['linked_items'] / items)})" if _finite(items) and items else ""
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
        total = sum(v for _, v in ordered if _finite(v)) or 0
        section.blocks.append(Heading(3, "Triples per relation"))
        section.blocks.append(Table(
            ["relation", "triples", "share"],
            [[("code", str(name)), fmt(count), pct(count / total) if total and _finite(count) else NONE]
             for name, count in shown],
            numeric=frozenset({1, 2}),
        ))
        if len(ordered) > len(shown):
            section.blocks.append(P(f"… and {len(ordered) - len(shown):,} more relations.", "note"))
    return section


def config_section(ctx: Context) -> Section:
    section = Section("config", "Configuration")
    if ctx.config_text is None:
        section.blocks.append(not_available(ctx.files.why(CONFIG)))
    else:
        section.blocks.append(Pre(ctx.config_text, "config.yaml, as saved in the run directory:", "columns"))
    return section


def curves_section(ctx: Context, history: list[dict[str, float | None]] | None) -> Section:
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
    best_epoch = int(best_epoch) if _finite(best_epoch) else None
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
    split = ctx.split
    if not split:
        return None
    scheme = str(split.get("scheme", "unknown"))
    ratios = ctx.section_config("split").get("ratios")
    how = {
        "ratio": "per-user random ratio split" + (f" {'/'.join(f'{r:g}' for r in ratios)}" if isinstance(ratios, list)
                                                 and all(_finite(r) for r in ratios) else ""),
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
    section = Section("metrics", "Metrics against the compared models")
    rows = ctx.rows
    if not rows:
        section.blocks.append(not_available(ctx.files.why(COMPARISON, METRICS)))
    else:
        tests = [r.get("test") if isinstance(r.get("test"), dict) else {} for r in rows]
        k = largest_k(tests)
        metric_names = [f"{f}@{k}" for f, _ in METRIC_FAMILIES if k is not None and any(f"{f}@{k}" in t for t in tests)]
        extra = [("best_epoch", "best epoch", lambda v: fmt(int(v)) if _finite(v) else NONE),
                 ("seconds_to_best", "s to best", seconds)]
        if any(_finite(r.get("peak_rss_mb")) for r in rows):
            extra.append(("peak_rss_mb", "peak RSS MB", lambda v: f"{v:,.0f}" if _finite(v) else NONE))
        best = {}
        for name in metric_names:
            shown = [round(t[name], 4) for t in tests if _finite(t.get(name))]
            best[name] = max(shown) if shown else None
        table_rows = []
        for row, test in zip(rows, tests):
            cells: list[Text] = [str(row.get("name") or row.get("model") or "?")]
            for name in metric_names:
                value = test.get(name)
                is_best = len(rows) > 1 and _finite(value) and round(value, 4) == best[name]
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


class _RelationNames:
    """What :meth:`PhraseTable.rule_name` needs of a graph, from a rules file's relation names alone.

    The collaborative KG numbers relations ``[interact, r1 … rn, interact⁻¹, r1⁻¹ … rn⁻¹]``, so the inverse
    of relation ``r`` is ``(r + half) mod count`` (:meth:`CollaborativeKG.inverse`).
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.relation_names = tuple(names)
        self.num_relations = len(self.relation_names)

    def inverse(self, relation: int) -> int:
        half = self.num_relations // 2
        return (relation + half) % self.num_relations


def rules_section(ctx: Context) -> Section:
    from kgrec.errors import KgrecError
    from kgrec.explain.phrases import PhraseTable
    from kgrec.explain.rules import RuleSet

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
    names = _RelationNames(rules.relation_names)

    def name(pattern: Sequence[int]) -> str:
        try:
            return phrases.rule_name(cast(Any, names), tuple(pattern)) if rules.relation_names else rules.label(pattern)
        except (IndexError, KeyError, ValueError):
            return rules.label(pattern)

    shown = rules.rules[:TOP_RULES]
    measured = any(r.test_precision is not None for r in shown)
    header = ["#", "rule", "pattern", "support", "connected", "confidence", "head coverage", "lift"]
    header += ["test precision"] if measured else []
    table_rows = []
    for n, rule in enumerate(shown, 1):
        label = "[" + ", ".join(rules.pattern_names(rule.pattern)) + "]"
        cells: list[Text] = [str(n), name(rule.pattern), ("code", label), fmt(rule.support), fmt(rule.connected),
                             fmt(rule.confidence, 3), fmt(rule.head_coverage, 4), fmt(rule.lift, 2)]
        if measured:
            cells.append(fmt(rule.test_precision, 4))
        table_rows.append(cells)
    section.blocks.append(P(
        f"{len(rules):,} rule{'s' if len(rules) != 1 else ''} \"users who liked j also like i when j and i are "
        f"linked by the pattern\", mined from the training interactions over {rules.n_items:,} items "
        f"({rules.n_coliked:,} co-liked ordered pairs, base co-like rate {rules.base_rate:.3g}); "
        + (f"the top {len(shown)} by confidence:" if len(shown) < len(rules) else "best first:")
    ))
    section.blocks.append(Table(header, table_rows, frozenset({0, 3, 4, 5, 6, 7, 8})))
    section.blocks.append(P("Support: co-liked pairs the pattern links; connected: all pairs it links; confidence = "
                            "support / connected; head coverage = support / all co-liked pairs; lift = confidence / "
                            "base rate.", "note"))
    return section


EXPLAIN_MEASURES: tuple[tuple[str, str, str], ...] = (
    # key, label, format ("pct", "num", "int", "s")
    ("path_coverage", "path coverage (explained items with a path)", "pct"),
    ("path_coverage_len3", "path coverage, paths of length ≤ 3", "pct"),
    ("rule_coverage", "rule coverage (told path instantiates a mined rule)", "pct"),
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
    ("distinct_rules_used", "distinct rules told", "int"),
    ("rule_precision", "rule precision on test (micro)", "num"),
    ("seconds", "evaluation time", "s"),
)


def _measure(value: Any, kind: str) -> str:
    if kind == "pct":
        return pct(value)
    if kind == "int":
        return fmt(int(value)) if _finite(value) else NONE
    if kind == "s":
        return seconds(value)
    return fmt(value, 4)


def explain_section(ctx: Context) -> Section:
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


def _path_cells(path: Mapping[str, Any]) -> str:
    nodes = path.get("node_info") or [{"name": f"node {n}"} for n in path.get("nodes", [])]
    relations = path.get("relation_info") or [{"phrase": f"relation {r}"} for r in path.get("relations", [])]
    text = str(nodes[0].get("name", "?")) if nodes else "?"
    for relation, node in zip(relations, nodes[1:]):
        text += f" —{relation.get('phrase') or relation.get('name', '?')}→ {node.get('name', '?')}"
    return text


def _recommendation_card(user_raw: str, rec: Mapping[str, Any], gallery: Path) -> Card:
    rank = rec.get("rank", "?")
    item = str(rec.get("item_name") or rec.get("item_raw") or f"item {rec.get('item', '?')}")
    blocks: list[Any] = [Heading(4, [("", f"#{rank} "), ("", item)])]
    score = f"score {rec['score']:.4g}" if _finite(rec.get("score")) else "score —"
    blocks.append(P(f"{score} · item {rec.get('item_raw', rec.get('item', '?'))}"
                    + (" · popularity fallback" if rec.get("fallback") else ""), "note"))
    sentence = rec.get("sentence") or rec.get("text") or ""
    blocks.append(P(_sentence(str(sentence)) if sentence else "No sentence.", "" if sentence else "na"))
    paths = [p for p in rec.get("paths") or [] if isinstance(p, dict)]
    if paths and not rec.get("fallback"):
        chosen = rec.get("chosen") if isinstance(rec.get("chosen"), int) and 0 <= rec["chosen"] < len(paths) else None
        others = [k for k in range(len(paths)) if k != chosen]
        by_weight = sorted(others, key=lambda k: -(paths[k].get("weight") or 0.0))
        order = ([chosen] if chosen is not None else []) + by_weight[: TOP_PATHS - (chosen is not None)]
        weights = [paths[k].get("weight") for k in order]
        rows = [[("b", "✓") if k == chosen else "", _path_cells(paths[k]), f"{w:.4g}" if _finite(w) else NONE]
                for k, w in zip(order, weights)]
        blocks.append(Table(["told", "path", "weight"], rows, frozenset({2}),
                            row_classes=["chosen" if k == chosen else "" for k in order]))
        if len(paths) > len(order):
            more = len(paths) - len(order)
            blocks.append(P(f"{more} more path{'s' if more != 1 else ''} not shown.", "note"))
    rule, info = rec.get("rule"), rec.get("rule_info")
    if isinstance(rule, dict):
        name = str((info or {}).get("name") or "rule")
        label = str((info or {}).get("pattern_label") or rule.get("pattern"))
        blocks.append(P(["Rule ", ("code", name), f" {label}: confidence {fmt(rule.get('confidence'), 3)}, support "
                         f"{fmt(rule.get('support'))} co-liked pairs, lift {fmt(rule.get('lift'), 2)}."], "note"))
    elif not rec.get("fallback"):
        blocks.append(P("No mined rule applies.", "note"))
    picture = gallery_picture_name(user_raw, int(rank) if _finite(rank) else 0, str(rec.get("item_raw", "")))
    if (gallery / picture).is_file():
        blocks.append(Picture(f"{GALLERY_DIR}/{picture}", (gallery / picture).read_bytes(),
                              f"explanation subgraph for {item}", "User (blue), items (orange), entities (green); "
                              "edge width = path weight, labels = relation phrases."))
    elif paths:
        blocks.append(P("Subgraph picture: not available.", "na"))
    return Card(blocks)


def gallery_section(ctx: Context) -> Section:
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


# ---- assembling and writing ------------------------------------------------------------------------------
def _css() -> str:
    return resources.files("kgrec.report").joinpath("style.css").read_text(encoding="utf-8")


def _context(files: RunFiles) -> Context:
    config_text = files.text(CONFIG)
    config: dict[str, Any] = {}
    if config_text is not None:
        try:
            loaded = yaml.safe_load(config_text)
            config = loaded if isinstance(loaded, dict) else {}
        except yaml.YAMLError as error:
            files.note(CONFIG, f"{CONFIG} is not valid YAML ({error})")
    metrics = files.mapping(METRICS)
    comparison = files.mapping(COMPARISON)
    rows = None
    if comparison is not None:
        rows = [r for r in comparison.get("rows") or [] if isinstance(r, dict)] or None
        if rows is None:
            files.note(COMPARISON, f"{COMPARISON} has no rows")
    if rows is None and metrics is not None and isinstance(metrics.get("test"), dict):
        model = config.get("model", {}).get("model", "kgrec") if isinstance(config.get("model"), dict) else "kgrec"
        rows = [{"name": model, "model": model, **{k: metrics.get(k) for k in
                 ("test", "best_epoch", "seconds_to_best", "peak_rss_mb")}}]
    split = files.mapping(SPLIT)
    if split is None and metrics is not None and isinstance(metrics.get("split"), dict):
        split = metrics["split"]
    return Context(files, config, config_text, files.mapping(DATASET), files.mapping(STATS), metrics, rows, split)


def _page_html(title: str, summary: P, sections: Sequence[Section]) -> str:
    toc = " ".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections)
    body = [f"<h1>{html.escape(title)}</h1>", f'<nav class="toc">{toc}</nav>', summary.html()]
    for section in sections:
        body.append(f'<section id="{section.id}">\n<h2>{html.escape(section.title)}</h2>')
        body += [block.html() for block in section.blocks]
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{_css()}</style>\n</head>\n<body>\n"
        + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _page_md(title: str, summary: P, sections: Sequence[Section]) -> str:
    parts = [f"# {_md_escape(title)}", summary.md()]
    for section in sections:
        parts.append(f"## {_md_escape(section.title)}")
        parts += [block.md() for block in section.blocks]
    return "\n\n".join(parts) + "\n"


def build_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``run_dir/report.html`` and ``run_dir/report.md`` (pictures under ``run_dir/report/``).

    Reads the pipeline run directory's ``config.yaml``, ``dataset.json``, ``dataset_stats.json``,
    ``split/split.json``, ``history.csv``, ``metrics.json``, ``comparison.json``, ``rules.json``,
    ``explain_eval.json``, ``gallery.json`` and ``gallery/*.png``; each is optional (its section then says
    "not available"). The HTML is self-contained: inline CSS, pictures as base64 PNG, no scripts, no links
    to the network. Everything is rendered in memory first and every file is written atomically, so an
    error leaves the previous report as it was. Returns ``(report.html, report.md)``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        from kgrec.errors import ConfigError

        raise ConfigError(f"{run_dir}: not a run directory (no such directory)")
    files = RunFiles(run_dir)
    ctx = _context(files)
    history = read_history(files)
    sections = [
        dataset_section(ctx),
        config_section(ctx),
        curves_section(ctx, history),
        metrics_section(ctx),
        rules_section(ctx),
        explain_section(ctx),
        gallery_section(ctx),
    ]
    summary = summary_block(ctx)
    title = f"kgrec run report: {ctx.model_name} on {ctx.dataset_name}"
    page_html = _page_html(title, summary, sections)
    page_md = _page_md(title, summary, sections)

    with atomic_directory(run_dir / ASSETS) as assets:
        for picture in (p for s in sections for p in s.pictures()):
            target = assets / picture.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(picture.data)
    html_path, md_path = run_dir / HTML_NAME, run_dir / MD_NAME
    atomic_write_text(md_path, page_md)
    atomic_write_text(html_path, page_html)
    return html_path, md_path
