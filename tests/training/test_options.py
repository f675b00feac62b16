"""Training options: several negatives per positive, hardest negatives, MixGCF's synthesised negatives,
sampled softmax, normalised scores, learning-rate decay on plateau, the cosine schedule, KG edge weight."""

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
from kgrec.models.kgrec import KGRec, mixgcf_batch_layers
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


def test_hardest_negative_keeps_only_the_highest_scoring_of_the_m(a_batch) -> None:
    model, users, positives, negatives = a_batch
    loss, _ = model.loss(users, positives, negatives, Objective(negative_choice="hardest"))
    u, i = model.user_emb.weight.detach(), model.item_emb.weight.detach()
    by_hand = []
    for b in range(2):
        scores = [float(u[users[b]] @ i[n]) for n in negatives[b]]
        hardest = negatives[b, int(np.argmax(scores))]
        by_hand.append(-F.logsigmoid(u[users[b]] @ i[positives[b]] - u[users[b]] @ i[hardest]))
    assert loss.item() == pytest.approx(torch.stack(by_hand).mean().item(), rel=1e-6)
    assert loss.item() > model.loss(users, positives, negatives)[0].item()  # the hardest pair costs more than the mean


def test_mixgcf_mixes_each_layer_with_the_positive_and_keeps_the_hardest_per_layer() -> None:
    # nodes: 0 = user, 1 = positive, 2 and 3 = candidates; two layers (0 and 1) in 2-d
    layers = torch.tensor([
        [[1.0, 0.0], [0.0, 1.0]],   # user
        [[2.0, 0.0], [0.0, 2.0]],   # positive
        [[-1.0, 0.0], [0.0, 4.0]],  # candidate 2
        [[1.0, 1.0], [0.0, -4.0]],  # candidate 3
    ])
    beta = torch.rand(1, 1, 2, 1, generator=torch.Generator().manual_seed(5)).flatten().tolist()
    user, positive, mixed = mixgcf_batch_layers(layers.unbind(1), torch.tensor([0]), torch.tensor([1]), torch.tensor([[2, 3]]),
                                                generator=torch.Generator().manual_seed(5))
    user, positive, mixed = (torch.stack(rows, dim=1) for rows in (user, positive, mixed))  # [B, L+1, d]
    assert torch.equal(user[0], layers[0]) and torch.equal(positive[0], layers[1])
    expected = []
    for layer, b in enumerate(beta):
        candidates = [b * layers[1, layer] + (1 - b) * layers[c, layer] for c in (2, 3)]
        scores = [float(layers[0, layer] @ c) for c in candidates]
        expected.append(candidates[int(np.argmax(scores))])
    assert torch.allclose(mixed[0], torch.stack(expected))
    # layer 0 picks candidate 3 (x = b·2 + (1 − b) > b·2 − (1 − b)), layer 1 candidate 2 (y = 2b + 4(1 − b) > 2b − 4(1 − b))
    assert torch.allclose(mixed[0, 0], beta[0] * layers[1, 0] + (1 - beta[0]) * layers[3, 0])
    assert torch.allclose(mixed[0, 1], beta[1] * layers[1, 1] + (1 - beta[1]) * layers[2, 1])


def test_mixgcf_loss_is_bpr_against_the_synthesised_negative(parts_and_graph) -> None:
    _, _, graph = parts_and_graph
    model = KGRec(graph, ModelConfig(dim=4, layers=2, l2=0.0, lambda_kg=0.0, attention=False))
    users, positives, negatives = torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([[5, 6, 7], [8, 9, 10]])
    torch.manual_seed(3)
    loss, _ = model.loss(users, positives, negatives, Objective(negative_choice="mixgcf"))
    layers = torch.stack(model._layer_outputs(model.edge_index, model.edge_weight()), dim=1).detach()
    torch.manual_seed(3)
    negative_rows = mixgcf_batch_layers(layers.unbind(1), users, positives + graph.n_users, negatives + graph.n_users)[2]
    negative = torch.stack(negative_rows, dim=1).mean(1)
    user, positive = layers[users].mean(1), layers[positives + graph.n_users].mean(1)
    by_hand = -F.logsigmoid((user * positive).sum(-1) - (user * negative).sum(-1)).mean()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_mixgcf_needs_a_model_with_layers(parts_and_graph) -> None:
    dataset, parts, graph = parts_and_graph
    with pytest.raises(ConfigError, match="mixgcf"):
        Trainer(BPRMF(graph, ModelConfig(dim=4)), parts, dataset.n_items, TrainConfig(negative_choice="mixgcf", num_threads=1),
                EvalConfig(), progress=False)


