"""Neighbour sampling (``train.sampling = "neighbor"``): the sampler against a hand-drawn CKG, sampled
propagation against the full graph, fan-out limits, reproducibility, and a sampled ``kgrec train``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch_geometric.loader import NodeLoader
from torch_geometric.sampler import NodeSamplerInput

from kgrec.config import EvalConfig, ModelConfig, RunConfig, TrainConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.errors import ConfigError
from kgrec.models.baselines import BPRMF
from kgrec.models.kgrec import KGRec
from kgrec.pipeline import variant_overrides
from kgrec.training.neighbors import NeighborSampler, _floyd_sample, neighbor_sampler, sampled_loss
from kgrec.training.trainer import Trainer
from tests.cli_runner import FAST, kgrec
from tests.models.planted import planted_split_graph, write_planted_files


@pytest.fixture(scope="module")
def drawn() -> CollaborativeKG:
    """Three users, four items (entities E1–E4), genres rock and jazz, a director mann; every edge also has
    its inverse, so a node's in-neighbours are its neighbours in this drawing:

        ua — i1 — rock — i2 — ub — i3 — jazz — i4 — uc
         \\__________________/        |
                                     mann
    (ua likes i1 and i2, ub i2 and i3, uc i4; i1, i2 are rock, i3, i4 jazz; mann directed i3)
    """
    interactions = pd.DataFrame({"user": ["ua", "ua", "ub", "ub", "uc"], "item": ["i1", "i2", "i2", "i3", "i4"]})
    triples = pd.DataFrame({"head": ["E1", "E2", "E3", "E4", "E3"], "relation": ["genre", "genre", "genre", "genre", "directed_by"],
                            "tail": ["rock", "rock", "jazz", "jazz", "mann"]})
    links = pd.DataFrame({"item": ["i1", "i2", "i3", "i4"], "entity": ["E1", "E2", "E3", "E4"]})
    dataset = RecDataset.from_frames("drawn", interactions, triples, links)
    return CollaborativeKG.build(dataset, dataset.interactions)


def node_ids(graph: CollaborativeKG) -> dict[str, int]:
    return {graph.node_raw(node): node for node in range(graph.num_nodes)}


def hop_sets(sample, names: dict[int, str]) -> list[set[str]]:
    """The names of the nodes each hop of ``sample`` reached first (hop 0: the seeds)."""
    ends = torch.tensor(sample.num_sampled_nodes).cumsum(0).tolist()
    return [{names[int(n)] for n in sample.node[start:end]} for start, end in zip([0, *ends[:-1]], ends)]


def test_full_fanout_samples_exactly_the_hand_computed_in_neighbourhoods(drawn: CollaborativeKG) -> None:
    ids = node_ids(drawn)
    names = {node: name for name, node in ids.items()}
    model = KGRec(drawn, ModelConfig(dim=8, layers=3))
    sampler = NeighborSampler(model.edge_index, model.num_nodes, [-1, -1, -1])
    sample = sampler.sample_from_nodes(NodeSamplerInput(None, torch.tensor(sorted([ids["ua"], ids["i3"]]))))
    assert hop_sets(sample, names) == [{"ua", "i3"}, {"i1", "i2", "ub", "jazz", "mann"}, {"rock", "i4"}, {"uc"}]
    # every in-edge of the nodes within 2 hops, once: ua 2 + i3 3, then i1 2, i2 3, ub 2, jazz 2, mann 1, then rock 2, i4 2
    assert sample.num_sampled_edges == [5, 10, 4]
    assert torch.unique(sample.edge).numel() == sample.edge.numel() == 19
    # each sampled edge is the model's edge it names, renumbered into sample.node
    assert torch.equal(model.edge_index[:, sample.edge], torch.stack([sample.node[sample.row], sample.node[sample.col]]))
    targets = {names[int(n)] for n in sample.node[sample.col]}
    assert targets == {"ua", "i3", "i1", "i2", "ub", "jazz", "mann", "rock", "i4"}  # not uc: 3 hops away


@pytest.mark.parametrize("options", [{}, {"attention": False}, {"aggregator": "bi"}, {"use_kg": False}])
def test_full_fanout_propagation_equals_the_full_graph_for_the_seeds(drawn: CollaborativeKG, options: dict) -> None:
    torch.manual_seed(0)
    model = KGRec(drawn, ModelConfig(dim=8, layers=3, **options)).train()
    sampler = NeighborSampler(model.edge_index, model.num_nodes, [-1, -1, -1])
    full = model.propagate()
    for seeds in ([0], [0, 5], list(range(drawn.num_nodes))):
        sample = sampler.sample_from_nodes(NodeSamplerInput(None, torch.tensor(seeds)))
        sampled = model.propagate_sample(sample)[: len(seeds)]
        assert torch.allclose(sampled, full[seeds], atol=1e-6), seeds


def test_full_fanout_sampled_loss_and_gradient_equal_the_full_graphs(drawn: CollaborativeKG) -> None:
    users, positives, negatives = torch.tensor([0, 1, 2]), torch.tensor([0, 2, 3]), torch.tensor([[3, 2], [0, 0], [1, 2]])
    model = KGRec(drawn, ModelConfig(dim=8, layers=2)).train()
    sampler = NeighborSampler(model.edge_index, model.num_nodes, [-1, -1])
    results = []
    for step in (model.loss, lambda *batch: sampled_loss(model, sampler, *batch)):
        model.zero_grad()
        torch.manual_seed(1)  # the same KG triples for TransH's loss
        loss, parts = step(users, positives, negatives)
        loss.backward()
        results.append((loss.detach(), parts, model.node_emb.weight.grad.clone()))
    (full_loss, full_parts, full_grad), (loss, parts, grad) = results
    assert parts.keys() == full_parts.keys() == {"bpr", "l2", "kg"}
    assert torch.allclose(loss, full_loss, atol=1e-6) and torch.allclose(grad, full_grad, atol=1e-6)


def test_small_fanout_keeps_at_most_fanout_in_edges_per_node_and_is_reproducible() -> None:
    _, _, graph = planted_split_graph()
    model = KGRec(graph, ModelConfig(dim=8, layers=3))
    degree = torch.bincount(model.edge_index[1], minlength=model.num_nodes)
    seeds = NodeSamplerInput(None, torch.tensor([0, 5, 50, 60]))
    draws = [NeighborSampler(model.edge_index, model.num_nodes, [3, 2, -1], seed=7).sample_from_nodes(seeds) for _ in range(2)]
    other = NeighborSampler(model.edge_index, model.num_nodes, [3, 2, -1], seed=8).sample_from_nodes(seeds)
    sample = draws[0]
    assert all(torch.equal(getattr(draws[0], key), getattr(draws[1], key)) for key in ("node", "row", "col", "edge"))
    assert not torch.equal(sample.edge, other.edge)
    assert torch.equal(model.edge_index[:, sample.edge], torch.stack([sample.node[sample.row], sample.node[sample.col]]))
    assert torch.unique(sample.edge).numel() == sample.edge.numel()
    starts = torch.tensor([0, *sample.num_sampled_edges]).cumsum(0).tolist()
    for hop, fanout in enumerate([3, 2, -1]):
        targets = sample.node[sample.col[starts[hop] : starts[hop + 1]]]
        nodes, counts = torch.unique(targets, return_counts=True)
        expected = degree[nodes] if fanout < 0 else degree[nodes].clamp_max(fanout)
        assert torch.equal(counts, expected), hop  # fan-out kept, every in-edge where there are no more
    assert sample.edge.numel() < int(degree[sample.node].sum())  # something was left out
    bounded = NeighborSampler(model.edge_index, model.num_nodes, [3, 2], seed=7).sample_from_nodes(seeds)
    assert bounded.edge.numel() <= 4 * (3 + 3 * 2) and bounded.node.numel() <= 4 * (1 + 3 + 3 * 2)  # batch × fan-outs


def test_floyd_sample_draws_distinct_uniform_subsets() -> None:
    generator = torch.Generator().manual_seed(0)
    chosen = _floyd_sample(torch.full((20000,), 5), 2, generator)
    assert bool((chosen[:, 0] != chosen[:, 1]).all()) and int(chosen.min()) == 0 and int(chosen.max()) == 4
    frequency = torch.bincount(chosen.reshape(-1), minlength=5) / 20000
    assert torch.allclose(frequency, torch.full((5,), 0.4), atol=0.02)


def test_pygs_node_loader_drives_the_sampler(drawn: CollaborativeKG) -> None:
    sampler = NeighborSampler(drawn.data.edge_index, drawn.num_nodes, [-1, -1])
    loader = NodeLoader(drawn.data, sampler, input_nodes=torch.tensor([0, 1]), batch_size=2)
    batch = next(iter(loader))
    direct = sampler.sample_from_nodes(NodeSamplerInput(None, torch.tensor([0, 1])))
    assert torch.equal(batch.n_id, direct.node) and torch.equal(batch.e_id, direct.edge)
    assert torch.equal(batch.edge_index, torch.stack([direct.row, direct.col])) and batch.batch_size == 2


def test_sampled_training_learns_and_a_model_it_does_not_apply_to_is_refused() -> None:
    dataset, parts, graph = planted_split_graph()
    config = TrainConfig(epochs=5, batch_size=64, lr=0.02, num_threads=1, metric="ndcg@5", sampling="neighbor", fanout=(4, 4))
    torch.manual_seed(0)
    trainer = Trainer(KGRec(graph, ModelConfig(dim=16, layers=2, lambda_kg=0.1)), parts, dataset.n_items, config,
                      EvalConfig(ks=(5,)), progress=False)
    result = trainer.fit()
    assert result.history[-1]["loss"] < result.history[0]["loss"] and result.best_valid > 0
    with pytest.raises(ConfigError, match="^train.sampling: neighbor applies to the kgrec model only, not to BPRMF"):
        neighbor_sampler(BPRMF(graph, ModelConfig(dim=8)), config)
    with pytest.raises(ConfigError, match=r"^train.fanout: \[4, 4\] has 2 values and the model has 3 layers"):
        neighbor_sampler(KGRec(graph, ModelConfig(dim=8, layers=3)), config)


def test_a_resumed_sampled_run_draws_the_same_samples(tmp_path: Path) -> None:
    dataset, parts, graph = planted_split_graph()

    def fit(epochs: int, run_dir: Path, resume: Path | None = None) -> list[float]:
        config = TrainConfig(epochs=epochs, batch_size=64, num_threads=1, metric="ndcg@5", sampling="neighbor", fanout=(3, 3))
        torch.manual_seed(0)
        model = KGRec(graph, ModelConfig(dim=8, layers=2))
        trainer = Trainer(model, parts, dataset.n_items, config, EvalConfig(ks=(5,)), run_dir, progress=False)
        return [row["loss"] for row in trainer.fit(resume).history]

    straight = fit(4, tmp_path / "straight")
    fit(2, tmp_path / "killed")
    assert fit(4, tmp_path / "killed", tmp_path / "killed" / "last.pt") == straight


def test_config_checks_sampling_against_the_model() -> None:
    with pytest.raises(ConfigError, match=r"^train.fanout: \[5, 5\] has 2 values and model.layers is 4: give one fan-out per layer"):
        RunConfig(train=TrainConfig(sampling="neighbor", fanout=(5, 5)))
    with pytest.raises(ConfigError, match="^train.sampling: neighbor applies to the kgrec model only, not to lightgcn"):
        RunConfig(model=ModelConfig(model="lightgcn"), train=TrainConfig(sampling="neighbor"))
    with pytest.raises(ConfigError, match=r"^fanout: expected values that are each -1 \(every neighbour\) or at least 1, got \[10, 0\]"):
        TrainConfig(fanout=(10, 0))
    RunConfig(model=ModelConfig(layers=2), train=TrainConfig(fanout=(5,)))  # full propagation reads no fan-outs
    sampled = RunConfig(train=TrainConfig(sampling="neighbor"))
    assert variant_overrides(sampled, "bprmf")[-1] == "train.sampling=full"  # baselines propagate in full
    assert variant_overrides(sampled, "no_kg") == ["model.use_kg=false"]
    assert "train.sampling=full" not in variant_overrides(dataclasses.replace(sampled, train=TrainConfig()), "bprmf")


def test_cli_trains_with_sampling_then_evaluates_and_explains_on_the_full_graph(tmp_path: Path) -> None:
    dataset = write_planted_files(tmp_path / "planted")
    run = tmp_path / "run"
    sampling = ["--set", "train.sampling=neighbor", "--set", "model.layers=2", "--set", "train.fanout=[5, -1]"]
    result = kgrec("train", str(dataset), *FAST, *sampling, "--out", str(run), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and 0.0 <= metrics["test"]["ndcg@5"] <= 1.0
    assert "sampling: neighbor" in (run / "config.yaml").read_text()
    evaluated = kgrec("evaluate", str(run), cwd=tmp_path, timeout=300)  # the saved model ranks with the full graph
    assert evaluated.returncode == 0, evaluated.stderr
    printed = {line.split()[0]: float(line.split()[1]) for line in evaluated.stdout.splitlines()[2:]}
    assert printed["ndcg@5"] == pytest.approx(metrics["test"]["ndcg@5"], abs=1e-4)
    user = (run / "split" / "train.tsv").read_text().split("\t", 1)[0]
    result = kgrec("recommend", str(run), "--user", user, "-k", "5", "--explain", "--format", "json", cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    recommendations = json.loads(result.stdout)["recommendations"]
    assert len(recommendations) == 5 and all(r["text"] for r in recommendations) and any(r["paths"] for r in recommendations)
    refused = kgrec("train", str(dataset), *FAST, "--model", "bprmf", "--set", "train.sampling=neighbor", "--out", str(tmp_path / "x"),
                    cwd=tmp_path, timeout=300)
    assert refused.returncode == 2 and "train.sampling: neighbor applies to the kgrec model only" in refused.stderr
