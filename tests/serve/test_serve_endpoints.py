"""The endpoints of the real ``kgrec serve`` (a subprocess) against facts that can be checked by hand: the
documents of the ``kgrec`` commands, the deletion test's scores, the graph's edge counts."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kgrec.explain.fidelity import DeletionTest, path_pairs
from kgrec.recommender import Recommender
from kgrec.serve.app import create_app
from kgrec.version import __version__
from tests.serve.conftest import Server, a_user, call

ENDPOINTS = {"/users/{user}/recommendations", "/users/{user}/items/{item}/paths",
             "/users/{user}/items/{item}/counterfactual", "/rules", "/health", "/metrics"}


@pytest.fixture(scope="module")
def top(server: Server, run: Path) -> dict:
    """The service's explained top 10 of the first user of the training split."""
    response = server.get(f"/users/{a_user(run)}/recommendations")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def cli_documents(run: Path, top: dict) -> dict[str, object]:
    """What ``kgrec recommend``, ``paths`` and ``rules`` print as JSON for the same user and top item, the three
    commands run side by side."""
    user, item = a_user(run), top["recommendations"][0]["item_raw"]
    commands = {
        "recommend": ["recommend", str(run), "--user", user, "-k", "5", "--explain", "--format", "json"],
        "paths": ["paths", str(run), "--user", user, "--item", item, "--max-len", "3", "--format", "json"],
        "rules": ["rules", str(run), "--format", "json"],
        "constants": ["rules", str(run), "--constants", "--top", "1000", "--format", "json"],
    }
    jobs = {name: subprocess.Popen([sys.executable, "-m", "kgrec", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, cwd=run.parent) for name, args in commands.items()}
    documents = {}
    for name, job in jobs.items():
        out, err = job.communicate(timeout=300)
        assert job.returncode == 0, err
        documents[name] = json.loads(out)
    return documents


def explained_item(top: dict, at_least: int = 1) -> dict:
    """The best-ranked recommendation whose explanation tells at least ``at_least`` paths."""
    return next(r for r in top["recommendations"] if len(r["told"]) >= at_least)


def typed_edges(rec: Recommender, pairs: np.ndarray) -> int:
    """Edges of the training graph between the node pairs, an edge and its inverse counted once."""
    source, target = rec.graph.data.edge_index.numpy()
    return sum(int(((source == a) & (target == b)).sum()) for a, b in pairs.tolist())


# ---- the JSON documents -------------------------------------------------------------------------------
def test_recommendations_are_the_document_of_kgrec_recommend(server: Server, run: Path, cli_documents: dict) -> None:
    response = server.get(f"/users/{a_user(run)}/recommendations", k=5, explain="true")
    assert response.status_code == 200
    assert response.json() == cli_documents["recommend"]


def test_recommendations_default_to_ten_explained_items(top: dict, run: Path) -> None:
    assert top["user"]["raw"] == a_user(run)
    assert [r["rank"] for r in top["recommendations"]] == list(range(1, 11))
    assert all(r["sentence"].startswith("Recommended") for r in top["recommendations"])
    assert any(r["told"] for r in top["recommendations"])  # some explanation tells a path


def test_paths_are_the_rows_of_kgrec_paths(server: Server, run: Path, top: dict, cli_documents: dict) -> None:
    item = top["recommendations"][0]
    response = server.get(f"/users/{a_user(run)}/items/{item['item_raw']}/paths", max_len=3)
    assert response.status_code == 200
    rows = response.json()
    assert rows == cli_documents["paths"] and rows
    assert all(2 <= r["length"] <= 3 and r["nodes"][-1] == item["item_node"] for r in rows)


def test_an_item_is_found_by_its_display_name(server: Server, run: Path, rec: Recommender, top: dict) -> None:
    names = list(rec.dataset.items.names)
    item = next(r for r in top["recommendations"] if names.count(r["item_name"]) == 1)  # a name no other item has
    by_name = server.get(f"/users/{a_user(run)}/items/{item['item_name']}/paths", max_len=4, top=5)
    by_raw = server.get(f"/users/{a_user(run)}/items/{item['item_raw']}/paths", max_len=4, top=5)
    assert by_name.status_code == 200 and by_name.json() == by_raw.json()


def test_rules_are_the_rows_of_kgrec_rules(server: Server, cli_documents: dict) -> None:
    response = server.get("/rules")
    assert response.status_code == 200
    assert response.json() == cli_documents["rules"][:30]
    assert [r["name"] for r in server.get("/rules", top=2).json()] == [r["name"] for r in cli_documents["rules"][:2]]
    constants = server.get("/rules", constants="true", top=1000).json()
    assert constants and constants == cli_documents["constants"] and all(r["constant"] is not None for r in constants)
    assert all(":" in r["name"] for r in constants)  # "same <noun>: <node>"


def test_health_names_the_run(server: Server, run: Path, rec: Recommender) -> None:
    assert server.get("/health").json() == {
        "status": "ok", "run": str(run), "dataset": "moviekg-omdb", "model": "kgrec",
        "users": rec.dataset.n_users, "items": rec.dataset.n_items, "kgrec_version": __version__,
    }


# ---- counterfactuals ----------------------------------------------------------------------------------
def test_removing_nothing_keeps_score_and_rank(server: Server, run: Path, top: dict) -> None:
    for item in top["recommendations"][:5]:
        answer = server.get(f"/users/{a_user(run)}/items/{item['item_raw']}/counterfactual").json()
        assert answer["original"] == {"score": item["score"], "rank": item["rank"]}
        assert answer["counterfactual"]["rank"] == item["rank"]
        assert answer["counterfactual"]["score"] == pytest.approx(item["score"], rel=1e-6)
        assert answer["edges_removed"] == 0 and answer["remove"] == []


def test_removing_the_told_paths_is_the_deletion_test(server: Server, run: Path, rec: Recommender, top: dict) -> None:
    item = explained_item(top, at_least=2)
    user = rec.user_id(a_user(run))
    pairs = path_pairs(rec.explain(user, item["item"]))
    expected = float(DeletionTest(rec.model, rec.graph).scores_without(user, pairs)[item["item"]])
    answer = server.get(f"/users/{a_user(run)}/items/{item['item_raw']}/counterfactual", remove="told").json()
    assert answer["counterfactual"]["score"] == pytest.approx(expected, rel=1e-6)
    assert answer["original"]["score"] == item["score"]
    assert answer["edges_removed"] == typed_edges(rec, pairs) > 0
    assert answer["remove"] == [{"entry": "told", "edges": answer["edges_removed"]}]


def test_removing_one_path_leaves_out_its_edges(server: Server, run: Path, rec: Recommender, top: dict) -> None:
    item = explained_item(top)
    user = rec.user_id(a_user(run))
    k = len(item["paths"]) - 1  # the last path listed for the item
    nodes = item["paths"][k]["nodes"]
    pairs = np.array(list(pairwise(nodes)))
    expected = float(DeletionTest(rec.model, rec.graph).scores_without(user, pairs)[item["item"]])
    answer = server.get(f"/users/{a_user(run)}/items/{item['item_raw']}/counterfactual", remove=f"path:{k}").json()
    assert answer["counterfactual"]["score"] == pytest.approx(expected, rel=1e-6)
    assert answer["edges_removed"] == typed_edges(rec, pairs) >= len(pairs)


def test_removing_a_history_item_is_removing_its_interaction_edge(server: Server, run: Path, rec: Recommender, top: dict) -> None:
    user_raw, item = a_user(run), explained_item(top)
    user = rec.user_id(user_raw)
    liked = int(rec.history(user)[0])
    by_item = server.get(f"/users/{user_raw}/items/{item['item_raw']}/counterfactual",
                         remove=f"history:{rec.dataset.items.raw(liked)}").json()
    by_edge = server.get(f"/users/{user_raw}/items/{item['item_raw']}/counterfactual",
                         remove=f"edge:{user}-{rec.graph.item_node(liked)}").json()
    expected = float(DeletionTest(rec.model, rec.graph).scores_without(user, np.array([[user, rec.graph.item_node(liked)]]))[item["item"]])
    assert by_item["edges_removed"] == by_edge["edges_removed"] == 1
    assert by_item["counterfactual"] == by_edge["counterfactual"]
    assert by_item["counterfactual"]["score"] == pytest.approx(expected, rel=1e-6)


def test_removing_a_relation_removes_all_its_edges(server: Server, run: Path, rec: Recommender, top: dict) -> None:
    item = top["recommendations"][0]["item_raw"]
    genre = rec.graph.relation_names.index("has_genre")
    forward = server.get(f"/users/{a_user(run)}/items/{item}/counterfactual", remove="relation:has_genre").json()
    inverse = server.get(f"/users/{a_user(run)}/items/{item}/counterfactual", remove="relation:has_genre⁻¹").json()
    assert forward["edges_removed"] == int((rec.graph.data.edge_type == genre).sum()) > 0
    assert inverse["counterfactual"] == forward["counterfactual"]
    assert forward["ranked_items"] == rec.dataset.n_items - len(rec.history(a_user(run)))


def test_several_removals_are_left_out_together(server: Server, run: Path, rec: Recommender, top: dict) -> None:
    """The told paths and one path that is not told: the union of their edges, shared edges counted once."""
    item = explained_item(top, at_least=2)
    other = next(k for k in range(len(item["paths"])) if k not in item["told"])
    user = rec.user_id(a_user(run))
    walks = [item["paths"][k]["nodes"] for k in [*item["told"], other]]
    pairs = np.array(sorted({tuple(sorted(pair)) for nodes in walks for pair in pairwise(nodes)}))
    expected = float(DeletionTest(rec.model, rec.graph).scores_without(user, pairs)[item["item"]])
    answer = server.get(f"/users/{a_user(run)}/items/{item['item_raw']}/counterfactual", remove=["told", f"path:{other}"]).json()
    assert [r["entry"] for r in answer["remove"]] == ["told", f"path:{other}"]
    counts = [r["edges"] for r in answer["remove"]]
    assert answer["edges_removed"] == typed_edges(rec, pairs)
    assert max(counts) <= answer["edges_removed"] <= sum(counts) 
    assert counts[1] == typed_edges(rec, np.array(list(pairwise(walks[-1]))))
    assert answer["counterfactual"]["score"] == pytest.approx(expected, rel=1e-6)


# ---- bad input ----------------------------------------------------------------------------------------
def test_an_unknown_user_or_item_is_404_with_the_closest_matches(server: Server, run: Path) -> None:
    user = a_user(run)
    response = server.get(f"/users/{user}x/recommendations")
    assert response.status_code == 404
    body = response.json()
    assert body["kind"] == "user" and body["query"] == f"{user}x" and user in body["matches"]
    assert f"unknown user '{user}x'" in body["detail"]
    response = server.get(f"/users/{user}/items/Star Warz/paths")
    assert response.status_code == 404
    assert response.json()["kind"] == "item" and response.json()["matches"][0] == "Star Wars"


@pytest.mark.parametrize("path, params, parameter, says", [
    ("recommendations", {"k": 0}, "k", "greater than or equal to 1"),
    ("recommendations", {"k": 93}, "k", "less than or equal to 92"),  # the dataset has 92 items
    ("recommendations", {"k": "ten"}, "k", "valid integer"),
    ("recommendations", {"explain": "maybe"}, "explain", "valid boolean"),
    ("items/112/paths", {"max_len": 1}, "max_len", "greater than or equal to 2"),
    ("items/112/paths", {"max_len": 7}, "max_len", "less than or equal to 6"),
    ("items/112/counterfactual", {"remove": "genre:Drama"}, "remove", "expected history:<item>, relation:<name>"),
    ("items/112/counterfactual", {"remove": "path:first"}, "remove", "path index"),
    ("items/112/counterfactual", {"remove": "path:99"}, "remove", "paths (indexes 0.."),
    ("items/112/counterfactual", {"remove": "edge:81"}, "remove", "two node ids"),
    ("items/112/counterfactual", {"remove": "edge:0-1"}, "remove", "not adjacent"),
    ("items/112/counterfactual", {"remove": "edge:0-99999"}, "remove", "node ids run from 0 to"),
    ("items/112/counterfactual", {"remove": "relation:genre"}, "remove", "unknown relation; expected one of interact"),
    ("items/112/counterfactual", {"remove": "history:112"}, "remove", "is not in the training history"),
    ("items/112/counterfactual", {"remove": "history:Star Warz"}, "remove", "did you mean 'Star Wars'"),
    ("items/112/counterfactual", {"remove": ["told"] * 51}, "remove", "at most 50 items"),
    ("items/1/counterfactual", {}, "item", "is in the training history"),
])
def test_a_bad_parameter_is_422_naming_it(server: Server, run: Path, path: str, params: dict, parameter: str, says: str) -> None:
    response = server.get(f"/users/{a_user(run)}/{path}", **params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["parameter"] == parameter and parameter in body["detail"] and says in body["detail"], body


def test_an_overlong_url_is_refused(server: Server, run: Path) -> None:
    response = server.get(f"/users/{a_user(run)}/items/112/counterfactual", remove="history:" + "x" * 5000)
    assert response.status_code == 414
    assert "at most 4096" in response.json()["detail"]


def test_a_graph_less_model_has_no_counterfactual(runs: dict[str, Path]) -> None:
    app = create_app(runs["bprmf"])
    user = a_user(runs["bprmf"])
    assert call(app, f"/users/{user}/recommendations", k=3).status_code == 200
    response = call(app, f"/users/{user}/items/112/counterfactual")
    assert response.status_code == 422
    assert response.json()["detail"] == ("counterfactuals need a graph model (kgrec or lightgcn); this run's model "
                                         "bprmf propagates over no graph")


# ---- metrics and schema -------------------------------------------------------------------------------
def samples(server: Server) -> dict[tuple[str, tuple], float]:
    """Every sample of ``/metrics``: (name, sorted labels) -> value."""
    text = server.get("/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(text)
            for s in family.samples}


def test_metrics_count_requests_and_latencies_per_endpoint(server: Server) -> None:
    before = samples(server)
    for _ in range(3):
        assert server.get("/rules", top=1).status_code == 200
    assert server.get("/rules", top=0).status_code == 422
    after = samples(server)
    ok = ("kgrec_http_requests_total", (("endpoint", "/rules"), ("method", "GET"), ("status", "200")))
    bad = ("kgrec_http_requests_total", (("endpoint", "/rules"), ("method", "GET"), ("status", "422")))
    count = ("kgrec_http_request_duration_seconds_count", (("endpoint", "/rules"),))
    assert after[ok] - before.get(ok, 0) == 3
    assert after[bad] - before.get(bad, 0) == 1
    assert after[count] - before.get(count, 0) == 4


def test_openapi_lists_the_endpoints_and_docs_are_served(server: Server) -> None:
    schema = server.get("/openapi.json").json()
    assert set(schema["paths"]) == ENDPOINTS
    k = next(p for p in schema["paths"]["/users/{user}/recommendations"]["get"]["parameters"] if p["name"] == "k")
    assert k["schema"]["maximum"] == 92 and k["schema"]["minimum"] == 1
    docs = server.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