def test_sampled_softmax_is_the_cross_entropy_of_the_positive_against_its_negatives(a_batch) -> None:
    model, users, positives, negatives = a_batch
    loss, parts = model.loss(users, positives, negatives, Objective(loss="softmax", temperature=0.5))
    u, i = model.user_emb.weight.detach().double(), model.item_emb.weight.detach().double()
    by_hand = 0.0
    for b in range(2):
        logits = [float(u[users[b]] @ i[j]) / 0.5 for j in [positives[b], *negatives[b]]]
        by_hand += -(logits[0] - np.log(np.sum(np.exp(logits)))) / 2
    assert loss.item() == pytest.approx(by_hand, rel=1e-5) and parts["softmax"] == pytest.approx(by_hand, rel=1e-5)


def test_normalised_kgrec_scores_are_cosines(parts_and_graph) -> None:
    _, _, graph = parts_and_graph
    torch.manual_seed(0)
    config = ModelConfig(dim=8, layers=2, normalize=True)
    model, plain = KGRec(graph, config), KGRec(graph, ModelConfig(dim=8, layers=2))
    plain.load_state_dict(model.state_dict())
    model.eval(), plain.eval()
    (users, items), (raw_users, raw_items) = model.embeddings(), plain.embeddings()
    assert torch.allclose(users.norm(dim=-1), torch.ones(len(users)), atol=1e-6)
    cosine = F.cosine_similarity(raw_users[:, None], raw_items[None], dim=-1)
    assert torch.allclose(model.score_users(torch.arange(len(users))), cosine, atol=1e-5)

def test_negative_choice_is_checked() -> None:
    from kgrec.errors import ConfigError

    with pytest.raises(ConfigError, match="negative_choice: expected one of all, hardest"):
        TrainConfig(negative_choice="hard")
    with pytest.raises(ConfigError, match="loss: expected one of bpr, softmax"):
        TrainConfig(loss="ce")
    with pytest.raises(ConfigError, match="temperature"):
        TrainConfig(temperature=0)

def test_learning_rate_halves_after_the_plateau_patience(parts_and_graph, tmp_path) -> None:
    dataset, parts, graph = parts_and_graph
    torch.manual_seed(0)
    config = TrainConfig(epochs=12, batch_size=32, lr=0.01, lr_decay=0.5, lr_decay_patience=1, patience=100,
                         num_threads=1, metric="ndcg@5")
    trainer = Trainer(build_model(graph, ModelConfig(model="bprmf", dim=4)), parts, dataset.n_items, config,
                      EvalConfig(ks=(5,)), tmp_path, progress=False)
    trainer.fit()
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    rates = [float(r["lr"]) for r in rows]
    valid = [float(r["valid_ndcg@5"]) for r in rows]
    best, stale, expected = -1.0, 0, []
    lr = 0.01
    for value in valid:  # ReduceLROnPlateau(mode="max", patience=1, threshold 1e-4 relative)
        if value > best * (1 + 1e-4):
            best, stale = value, 0
        else:
            stale += 1
            if stale > 1:
                lr, stale = lr * 0.5, 0
        expected.append(lr)
    assert rates == pytest.approx(expected)
    assert min(rates) < 0.01


def test_cosine_schedule_anneals_to_the_floor_and_stays() -> None:
    assert cosine_factor(0, epochs=10, floor=0.1) == 1.0
    assert cosine_factor(5, epochs=10, floor=0.1) == pytest.approx(0.55)  # halfway: (1 + floor) / 2
    assert cosine_factor(10, epochs=10, floor=0.1) == pytest.approx(0.1)
    assert cosine_factor(25, epochs=10, floor=0.1) == pytest.approx(0.1)  # not back up: a half cosine, then flat
    with pytest.raises(ConfigError, match="lr_cosine_floor"):
        TrainConfig(lr_cosine_epochs=10, lr_cosine_floor=1.5)
    with pytest.raises(ConfigError, match="lr_cosine_epochs: expected 0 while lr_decay is below 1"):
        TrainConfig(lr_cosine_epochs=10, lr_decay=0.5)
    with pytest.raises(ConfigError, match="lr_cosine_epochs"):
        TrainConfig(lr_cosine_epochs=-1)


def test_kg_weight_scales_only_the_kg_edges(parts_and_graph) -> None:
    _, _, graph = parts_and_graph
    plain = KGRec(graph, ModelConfig(dim=4, layers=1, attention=False)).edge_weight()
    scaled_model = KGRec(graph, ModelConfig(dim=4, layers=1, attention=False, kg_weight=0.25))
    scaled = scaled_model.edge_weight()
    half = graph.num_relations // 2
    interact = ((scaled_model.edge_type == 0) | (scaled_model.edge_type == half)).numpy()
    assert np.allclose(scaled.numpy()[interact], plain.numpy()[interact])
    assert np.allclose(scaled.numpy()[~interact], 0.25 * plain.numpy()[~interact])
