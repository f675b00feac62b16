"""Training curves: loss and the validation metric per epoch, as a PNG for the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kgrec.atomic import atomic_path  # noqa: E402


def plot_curves(history: list[dict[str, Any]], path: Path, metric: str = "ndcg@20") -> Path:
    """Two panels: training loss per epoch, and ``valid_<metric>`` on the epochs it was measured."""
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = [row["epoch"] for row in history]
    loss_axis.plot(epochs, [row["loss"] for row in history], color="tab:blue")
    loss_axis.set(title="training loss", xlabel="epoch")
    measured = [(row["epoch"], row[f"valid_{metric}"]) for row in history if f"valid_{metric}" in row]
    if measured:
        metric_axis.plot(*zip(*measured), color="tab:orange", marker=".")
    metric_axis.set(title=f"validation {metric}", xlabel="epoch")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)
    return path
