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

MODEL = ModelConfig(dim=8, layers=2, message_dropout=0.1)


def make_trainer(run_dir, epochs: int, patience: int = 100, **options) -> Trainer:
    """A dim-8 kgrec on the planted dataset; ``options`` are further TrainConfig fields."""
    dataset = planted_dataset()
    parts = split(dataset, SplitConfig(seed=1))
    graph = CollaborativeKG.build(dataset, parts.train)
    torch.manual_seed(0)
    config = TrainConfig(epochs=epochs, batch_size=32, lr=0.01, patience=patience, num_threads=1, metric="ndcg@5",
                         **options)
    return Trainer(build_model(graph, MODEL), parts, dataset.n_items, config, EvalConfig(ks=(5,)), run_dir, progress=False)


def last_weights(run_dir) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / LAST, weights_only=False)["model"]


@pytest.mark.parametrize("options", [{}, {"ema": 0.9}, {"lr_cosine_epochs": 4}], ids=["plain", "ema", "cosine"])
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
    if options.get("ema"):  # the moving average resumes too, and the best weights saved are the averaged ones
        averaged = torch.load(tmp_path / "straight" / LAST, weights_only=False)["ema"]
        for key, value in torch.load(tmp_path / "interrupted" / LAST, weights_only=False)["ema"].items():
            assert torch.equal(averaged[key], value), key


def test_ema_validates_a_hand_computed_moving_average(tmp_path) -> None:
    """With train.ema = d the validated weights are w̄₁ = w₁, w̄ₜ = d·w̄ₜ₋₁ + (1 − d)·wₜ over optimiser steps."""
    trainer = make_trainer(tmp_path, epochs=2, ema=0.8)
    after_steps: list[torch.Tensor] = []
    step = trainer.optimizer.step

    def recording_step(*args, **kwargs):
        result = step(*args, **kwargs)
        after_steps.append(trainer.model.node_emb.weight.detach().clone())
        return result

    trainer.optimizer.step = recording_step
    validated: list[torch.Tensor] = []
    validate = trainer.validate
    trainer.validate = lambda: (validated.append(trainer.evaluated.node_emb.weight.detach().clone()), validate())[1]
    trainer.fit()
    assert len(after_steps) > 2 and len(validated) == 2
    expected = after_steps[0]
    for weights in after_steps[1:]:
        expected = 0.8 * expected + 0.2 * weights
    assert torch.allclose(validated[-1], expected, atol=1e-6)
    assert not torch.allclose(validated[-1], after_steps[-1], atol=1e-4)  # not the raw weights
    best = validated[trainer.result.best_epoch - 1]  # model.pt, restored after training, holds the average
    assert torch.equal(torch.load(tmp_path / "model.pt")["state_dict"]["node_emb.weight"], best)
    assert torch.equal(trainer.model.node_emb.weight.detach(), best)
    with pytest.raises(ConfigError, match="ema"):
        TrainConfig(ema=1.0)


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
    with pytest.raises(ConfigError, match="train.metric 'ndcg@20' is not computed"):
        Trainer(build_model(graph, MODEL), parts, dataset.n_items, TrainConfig(), EvalConfig(ks=(5, 10)), progress=False)
