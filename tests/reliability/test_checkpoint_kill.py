"""A training process killed (SIGKILL) in the middle of writing a checkpoint leaves the previous one loadable.

The child is the real ``kgrec train`` entry point with one change: ``torch.save`` of the second ``last.pt``
writes half of its bytes, announces it and hangs, so that the kill lands inside the write for certain.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kgrec.training.trainer import BEST, LAST
from tests.cli_runner import FAST, kgrec
from tests.models.planted import write_planted_files

CHILD = r"""
import io, os, sys, time
from pathlib import Path
import torch
import kgrec.cli

marker = Path(sys.argv[1])
real_save = torch.save
calls = {"last": 0}

def save_then_hang_halfway(obj, target, *args, **kwargs):
    if Path(target).name.startswith(".last.pt."):
        calls["last"] += 1
        if calls["last"] == 2:  # the checkpoint of epoch 2
            buffer = io.BytesIO()
            real_save(obj, buffer)
            data = buffer.getvalue()
            with open(target, "wb") as handle:
                handle.write(data[: len(data) // 2])
                handle.flush()
                os.fsync(handle.fileno())
            marker.write_text(str(len(data)))
            time.sleep(600)
    return real_save(obj, target, *args, **kwargs)

torch.save = save_then_hang_halfway
sys.exit(kgrec.cli.main(sys.argv[2:]))
"""


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the child never reached the second checkpoint"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """(dataset dir, run dir, full size of the checkpoint that was being written) after the kill."""
    root = tmp_path_factory.mktemp("killed")
    data, run, marker = write_planted_files(root / "planted"), root / "run", root / "writing"
    args = ["train", str(data), *FAST, "--set", "train.epochs=4", "--set", "train.eval_every=1", "--out", str(run)]
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(marker), *args], cwd=root,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(marker, child)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return data, run, int(marker.read_text())


def test_the_kill_landed_inside_the_write(killed_run: tuple[Path, Path, int]) -> None:
    _, run, full_size = killed_run
    partial = [p for p in run.iterdir() if p.name.startswith(f".{LAST}.")]
    assert len(partial) == 1 and 0 < partial[0].stat().st_size < full_size


def test_previous_checkpoint_still_loads(killed_run: tuple[Path, Path, int]) -> None:
    _, run, _ = killed_run
    state = torch.load(run / LAST, weights_only=False)
    assert state["epoch"] == 1
    assert torch.load(run / BEST, weights_only=True)["state_dict"]


def test_resume_finishes_and_clears_the_partial_write(killed_run: tuple[Path, Path, int]) -> None:
    data, run, _ = killed_run
    result = kgrec("train", str(data), *FAST, "--set", "train.epochs=4", "--set", "train.eval_every=1",
                   "--out", str(run), "--resume", cwd=run.parent)
    assert result.returncode == 0, result.stderr
    assert torch.load(run / LAST, weights_only=False)["epoch"] == 4
    history = (run / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["1", "2", "3", "4"]
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("damage", ["truncated", "foreign"])
def test_a_damaged_last_checkpoint_is_one_line_naming_it(killed_run: tuple[Path, Path, int], tmp_path: Path,
                                                         damage: str) -> None:
    data, run, _ = killed_run
    copy = shutil.copytree(run, tmp_path / "copy")
    if damage == "truncated":
        (copy / LAST).write_bytes((copy / LAST).read_bytes()[:100])
    else:
        torch.save({"model": {}, "epoch": 1}, copy / LAST)
    result = kgrec("train", str(data), *FAST, "--set", "train.epochs=4", "--out", str(copy), "--resume", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"{copy / LAST}:" in result.stderr and "Traceback" not in result.stderr
