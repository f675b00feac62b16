"""Same config and seed, two separate processes: identical weights, metrics and explained top-10 lists.

The two trainings run at the same time (so thread scheduling differs between them) with 2 threads each,
on the planted dataset with attention and the TransH loss switched on, i.e. every random draw kgrec makes:
the split, initialisation, negative sampling, KG corruption, dropout. Both use the default
``train.deterministic=true`` (PyTorch's deterministic kernels: at 2 threads the atomic-add gradient of batch
lookups otherwise varies between runs, see ``tests/training/test_determinism.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kgrec.recommender import Recommender
from tests.cli_runner import FAST, kgrec
from tests.models.planted import write_planted_files

SETTINGS = [*FAST, "--set", "train.num_threads=2", "--set", "model.attention=true"]


@pytest.fixture(scope="module")
def twin_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("twins")
    data = write_planted_files(root / "planted")
    outs = (root / "first", root / "second")
    command = [sys.executable, "-m", "kgrec", "train", str(data), *SETTINGS]
    processes = [subprocess.Popen([*command, "--out", str(out)], cwd=root, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for out in outs]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    return outs


def test_same_weights_bit_for_bit(twin_runs: tuple[Path, Path]) -> None:
    first, second = (torch.load(run / "model.pt", weights_only=True) for run in twin_runs)
    assert first["epoch"] == second["epoch"]
    assert first["state_dict"].keys() == second["state_dict"].keys()
    for key, tensor in first["state_dict"].items():
        assert torch.equal(tensor, second["state_dict"][key]), key


def test_same_metrics_and_history(twin_runs: tuple[Path, Path]) -> None:
    first, second = (json.loads((run / "metrics.json").read_text()) for run in twin_runs)
    assert first["test"] == second["test"] and first["valid"] == second["valid"]
    assert first["best_epoch"] == second["best_epoch"]
    losses = [[line.split(",")[1] for line in (run / "history.csv").read_text().splitlines()[1:]] for run in twin_runs]
    assert losses[0] == losses[1] and len(losses[0]) == 3


def test_same_top10_lists_for_every_user(twin_runs: tuple[Path, Path]) -> None:
    recommenders = [Recommender.load(run) for run in twin_runs]
    users = recommenders[0].users_with_history()
    assert len(users) > 40
    for user in users:
        lists = [[(e.item, e.score) for e in rec.recommend(int(user), 10)] for rec in recommenders]
        assert lists[0] == lists[1], f"user {user}"


def test_same_explained_recommendations_through_the_cli(twin_runs: tuple[Path, Path]) -> None:
    user = (twin_runs[0] / "split" / "train.tsv").read_text().split("\t", 1)[0]
    outputs = []
    for run in twin_runs:
        result = kgrec("recommend", str(run), "--user", user, "-k", "10", "--explain", "--format", "json", cwd=run)
        assert result.returncode == 0, result.stderr
        outputs.append(json.loads(result.stdout)["recommendations"])
    assert len(outputs[0]) == 10 and outputs[0] == outputs[1]
