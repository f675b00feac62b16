"""Training curves: loss and the validation metric per epoch, as a PNG for the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kgrec.atomic import atomic_open
from kgrec.plotting import figure_png, png_figure


def plot_curves(history: list[dict[str, Any]], path: Path, metric: str = "ndcg@20") -> Path:
    """Two panels: training loss per epoch, and ``valid_<metric>`` on the epochs it was measured."""
    with png_figure(1, 2, figsize=(9, 3.2)) as (figure, (loss_axis, metric_axis)):
        epochs = [row["epoch"] for row in history]
        loss_axis.plot(epochs, [row["loss"] for row in history], color="tab:blue")
        loss_axis.set(title="training loss", xlabel="epoch")
        measured = [(row["epoch"], row[f"valid_{metric}"]) for row in history if f"valid_{metric}" in row]
        if measured:
            metric_axis.plot(*zip(*measured), color="tab:orange", marker=".")
        metric_axis.set(title=f"validation {metric}", xlabel="epoch")
        png = figure_png(figure)
    with atomic_open(path, "wb") as handle:
        handle.write(png)
    return path
