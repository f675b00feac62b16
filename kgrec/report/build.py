"""The run report: one HTML page (self-contained) and one Markdown file describing a pipeline run directory.

:func:`build_report` reads the files a pipeline run leaves (see :mod:`kgrec.pipeline`; every one of them
is optional, a missing or unreadable file leaves its section with a short "not available" line), builds
the report once as a list of sections made of small blocks (paragraphs, tables, code, pictures) and renders
it twice: ``report.html`` (inline CSS, pictures inline as base64 PNG, no scripts, no network) and
``report.md`` (pictures as PNG files under ``report/``). Every file is written atomically, and nothing is
written before every section and picture is ready, so a failure leaves the previous report untouched.

Sections, in order: summary, then what the run is for, the gallery of explained recommendations (each card
with its subgraph picture), then the engineering behind it: dataset card, configuration, training curves,
metrics against the compared models (with the split), top rules, explanation quality and what the model
leans on (only once ``kgrec inspect`` has written ``inspect/relations.json`` or ``inspect/entities.json``).
"""

from __future__ import annotations

from pathlib import Path

from kgrec.atomic import atomic_directory, atomic_write_text
from kgrec.errors import ConfigError
from kgrec.report.document import ASSETS, render_html, render_md
from kgrec.report.explanations import explain_section, gallery_section, rules_section
from kgrec.report.rundir import RunFiles, gallery_picture_name, load_context, read_history
from kgrec.report.sections import (
    association_sections,
    config_section,
    curves_section,
    dataset_section,
    metrics_section,
    summary_block,
)

__all__ = ["build_report", "gallery_picture_name"]

HTML_NAME, MD_NAME = "report.html", "report.md"


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
        raise ConfigError(f"{run_dir}: not a run directory (no such directory)")
    files = RunFiles(run_dir)
    ctx = load_context(files)
    history = read_history(files)
    sections = [
        gallery_section(ctx),  # the explained recommendations first, the engineering tables after them
        dataset_section(ctx),
        config_section(ctx),
        curves_section(ctx, history),
        metrics_section(ctx),
        rules_section(ctx),
        explain_section(ctx),
        *association_sections(ctx),
    ]
    summary = summary_block(ctx)
    title = f"kgrec run report: {ctx.model_name} on {ctx.dataset_name}"
    page_html = render_html(title, summary, sections)
    page_md = render_md(title, summary, sections)

    with atomic_directory(run_dir / ASSETS) as assets:
        for picture in (p for s in sections for p in s.pictures()):
            target = assets / picture.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(picture.data)
    html_path, md_path = run_dir / HTML_NAME, run_dir / MD_NAME
    atomic_write_text(md_path, page_md)
    atomic_write_text(html_path, page_html)
    return html_path, md_path
