"""Reading the ``model.pt`` files kgrec writes, so that a damaged or foreign one is a RunError naming it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from kgrec.errors import RunError


def read_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    """The mapping saved with ``torch.save`` at ``path``, read with ``weights_only`` (tensors and plain values).

    A missing, truncated, corrupted or foreign file is a RunError naming it. torch.load fails on a damaged file
    with almost any exception type (OSError, EOFError, RuntimeError, UnpicklingError, ...), so all are caught;
    the original stays chained as the cause for ``--debug``."""
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise RunError(f"{path}: file not found") from None
    except Exception as error:  # noqa: BLE001 - see the docstring
        raise RunError(
            f"{path}: cannot read the checkpoint: the file is truncated, corrupted or not written by kgrec "
            f"({first_sentence(error)})"
        ) from error
    if not isinstance(checkpoint, dict):
        raise RunError(f"{path}: expected a kgrec checkpoint (a mapping), found a {type(checkpoint).__name__}")
    return checkpoint


def first_sentence(error: Exception, limit: int = 120) -> str:
    """``Type: first sentence`` of an exception (torch's messages go on for paragraphs), at most ``limit`` chars."""
    lines = str(error).strip().splitlines()
    sentence = lines[0].split(". ")[0].rstrip(".") if lines else ""
    if len(sentence) > limit:
        sentence = sentence[: limit - 1] + "…"
    return f"{type(error).__name__}: {sentence}" if sentence else type(error).__name__


def checkpoint_entry(checkpoint: Mapping[str, Any], key: str, kind: type, path: Path) -> Any:
    """``checkpoint[key]``, checked to be a ``kind``: RunError naming the file and the entry otherwise."""
    if key not in checkpoint:
        entries = ", ".join(map(str, list(checkpoint)[:5])) + (", ..." if len(checkpoint) > 5 else "") or "none"
        raise RunError(f"{path}: not a kgrec checkpoint: no {key!r} entry (entries: {entries})")
    value = checkpoint[key]
    if not isinstance(value, kind):
        raise RunError(f"{path}: entry {key!r} should be a {kind.__name__}, found a {type(value).__name__}")
    return value


def load_weights(model: torch.nn.Module, weights: Mapping[str, Any], path: Path) -> None:
    """Copy ``weights`` into ``model``; a missing, unexpected or wrongly shaped weight is a RunError naming the
    file and the first such weight (torch's own message spans many lines)."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in weights]
    if missing:
        raise RunError(f"{path}: no weight {missing[0]!r} for the model ({len(missing)} of {len(expected)} missing)")
    unexpected = [key for key in weights if key not in expected]
    if unexpected:
        raise RunError(f"{path}: weight {unexpected[0]!r} is not part of the model ({len(unexpected)} unexpected)")
    for key, tensor in expected.items():
        value = weights[key]
        if not isinstance(value, torch.Tensor):
            raise RunError(f"{path}: weight {key!r} should be a tensor, found a {type(value).__name__}")
        if value.shape != tensor.shape:
            raise RunError(
                f"{path}: weight {key!r} has shape {tuple(value.shape)}, the model expects {tuple(tensor.shape)}; "
                "the weights were written for another configuration"
            )
    model.load_state_dict(weights)
