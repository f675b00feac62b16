"""The report's pictures, drawn with matplotlib's Agg backend (:mod:`kgrec.plotting`) and returned as PNG bytes
(nothing is written here)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from kgrec.plotting import figure_png, png_figure

# loss columns of history.csv drawn on the loss panel, in this order (missing ones are skipped)
LOSS_COLUMNS = (("loss", "total loss", "-", 2.0), ("bpr", "BPR", "--", 1.0), ("kg", "KG (TransH)", ":", 1.2))


def _series(history: Sequence[Mapping[str, float | None]], column: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of the rows where ``column`` has a finite value."""
    points = [(row.get("epoch"), row.get(column)) for row in history]
    kept = [(float(e), float(v)) for e, v in points if e is not None and v is not None and math.isfinite(v)]
    return [e for e, _ in kept], [v for _, v in kept]


def curves_png(
    history: Sequence[Mapping[str, float | None]],
    metrics: Sequence[str],
    best_epoch: int | None = None,
    labels: Sequence[str] | None = None,
) -> bytes:
    """Training curves of one run as PNG bytes: loss terms per epoch (left) and validation metrics (right).

    ``history`` are the rows of ``history.csv`` (numbers, None where a cell is empty); ``metrics`` the
    validation columns to draw without their ``valid_`` prefix (e.g. ``["ndcg@20", "recall@20"]``). The
    best epoch, when given, is marked by a dotted line on both panels; ``labels`` name the metrics in the legend.
    """
    with png_figure(1, 2, figsize=(10, 3.6)) as (figure, (loss_axis, metric_axis)):
        for column, label, style, width in LOSS_COLUMNS:
            epochs, values = _series(history, column)
            if epochs:
                loss_axis.plot(epochs, values, linestyle=style, linewidth=width, label=label,
                               marker="." if len(epochs) < 30 else None)
        loss_axis.set(title="training loss per epoch", xlabel="epoch", ylabel="loss")
        drawn = 0
        for metric, label in zip(metrics, labels if labels is not None else metrics):
            epochs, values = _series(history, f"valid_{metric}")
            if epochs:
                metric_axis.plot(epochs, values, marker="." if len(epochs) < 60 else None, label=label)
                drawn += 1
        if not drawn:
            metric_axis.text(0.5, 0.5, "no validation metric recorded", ha="center", va="center",
                             transform=metric_axis.transAxes, color="#777777")
        metric_axis.set(title="validation metrics per epoch", xlabel="epoch")
        for axis in (loss_axis, metric_axis):
            if best_epoch is not None:
                axis.axvline(best_epoch, color="#888888", linestyle=":", linewidth=1, label=f"best epoch {best_epoch}")
            axis.grid(True, alpha=0.3)
            if axis.get_legend_handles_labels()[0]:
                axis.legend(fontsize=8, frameon=False)
        return figure_png(figure)


def methods_png(methods: Mapping[str, Mapping[str, float | None]]) -> bytes:
    """Explanation methods at equal budgets as PNG bytes: deletion fidelity (y) against sparsity (x, log: the
    fewest edges holding 90 % of a method's attribution), one labelled point per method."""
    with png_figure(figsize=(6.4, 4.0)) as (figure, axis):
        for name, values in methods.items():
            x, y = values.get("edges_90"), values.get("fidelity")
            if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
                continue
            axis.scatter([max(float(x), 1.0)], [float(y)], s=40)
            axis.annotate(name, (max(float(x), 1.0), float(y)), textcoords="offset points", xytext=(5, 4), fontsize=9)
        axis.set_xscale("log")
        axis.set(title="explanation methods at equal budgets", xlabel="edges holding 90 % of the attribution (log)",
                 ylabel="deletion fidelity", ylim=(0, 1.05))
        axis.grid(True, alpha=0.3)
        return figure_png(figure)
