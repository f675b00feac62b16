"""The joint model: LightGCN as its special case, the ablation switches, and learning planted structure."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from kgrec.config import EvalConfig, ModelConfig, TrainConfig
from kgrec.evaluation.ranking import evaluate_ranking
from kgrec.models.baselines import LightGCN, build_model, item_popularity
from kgrec.models.kgrec import KGRec
from kgrec.training.trainer import Trainer
from tests.models.planted import planted_split_graph


@pytest.fixture(scope="module")
def planted():
    return planted_split_graph()


def test_without_kg_and_attention_it_is_exactly_lightgcn(planted) -> None:
    _, _, graph = planted
    config = ModelConfig(use_kg=False, attention=False, aggregator="mean", layers=3, dim=8)
    ours, reference = KGRec(graph, config), LightGCN(graph, config)
    with torch.no_grad():
        reference.net.embedding.weight.copy_(ours.node_emb.weight[: graph.n_users + graph.n_items])
    for mine, theirs in zip(ours.embeddings(), reference.embeddings()):
        assert torch.allclose(mine, theirs, atol=1e-6)


def test_ablation_switches_change_the_graph_and_the_loss(planted) -> None:
    _, _, graph = planted
    full = KGRec(graph, ModelConfig(dim=8))
    no_kg = KGRec(graph, ModelConfig(dim=8, use_kg=False))
    assert full.edge_index.size(1) == graph.data.edge_index.size(1)
    assert no_kg.edge_index.size(1) == int((graph.data.edge_type % (graph.num_relations // 2) == 0).sum())
    transe = KGRec(graph, ModelConfig(dim=8, kge="transe"))
    assert torch.count_nonzero(transe.kge.normals(torch.tensor([1]))) == 0
    users, items = torch.tensor([0, 1]), torch.tensor([0, 1])
    _, parts = full.loss(users, items, items.flip(0))
    _, parts_no_kg_loss = KGRec(graph, ModelConfig(dim=8, lambda_kg=0.0)).loss(users, items, items.flip(0))
    assert "kg" in parts and "kg" not in parts_no_kg_loss
    assert full.attention_logits() is not None and KGRec(graph, ModelConfig(dim=8, attention=False)).attention_logits() is None


@pytest.mark.parametrize("model", ["kgrec", "lightgcn", "bprmf"])
def test_short_training_decreases_loss_and_beats_pop(planted, model: str) -> None:
    dataset, parts, graph = planted
    torch.manual_seed(0)
    config = ModelConfig(model=model, dim=16, layers=2, lambda_kg=0.1)
    recommender = build_model(graph, config)
    trainer = Trainer(
        recommender, parts, dataset.n_items, TrainConfig(epochs=40, batch_size=64, lr=0.02, patience=40, num_threads=1, metric="ndcg@5"),
        EvalConfig(ks=(5,)), progress=False,
    )
    result = trainer.fit()
    assert result.history[-1]["loss"] < 0.5 * result.history[0]["loss"]
    pop = build_model(graph, dataclasses.replace(config, model="pop"))
    scores = {}
    for name, scorer in (("model", recommender), ("pop", pop)):
        scorer.eval()
        metrics = evaluate_ranking(scorer.score_users, parts.test, [parts.train, parts.valid], dataset.n_items, (5,))
        scores[name] = metrics["ndcg@5"]
    assert scores["model"] > scores["pop"] + 0.1, scores


def test_item_popularity_counts_training_interactions(planted) -> None:
    _, parts, graph = planted
    popularity = item_popularity(graph)
    assert popularity.sum() == len(parts.train)
    assert popularity[int(parts.train.item[0])] == int((parts.train.item == parts.train.item[0]).sum())
