"""The joint model: LightGCN as its special case, the ablation switches, and learning planted structure."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_geometric.nn.models import LightGCN as PygLightGCN

from kgrec.config import EvalConfig, ModelConfig, TrainConfig
from kgrec.evaluation.ranking import evaluate_ranking
from kgrec.models.baselines import LightGCN, build_model, item_popularity
from kgrec.models.kgrec import KGRec, _CountedSquaredNorm
from kgrec.models.sparse import AdjacencyPattern
from kgrec.training.trainer import Trainer
from tests.models.planted import planted_split_graph


@pytest.fixture(scope="module")
def planted():
    return planted_split_graph()


def test_without_kg_and_attention_it_is_exactly_lightgcn(planted) -> None:
    _, _, graph = planted
    config = ModelConfig(use_kg=False, attention=False, aggregator="mean", layers=3, dim=8, norm_target=0.5,
                         norm_source=0.5)
    ours, reference = KGRec(graph, config), LightGCN(graph, config)
    with torch.no_grad():
        reference.net.embedding.weight.copy_(ours.node_emb.weight[: graph.n_users + graph.n_items])
    for mine, theirs in zip(ours.embeddings(), reference.embeddings()):
        assert torch.allclose(mine, theirs, atol=1e-6)


def test_lightgcn_on_its_csr_adjacency_equals_pygs_edge_list_propagation(planted) -> None:
    """The baseline hands PyG's layers a CSR adjacency; the values equal PyG's own per-edge propagation, with
    every edge and with some left out (``embeddings_without``), and so do the gradients."""
    _, _, graph = planted
    model = LightGCN(graph, ModelConfig(layers=3, dim=8))
    reference = PygLightGCN(graph.n_users + graph.n_items, 8, 3)  # PyG's own, normalising in every layer
    reference.load_state_dict(model.net.state_dict())
    users = graph.n_users
    by_edges = reference.get_embedding(model.edge_index)
    assert torch.allclose(torch.cat(model.embeddings()), by_edges, atol=1e-6)
    dropped = torch.zeros(model.edge_index.size(1), dtype=torch.bool)
    dropped[::3] = True
    kept = reference.get_embedding(model.edge_index[:, ~dropped])
    without = torch.cat(model.embeddings_without(dropped))
    assert torch.allclose(without, kept, atol=1e-6) and not torch.allclose(without, by_edges, atol=1e-3)
    for net, graph_input in ((model.net, model.adjacency()), (reference, model.edge_index)):
        net.zero_grad()
        net.get_embedding(graph_input)[:users].pow(2).sum().backward()
    assert torch.allclose(model.net.embedding.weight.grad, reference.embedding.weight.grad, atol=1e-5)


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


def test_epoch_attention_is_computed_once_each_time_the_model_enters_training_mode(planted) -> None:
    """``attention_refresh="epoch"`` keeps the weights of the first training step until ``train()`` is
    called again (the trainer's epoch boundary); ``"step"`` follows the embeddings at once."""
    _, _, graph = planted
    per_epoch = KGRec(graph, ModelConfig(dim=8, attention_refresh="epoch")).train()
    per_step = KGRec(graph, ModelConfig(dim=8, attention_refresh="step")).train()
    per_step.load_state_dict(per_epoch.state_dict())
    first = per_epoch.training_edge_weight()
    assert torch.equal(per_step.training_edge_weight(), first)
    for model in (per_epoch, per_step):
        with torch.no_grad():
            model.node_emb.weight.mul_(-2.0).add_(0.3)  # another attention
    fresh = per_epoch.edge_weight()
    assert not torch.allclose(fresh, first, atol=1e-4)
    assert torch.equal(per_epoch.training_edge_weight(), first)  # stale within the epoch
    assert torch.equal(per_step.training_edge_weight(), fresh)
    assert torch.equal(per_epoch.eval().training_edge_weight(), fresh)  # evaluation always sees the current one
    assert torch.equal(per_epoch.train().training_edge_weight(), fresh)  # the next epoch starts afresh
    from kgrec.errors import ConfigError

    with pytest.raises(ConfigError, match="attention_refresh: expected one of step, epoch, got 'batch'"):
        ModelConfig(attention_refresh="batch")


def test_an_epochs_steps_share_one_weighted_adjacency_and_propagate_as_per_edge_messages(planted) -> None:
    """With ``attention_refresh="epoch"`` the sparse adjacency is built once per epoch (same weights, same
    object) and rebuilt when the weights change; the running mean of the layers equals the mean of PyG's
    per-edge propagation, layer by layer."""
    _, _, graph = planted
    model = KGRec(graph, ModelConfig(dim=8, layers=3, attention_refresh="epoch")).train()
    weight = model.training_edge_weight()
    first = model._weighted_adjacency(model.edge_index, weight, model.num_nodes)
    assert model._weighted_adjacency(model.edge_index, model.training_edge_weight(), model.num_nodes) is first
    model.train()  # the next epoch: new weights, a new adjacency
    assert model._weighted_adjacency(model.edge_index, model.training_edge_weight(), model.num_nodes) is not first
    layers = [model.node_emb.weight]
    for conv in model.convs:
        layers.append(conv(layers[-1], model.edge_index, weight))  # per-edge messages
    expected = torch.stack(layers).mean(dim=0)
    with torch.no_grad():
        assert torch.allclose(model.propagate(weight), expected, atol=1e-6)
        users, items = model.embeddings()
    assert torch.allclose(users, expected[: graph.n_users], atol=1e-6)
    assert torch.allclose(items, expected[graph.n_users : graph.n_users + graph.n_items], atol=1e-6)


def test_training_steps_propagate_in_the_models_kept_buffers_with_the_layer_loops_bits(planted) -> None:
    """A training step's propagation is the layers propagated and summed one by one (values and gradients,
    bit for bit), its layers written into the same buffers at every step; evaluation releases them and keeps
    none of its own."""
    _, _, graph = planted
    model = KGRec(graph, ModelConfig(dim=8, layers=3, attention=False)).train()
    weight = model.training_edge_weight()
    adjacency = AdjacencyPattern(model.edge_index, model.num_nodes).weighted(weight)
    upstream = torch.randn(model.num_nodes, 8, generator=torch.Generator().manual_seed(0))
    table = model.node_emb.weight
    total, layer = table, table
    for depth, conv in enumerate(model.convs):
        layer = conv(layer, adjacency)
        total = total + layer if depth == 0 else total.add_(layer)
    expected = total / 4
    expected_grad, = torch.autograd.grad((expected * upstream).sum(), table)
    kept = []
    for _ in range(2):
        model.node_emb.weight.grad = None
        out = model.propagate()
        (out * upstream).sum().backward()
        assert torch.equal(out, expected) and torch.equal(table.grad, expected_grad)
        kept.append(model._layer_buffers.get("even", out).data_ptr())
    assert kept[0] == kept[1] and len(model._layer_buffers) == 2
    with torch.no_grad():
        assert torch.equal(model.eval().propagate(), expected)
    assert len(model._layer_buffers) == 0


def test_the_l2_term_has_autograds_value_and_gradients_bit_for_bit(monkeypatch) -> None:
    """The L2 term squares a block of rows at a time and hands the table two gradients: its value and the
    table's gradient (beside another use of the table) equal autograd's counts @ (w * w).sum(-1)'s."""
    monkeypatch.setattr(_CountedSquaredNorm, "BLOCK", 3)  # 10 rows: blocks of 3, 3, 3 and 1
    generator = torch.Generator().manual_seed(0)
    weight, counts = torch.randn(10, 6, generator=generator), torch.tensor([0.0, 1, 2, 0, 5, 1, 1, 0, 3, 1])
    results = []
    for norm in (lambda w: counts @ (w * w).sum(dim=-1), lambda w: _CountedSquaredNorm.apply(counts, w, w)):
        w = weight.clone().requires_grad_()
        value = norm(w)
        (0.37 * value + w.sin().sum()).backward()
        results.append((value.detach(), w.grad))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    assert results[1][0].item() == pytest.approx(float(counts @ (weight**2).sum(dim=-1)), rel=1e-6)


def test_l2_penalty_counts_every_occurrence_of_a_batch_row(planted) -> None:
    """The L2 term is ½ Σ ‖e‖² over the batch's users, positives and all sampled negatives (a repeated
    row counts each time) over the batch size, computed from node counts instead of gathered rows."""
    _, _, graph = planted
    model = KGRec(graph, ModelConfig(dim=8, l2=1.0, lambda_kg=0.0))
    users, positives, negatives = torch.tensor([0, 1, 0]), torch.tensor([2, 3, 2]), torch.tensor([[4, 2], [4, 4], [5, 6]])
    weight = model.node_emb.weight.detach()
    rows = torch.cat([users, positives + graph.n_users, negatives.flatten() + graph.n_users])
    by_hand = sum(float(weight[r] @ weight[r]) for r in rows.tolist())
    items = torch.cat([positives, negatives.flatten()])
    assert model.squared_ego_norm(users, items).item() == pytest.approx(by_hand, rel=1e-6)
    _, parts = model.loss(users, positives, negatives)
    assert parts["l2"] == pytest.approx(by_hand / (2 * 3), rel=1e-6)


def test_lightgcn_plus_plus_options_match_a_hand_propagation(planted) -> None:
    """LightGCN++'s deg(i)^-a deg(j)^-b edge weights and the mean of all layers (layer 0 included) —
    recomputed here with a dense adjacency; ½, ½ is LightGCN."""
    _, _, graph = planted
    config = ModelConfig(dim=8, layers=2, attention=False, norm_target=0.7, norm_source=0.2)
    model = KGRec(graph, config)
    n = graph.num_nodes
    source, target = model.edge_index
    deg = torch.bincount(target, minlength=n).float().clamp_min(1)
    adjacency = torch.zeros(n, n)
    adjacency.index_put_((target, source), deg[target] ** -0.7 * deg[source] ** -0.2, accumulate=True)
    x0 = model.node_emb.weight.detach()
    x1 = adjacency @ x0
    x2 = adjacency @ x1
    expected = (x0 + x1 + x2) / 3
    users, items = model.embeddings()
    assert torch.allclose(users, expected[: graph.n_users], atol=1e-5)
    assert torch.allclose(items, expected[graph.n_users : graph.n_users + graph.n_items], atol=1e-5)
    plain = KGRec(graph, dataclasses.replace(config, norm_target=0.5, norm_source=0.5))
    with torch.no_grad():
        plain.node_emb.weight.copy_(x0)
    dense = torch.zeros(n, n)
    dense.index_put_((target, source), (deg[target] * deg[source]) ** -0.5, accumulate=True)
    lightgcn = (x0 + dense @ x0 + dense @ dense @ x0) / 3
    assert torch.allclose(plain.embeddings()[0], lightgcn[: graph.n_users], atol=1e-5)


def test_lightgcn_plus_plus_settings_are_checked() -> None:
    from kgrec.errors import ConfigError

    with pytest.raises(ConfigError, match=r"norm_target: expected a value in \[0, 1\], got -0.1"):
        ModelConfig(norm_target=-0.1)
