"""The trainer: checkpoints, exact resume, run-directory files, early stopping, and the metric check."""

from __future__ import annotations

import csv

import pytest
import torch

from kgrec.config import EvalConfig, ModelConfig, SplitConfig, TrainConfig
from kgrec.data.graph import CollaborativeKG
from kgrec.data.split import split
from kgrec.errors import ConfigError
from kgrec.models.baselines import build_model
from kgrec.training.trainer import LAST, Trainer
from tests.models.planted import planted_dataset

MODEL = ModelConfig(dim=8, layers=2)


def make_trainer(run_dir, epochs: int, patience: int = 100, **options) -> Trainer:
    """A dim-8 kgrec on the planted dataset, one-negative BPR at a constant rate unless ``options`` (further
    TrainConfig fields) say otherwise."""
    dataset = planted_dataset()
    parts = split(dataset, SplitConfig(seed=1))
    graph = CollaborativeKG.build(dataset, parts.train)
    torch.manual_seed(0)
    settings = {"loss": "bpr", "negatives": 1, "lr_cosine_epochs": 0, **options}
    config = TrainConfig(epochs=epochs, batch_size=32, lr=0.01, patience=patience, num_threads=1, metric="ndcg@5",
                         **settings)
    return Trainer(build_model(graph, MODEL), parts, dataset.n_items, config, EvalConfig(ks=(5,)), run_dir, progress=False)


def last_weights(run_dir) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / LAST, weights_only=False)["model"]


@pytest.mark.parametrize("options", [{}, {"lr_cosine_epochs": 4}, {"loss": "softmax", "negatives": 8}],
                         ids=["plain", "cosine", "softmax"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, options: dict) -> None:
    make_trainer(tmp_path / "straight", epochs=6, **options).fit()
    make_trainer(tmp_path / "interrupted", epochs=3, **options).fit()
    resumed = make_trainer(tmp_path / "interrupted", epochs=6, **options)
    resumed.fit(resume=tmp_path / "interrupted" / LAST)
    straight, again = last_weights(tmp_path / "straight"), last_weights(tmp_path / "interrupted")
    assert straight.keys() == again.keys()
    for key in straight:
        assert torch.equal(straight[key], again[key]), key
    assert [row["epoch"] for row in resumed.result.history] == [1, 2, 3, 4, 5, 6]
    if "lr_cosine_epochs" in options:  # the schedule resumes where it was: 0.01 · f(e) after epoch e, by hand
        # f(e) = 0.05 + 0.95 · (1 + cos(π · min(e, 4) / 4)) / 2
        expected = [0.00860876, 0.00525, 0.00189124, 0.0005, 0.0005, 0.0005]
        assert [row["lr"] for row in resumed.result.history] == pytest.approx(expected, abs=1e-8)


def test_run_directory_files_and_history(tmp_path) -> None:
    trainer = make_trainer(tmp_path, epochs=4)
    result = trainer.fit()
    assert (tmp_path / "model.pt").exists() and (tmp_path / LAST).exists()
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert {"loss", "bpr", "kg", "valid_ndcg@5", "seconds"} <= set(rows[0])
    assert 1 <= result.best_epoch <= 4 and result.best_valid == max(float(r["valid_ndcg@5"]) for r in rows)


def test_early_stopping_after_patience(tmp_path) -> None:
    result = make_trainer(tmp_path, epochs=50, patience=2).fit()
    assert result.epochs_run == result.best_epoch + 2 < 50


def test_best_weights_are_restored_after_training(tmp_path) -> None:
    trainer = make_trainer(tmp_path, epochs=5)
    trainer.fit()
    best = torch.load(tmp_path / "model.pt")["state_dict"]
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, best[key]), key


def test_metric_must_be_computed() -> None:
    dataset = planted_dataset()
    parts = split(dataset, SplitConfig(seed=1))
    graph = CollaborativeKG.build(dataset, parts.train)
    with pytest.raises(ConfigError, match=r"train.metric: ndcg@20 is not computed; eval.ks is \[5, 10\]"):
        Trainer(build_model(graph, MODEL), parts, dataset.n_items, TrainConfig(), EvalConfig(ks=(5, 10)), progress=False)
