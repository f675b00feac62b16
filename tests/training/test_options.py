"""Training options: several negatives per positive, the sampled softmax, the cosine learning-rate schedule."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kgrec.config import EvalConfig, ModelConfig, TrainConfig
from kgrec.data.sampling import NegativeSampler
from kgrec.errors import ConfigError
from kgrec.models.base import Objective
from kgrec.models.baselines import BPRMF, build_model
from kgrec.training.trainer import Trainer, cosine_factor
from tests.models.planted import planted_split_graph


@pytest.fixture(scope="module")
def parts_and_graph():
    return planted_split_graph()


@pytest.fixture
def a_batch(parts_and_graph):
    """An untrained dim-4 BPR-MF without L2, two users, their positives and three negatives each."""
    _, _, graph = parts_and_graph
    torch.manual_seed(0)
    model = BPRMF(graph, ModelConfig(dim=4, l2=0.0))
    return model, torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([[5, 6, 7], [8, 9, 10]])


def test_sampler_gives_m_negatives_outside_the_training_items(parts_and_graph) -> None:
    dataset, parts, _ = parts_and_graph
    sampler = NegativeSampler(parts.train, dataset.n_items, seed=0)
    batches = sampler.epoch(parts.train, 16, negatives_per_positive=3)
    known = set(zip(parts.train.user.tolist(), parts.train.item.tolist()))
    for users, _, negatives in batches:
        assert negatives.shape == (len(users), 3)
        assert not any((u, n) in known for u, row in zip(users.tolist(), negatives.tolist()) for n in row)


def test_bpr_with_m_negatives_is_the_mean_of_the_single_negative_losses(a_batch) -> None:
    model, users, positives, negatives = a_batch
    loss, _ = model.loss(users, positives, negatives)
    u, i = model.user_emb.weight, model.item_emb.weight
    by_hand = torch.stack([
        -F.logsigmoid((u[users[b]] * i[positives[b]]).sum() - (u[users[b]] * i[negatives[b, k]]).sum())
        for b in range(2) for k in range(3)
    ]).mean()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)


def test_sampled_softmax_is_the_cross_entropy_of_the_positive_against_its_negatives(a_batch) -> None:
    model, users, positives, negatives = a_batch
    loss, parts = model.loss(users, positives, negatives, Objective(loss="softmax"))
    u, i = model.user_emb.weight.detach().double(), model.item_emb.weight.detach().double()
    by_hand = 0.0
    for b in range(2):
        logits = [float(u[users[b]] @ i[j]) for j in [positives[b], *negatives[b]]]
        by_hand += -(logits[0] - np.log(np.sum(np.exp(logits)))) / 2
    assert loss.item() == pytest.approx(by_hand, rel=1e-5) and parts["softmax"] == pytest.approx(by_hand, rel=1e-5)


def test_loss_is_checked() -> None:
    with pytest.raises(ConfigError, match="loss: expected one of bpr, softmax, got 'ce'"):
        TrainConfig(loss="ce")

def test_cosine_schedule_anneals_to_the_floor_and_stays() -> None:
    assert cosine_factor(0, epochs=10) == 1.0
    assert cosine_factor(5, epochs=10) == pytest.approx(0.525)  # halfway: (1 + 0.05) / 2
    assert cosine_factor(10, epochs=10) == pytest.approx(0.05)
    assert cosine_factor(25, epochs=10) == pytest.approx(0.05)  # not back up: a half cosine, then flat
    assert cosine_factor(5, epochs=10, floor=0.1) == pytest.approx(0.55)
    with pytest.raises(ConfigError, match="lr_cosine_epochs"):
        TrainConfig(lr_cosine_epochs=-1)


def test_cosine_schedule_sets_each_epochs_rate(parts_and_graph, tmp_path) -> None:
    """history.csv's lr after epoch e is lr · cosine_factor(e, T): the schedule steps once per epoch."""
    dataset, parts, graph = parts_and_graph
    config = TrainConfig(epochs=5, batch_size=32, lr=0.01, lr_cosine_epochs=4, patience=100, num_threads=1,
                         metric="ndcg@5", loss="bpr", negatives=1)
    trainer = Trainer(build_model(graph, ModelConfig(model="bprmf", dim=4)), parts, dataset.n_items, config,
                      EvalConfig(ks=(5,)), tmp_path, progress=False)
    trainer.fit()
    rates = [float(row["lr"]) for row in csv.DictReader((tmp_path / "history.csv").open())]
    halfway = 0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * 2 / 4))  # after epoch 2 of 4
    assert rates == pytest.approx([0.01 * f for f in (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi / 4)), halfway,
                                                          0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * 3 / 4)), 0.05, 0.05)])


