"""Run the real ``kgrec`` command in a subprocess, as a user would; train a tiny run directory with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: ``--set`` options for a run that trains in seconds (3 epochs, 8 dimensions, NDCG@5).
FAST = ["--set", "train.epochs=3", "--set", "eval.ks=[5]", "--set", "train.metric=ndcg@5", "--set", "model.dim=8"]


def kgrec(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """``python -m kgrec ARGS`` in ``cwd``; stdout and stderr captured as text."""
    return subprocess.run([sys.executable, "-m", "kgrec", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def train_run_dir(dataset: str | Path, out: Path, timeout: int = 600) -> Path:
    """``kgrec train DATASET`` with :data:`FAST` into ``out``, checked to succeed and print ``out`` last."""
    result = kgrec("train", str(dataset), *FAST, "--out", str(out), cwd=out.parent, timeout=timeout)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out)
    return out
