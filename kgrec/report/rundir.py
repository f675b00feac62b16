"""Reading a pipeline run directory for the report: its file names, parsed files and the shared context."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kgrec.atomic import safe_file_name

CONFIG, DATASET, STATS, SPLIT = "config.yaml", "dataset.json", "dataset_stats.json", "split/split.json"
HISTORY, METRICS, COMPARISON, RULES = "history.csv", "metrics.json", "comparison.json", "rules.json"
EXPLAIN_EVAL, GALLERY, GALLERY_DIR = "explain_eval.json", "gallery.json", "gallery"


def gallery_picture_name(user_raw: str, rank: int, item_raw: str) -> str:
    """``<user raw>-<rank>-<item raw>.png`` with every character other than a letter, digit, ``-``, ``_`` or
    ``.`` replaced by ``_``: the name of a gallery picture under ``RUN/gallery/``."""
    return safe_file_name(f"{user_raw}-{rank}-{item_raw}.png")


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
    """A CSV cell as a finite float, or None."""
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


@dataclass
class Context:
    """What the sections share: the run files and the parsed config, dataset, metrics, rows and split."""

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


def load_context(files: RunFiles) -> Context:
    """Parse the run directory files every section may need into a :class:`Context`."""
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
