"""Matplotlib helpers shared by every picture kgrec draws (explanations, the report, training curves).

A leaf module: it imports nothing of kgrec, so both :mod:`kgrec.explain` and :mod:`kgrec.report` use it.
Figures are drawn with the Agg backend and returned as PNG bytes; nothing is written here. Matplotlib is
imported by the first figure, not with this module: a service that never draws never waits for it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from functools import cache
from typing import Any


@cache
def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def png_figure(*args: Any, **kwargs: Any) -> Iterator[tuple[Any, Any]]:
    """``plt.subplots(*args, **kwargs)`` as ``(figure, axes)``, closed when the block ends, even on an error
    (pyplot keeps every open figure alive)."""
    plt = pyplot()
    figure, axes = plt.subplots(*args, **kwargs)
    try:
        yield figure, axes
    finally:
        plt.close(figure)


def figure_png(figure: Any) -> bytes:
    """``figure`` laid out tightly, as PNG bytes at 100 dpi."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def chart_label(text: str, limit: int = 28) -> str:
    """A matplotlib-safe label of at most ``limit`` characters ("$" would start mathtext)."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")
