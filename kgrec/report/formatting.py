"""Formatting of numbers, metric names and explanation sentences for the report's tables and text."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

METRIC_FAMILIES = (("ndcg", "NDCG"), ("recall", "Recall"), ("precision", "Precision"), ("hit", "Hit"), ("mrr", "MRR"))
NONE = "—"


def finite(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers for tables: integers with thousands separators, floats with ``digits`` decimals, None as —."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if finite(value):
        return f"{value:,.{digits}f}"
    return NONE if value is None or isinstance(value, float) else str(value)


def pct(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage, or —."""
    return f"{100 * value:.{digits}f} %" if finite(value) else NONE


def seconds(value: Any) -> str:
    """A duration in seconds, or —."""
    if not finite(value):
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


def sentence_parts(text: str) -> list[tuple[str, str]]:
    """A rendered explanation sentence (items in ``*asterisks*``, the rule in ``backticks``) as inline parts."""
    parts: list[tuple[str, str]] = []
    position = 0
    for match in re.finditer(r"\*([^*]+)\*|`([^`]+)`", text):
        parts.append(("", text[position:match.start()]))
        parts.append(("em", match.group(1)) if match.group(1) is not None else ("code", match.group(2)))
        position = match.end()
    parts.append(("", text[position:]))
    return [p for p in parts if p[1]]
