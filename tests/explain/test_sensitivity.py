"""Sensitivity analysis (saliency, integrated gradients), PyG's GNNExplainer, attention and random baselines,
and every method on one scale (``kgrec explain-eval --methods``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kgrec.config import ModelConfig, RunConfig
from kgrec.explain import sensitivity
from kgrec.explain.compare import METHODS, compare_methods, methods_table, parse_methods
from kgrec.explain.render import recommendations_document
from kgrec.explain.types import Explanation
from kgrec.models.kgrec import KGRec
from kgrec.recommender import Recommender
from tests.cli_runner import kgrec, train_run_dir
from tests.explain.test_render import validate
from tests.models.planted import planted_split_graph, write_planted_files

SCHEMA = json.loads((Path(sensitivity.__file__).parent / "explanation.schema.json").read_text())


def planted_rec(**model: object) -> Recommender:
    """An untrained dim-8 kgrec on the planted dataset (random embeddings give non-trivial gradients)."""
    dataset, split, graph = planted_split_graph()
    torch.manual_seed(0)
    config = RunConfig(model=ModelConfig(dim=8, **model))
    return Recommender(config, dataset, split, graph, KGRec(graph, config.model))


@pytest.fixture(scope="module")
def rec() -> Recommender:
    return planted_rec(layers=2, attention=True)


def a_case(rec: Recommender) -> tuple[int, int]:
    """User 3 and its top recommendation (not a training item, so no direct user–item edge)."""
    return 3, rec.recommend(3, 1)[0].item


def test_saliency_equals_the_closed_form_gradient_of_a_one_layer_linear_model() -> None:
    # one mean layer: ū = (x_u + Σ_{s→u} w m x_s) / 2, ī likewise, score = ⟨ū, ī⟩, so
    # ∂score/∂m_e = w_e ⟨x_s, ī⟩ / 2 for an edge s→u and w_e ⟨ū, x_s⟩ / 2 for an edge s→i
    rec = planted_rec(layers=1, attention=False, aggregator="mean")
    model = rec.model
    user, item = a_case(rec)
    node = model.n_users + item
    x = model.node_emb.weight.detach().double().numpy()
    source, target = model.edge_index.numpy()
    weight = model.edge_weight().detach().double().numpy()
    into_u, into_i = target == user, target == node
    u_bar = (x[user] + (weight[into_u, None] * x[source[into_u]]).sum(0)) / 2
    i_bar = (x[node] + (weight[into_i, None] * x[source[into_i]]).sum(0)) / 2
    edges = np.flatnonzero(into_u | into_i)
    hand = np.where(into_u[edges], weight[edges] * (x[source[edges]] @ i_bar) / 2, weight[edges] * (x[source[edges]] @ u_bar) / 2)

    assert np.array_equal(sensitivity.computation_subgraph(model, user, item).numpy(), edges)
    expected = sensitivity.undirected("hand", model.edge_index[:, edges], torch.as_tensor(hand), 0.0)
    saliency = sensitivity.edge_scores(model, user, item, "saliency")
    assert np.array_equal(saliency.pairs, expected.pairs)
    assert np.abs(expected.scores).max() > 1e-4
    np.testing.assert_allclose(saliency.scores, expected.scores, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("aggregator", ["mean", "bi"])
def test_integrated_gradients_sum_to_the_score_minus_the_all_zeros_baseline(aggregator: str) -> None:
    rec = planted_rec(layers=2, attention=True, aggregator=aggregator)
    user, item = a_case(rec)
    module = sensitivity.ScoreModule(rec.model, user, item)
    with torch.no_grad():
        full = float(module(None, module.edge_index))
        baseline = float(module(None, module.edge_index, torch.zeros(len(module.edges))))
    assert full == pytest.approx(float(rec.scores(user)[item]), rel=1e-5)  # the subgraph holds the whole score
    ig = sensitivity.edge_scores(rec.model, user, item, "ig", steps=32)
    assert abs(full - baseline) > 1e-4
    assert ig.scores.sum() == pytest.approx(full - baseline, rel=0.01)


@pytest.mark.parametrize("method", sensitivity.SENSITIVITY_METHODS)
def test_each_method_gives_an_explanation_whose_method_round_trips_through_json(rec: Recommender, method: str) -> None:
    user, item = a_case(rec)
    explanation = sensitivity.explain_with(rec.context, user, item, method, steps=8, epochs=10)
    assert explanation.method == method
    assert explanation.rank == 1 and explanation.score == pytest.approx(float(rec.scores(user)[item]))
    path = explanation.path
    assert path is not None and path.nodes[0] == user and path.nodes[-1] == rec.graph.n_users + item and path.length <= 3
    stored = explanation.extra["edge_scores"]
    assert 0 < len(stored["pairs"]) <= sensitivity.STORED_EDGES and stored["scores"] == sorted(stored["scores"], reverse=True)
    attribution = explanation.extra["path_attribution"]
    assert attribution == sorted(attribution, reverse=True)
    back = Explanation.from_dict(json.loads(json.dumps(explanation.to_dict())))
    assert back == explanation and back.method == method
    document = json.loads(json.dumps(recommendations_document(user, [explanation], rec.graph, rec.phrases, {})))
    validate(document, SCHEMA)
    assert document["recommendations"][0]["method"] == method


def test_explanations_without_a_method_field_read_as_paths() -> None:
    values = Explanation(1, 2, 0.5, 1).to_dict()
    assert values["method"] == "paths"
    del values["method"]  # a document written before the field existed
    assert Explanation.from_dict(values).method == "paths"


def test_attention_scores_are_the_model_weights_and_random_is_seeded(rec: Recommender) -> None:
    user, item = a_case(rec)
    edges = sensitivity.computation_subgraph(rec.model, user, item)
    attention = sensitivity.edge_scores(rec.model, user, item, "attention")
    expected = sensitivity.undirected("attention", rec.model.edge_index[:, edges], rec.model.edge_weight().detach()[edges], 0.0)
    np.testing.assert_allclose(attention.scores, expected.scores, rtol=1e-6)
    first, again, other = (sensitivity.edge_scores(rec.model, user, item, "random", seed=s).scores for s in (1, 1, 2))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_gnnexplainer_runs_through_pyg_and_gives_sigmoid_masks(rec: Recommender) -> None:
    user, item = a_case(rec)
    scores = sensitivity.edge_scores(rec.model, user, item, "gnnexplainer", epochs=20)
    per_direction = scores.scores  # each pair sums two sigmoid masks
    assert len(per_direction) == len(sensitivity.edge_scores(rec.model, user, item, "attention").pairs)
    assert (per_direction >= 0).all() and (per_direction <= 2).all() and per_direction.std() > 0


def test_compare_methods_measures_every_method_at_equal_budgets(rec: Recommender) -> None:
    report = compare_methods(rec.context, METHODS, n_users=4, k=2, seed=0, slow_users=2, steps=8, epochs=10, progress=False)
    assert list(report["methods"]) == list(METHODS)
    rows = report["methods"]
    assert rows["rules"]["cases"] == rows["saliency"]["cases"] == rows["random"]["cases"] > 0
    assert 0 < rows["ig"]["cases"] == rows["gnnexplainer"]["cases"] <= rows["rules"]["cases"]
    budget = rows["rules"]["mean_edges_removed"]
    assert budget >= 2  # every edge of the told evidence: one or more paths of 2..max_len edges
    for method in ("paths", "saliency", "attention", "random"):
        assert rows[method]["mean_edges_removed"] == budget  # equal budgets
    assert rows["rules"]["jaccard_rules"] == 1.0 and rows["rules"]["edges_scored"] == budget
    for method, values in rows.items():
        assert 0 <= values["fidelity"] <= 1 and 0 <= values["jaccard_rules"] <= 1, method
        assert np.isfinite(values["sufficiency"]) and values["ms_per_explanation"] > 0, method
        assert values["edges_90"] <= values["edges_scored"], method
    table = methods_table(report)
    assert table.count("\n") == len(METHODS) + 1 and "| saliency |" in table and "| SED |" in table


def test_compare_methods_reports_path_quality_per_method(rec: Recommender) -> None:
    from kgrec.explain.fidelity import path_pairs
    from kgrec.explain.path_quality import path_quality

    users = rec.users_with_history()[:3]
    report = compare_methods(rec.context, ("rules", "paths", "random"), k=3, users=users, progress=False)
    explained = [[e for e in rec.recommend(int(u), 3, explain=True) if len(path_pairs(e))] for u in users]
    explained = [lists for lists in explained if lists]  # compare_methods skips items without a path explanation
    assert sum(map(len, explained)) == report["methods"]["rules"]["cases"] > 0
    expected = path_quality(explained, rec.graph, rec.split.train, 3)
    rows = report["methods"]
    assert {key: rows["rules"][key] for key in ("lir", "sep", "etd", "lid", "sed")} == {
        key: expected[key] for key in ("lir", "sep", "etd", "lid", "sed")}
    for method, values in rows.items():
        assert values["lir"] is None, method  # the planted dataset has no timestamps
        assert all(0 <= values[key] <= 1 for key in ("sep", "etd", "lid", "sed")), method


def test_unknown_methods_are_refused() -> None:
    from kgrec.errors import ConfigError

    assert parse_methods("paths, ig,paths") == ["paths", "ig"]
    with pytest.raises(ConfigError, match="shap"):
        parse_methods("paths,shap")


def test_explain_eval_methods_on_the_command_line(tmp_path: Path) -> None:
    run = train_run_dir(write_planted_files(tmp_path / "planted"), tmp_path / "run", timeout=300)
    from kgrec.report import build_report

    build_report(run)  # a run with a report: explain-eval keeps it current
    result = kgrec("explain-eval", str(run), "--users", "3", "-k", "2", "--methods", "rules,saliency,random,ig",
                   "--slow-users", "1", "--ig-steps", "4", "--gnn-epochs", "5", "--workers", "2", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    compared = report["methods"]
    rec = Recommender.load(run)  # two worker processes measure exactly what one process does (timings aside)
    alone = compare_methods(rec.context, ["rules", "saliency", "random", "ig"], n_users=3, k=2, seed=rec.config.train.seed,
                            slow_users=1, steps=4, epochs=5, progress=False)
    for method, values in alone["methods"].items():
        for key, value in values.items():
            if key != "ms_per_explanation":
                np.testing.assert_equal(compared["methods"][method][key], value, err_msg=f"{method} {key}")
    assert list(compared["methods"]) == ["rules", "saliency", "random", "ig"] and compared["slow_users"] == 1
    assert (compared["steps"], compared["epochs"]) == (4, 5)
    assert compared["methods"]["rules"]["cases"] == report["cases"]  # the same cases as the deletion test
    assert 0 < compared["methods"]["ig"]["cases"] <= 2
    table = (run / "explain_methods.md").read_text()
    assert "| rules |" in table and "| ig |" in table
    assert "Every method on one scale" in (run / "report.html").read_text(encoding="utf-8")
    text = kgrec("explain-eval", str(run), "--users", "2", "-k", "2", cwd=tmp_path)
    assert text.returncode == 0 and "explanation methods" not in text.stdout  # default: today's report
