"""Node association: relation removal on a toy graph, usage shares by hand, ``kgrec inspect`` and the report section."""

from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.config import ModelConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.evaluation.ranking import evaluate_ranking
from kgrec.explain.association import (
    Association,
    AssociationError,
    path_entities,
    path_relations,
    propagation_graph,
    usage_shares,
)
from kgrec.explain.types import Explanation
from kgrec.explain.types import Path as KgPath
from kgrec.models.baselines import BPRMF, LightGCN
from kgrec.models.kgrec import KGRec
from tests.cli_runner import kgrec, train_run_dir
from tests.models.planted import write_planted_files

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LAYERS = 2

# Two components. A: u0–i0, u0–i1, u1–i1, u1–i2; i0, i2 genre g1; i1, i3 director d1.
# B, a chain: u2–i4–u3–i5–u4–i6 –director– d2 –director– i7 –genre– g2, only its end near a genre edge.
INTERACTIONS = [("u0", "i0"), ("u0", "i1"), ("u1", "i1"), ("u1", "i2"), ("u2", "i4"), ("u3", "i4"), ("u3", "i5"),
                ("u4", "i5"), ("u4", "i6")]
TRIPLES = [("e0", "genre", "g1"), ("e2", "genre", "g1"), ("e1", "director", "d1"), ("e3", "director", "d1"),
           ("e6", "director", "d2"), ("e7", "director", "d2"), ("e7", "genre", "g2")]


def toy_graph() -> CollaborativeKG:
    items = [f"i{k}" for k in range(8)]
    dataset = RecDataset.from_frames(
        "toy",
        pd.DataFrame(INTERACTIONS, columns=["user", "item"]),
        pd.DataFrame(TRIPLES, columns=["head", "relation", "tail"]),
        pd.DataFrame({"item": items, "entity": [f"e{k}" for k in range(8)]}),
        item_catalogue=items,
    )
    return CollaborativeKG.build(dataset, dataset.interactions)


def toy_model(graph: CollaborativeKG, attention: bool) -> KGRec:
    torch.manual_seed(0)
    model = KGRec(graph, ModelConfig(dim=8, layers=LAYERS, attention=attention))
    with torch.no_grad():  # fixed weights: node embeddings and relation parameters drawn from a seeded generator
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=torch.Generator().manual_seed(parameter.numel())))
    return model.eval()


def near(graph: CollaborativeKG, relation: int, hops: int) -> set[int]:
    """Nodes within ``hops`` undirected hops of an endpoint of a ``relation`` edge (either direction)."""
    edge_index, edge_type = graph.data.edge_index.numpy(), graph.data.edge_type.numpy()
    undirected = nx.Graph(list(zip(edge_index[0].tolist(), edge_index[1].tolist())))
    undirected.add_nodes_from(range(graph.num_nodes))
    mine = (edge_type == relation) | (edge_type == graph.inverse(relation))
    sources = set(edge_index[:, mine].ravel().tolist())
    lengths = nx.multi_source_dijkstra_path_length(undirected, sources, cutoff=hops)
    return set(lengths)


@pytest.mark.parametrize("attention", [False, True])
@pytest.mark.parametrize("relation_name", ["genre", "director"])
def test_removing_a_relation_changes_exactly_the_scores_that_depend_on_it(relation_name: str, attention: bool) -> None:
    graph = toy_graph()
    relation = graph.relation_names.index(relation_name)
    model = toy_model(graph, attention)
    propagation = propagation_graph(model, graph)
    mask = propagation.relation_edges(relation)
    # both directions of the relation, nothing else
    assert int(mask.sum()) == 2 * sum(r == relation_name for _, r, _ in TRIPLES)
    assert set(model.edge_type[mask].tolist()) == {relation, graph.inverse(relation)}
    with torch.no_grad():
        users, items = model.embeddings_without(propagation.no_edges())
        users_cut, items_cut = model.embeddings_without(mask)
    full, cut = users @ items.T, users_cut @ items_cut.T
    # after L layers a removed edge (its endpoints' degrees and softmax included) reaches L hops
    affected = near(graph, relation, LAYERS)
    expected = np.array([[u in affected or graph.item_node(i) in affected for i in range(graph.n_items)]
                         for u in range(graph.n_users)])
    changed = (full != cut).numpy()
    assert 0 < expected.sum() < expected.size  # the toy graph has pairs on both sides
    np.testing.assert_array_equal(changed, expected)
    assert torch.equal(full[~torch.as_tensor(expected)], cut[~torch.as_tensor(expected)])  # bit-identical
    if relation_name == "genre":  # e.g. u2 and i4 are 3+ hops from the genre edges at the chain's end
        u2, i4, i6 = graph.dataset.users.index("u2"), graph.dataset.items.index("i4"), graph.dataset.items.index("i6")
        assert not changed[u2, i4] and changed[u2, i6]


def test_lightgcn_propagates_interactions_only_and_bprmf_has_no_graph() -> None:
    graph = toy_graph()
    config = ModelConfig(dim=4, layers=LAYERS)
    propagation = propagation_graph(LightGCN(graph, config), graph)
    assert set(propagation.relations.tolist()) == {0}  # interact, both directions
    assert len(propagation.relations) == 2 * len(INTERACTIONS)
    np.testing.assert_allclose(propagation.weights[:1], [1 / np.sqrt(2 * 1)])  # u0 (2 items) → i0 (1 user)
    with pytest.raises(AssociationError, match="BPRMF has no propagation graph"):
        propagation_graph(BPRMF(graph, config), graph)


def test_usage_shares_by_hand() -> None:
    graph = toy_graph()
    node = {name: n for n in range(graph.num_nodes) if (name := graph.node_name(n))}
    u0, u1, i0, i1, i2, i3 = (node[k] for k in ("user u0", "user u1", "item i0", "item i1", "item i2", "item i3"))
    g1, d1 = node["entity g1"], node["entity d1"]
    interact, genre, director = (graph.relation_names.index(r) for r in ("interact", "genre", "director"))
    inv = graph.inverse
    by_director = KgPath((u0, i1, d1, i3), (interact, director, inv(director)), 0.5)
    by_genre = KgPath((u0, i0, g1, i2), (interact, genre, inv(genre)), 0.25)
    collaborative = KgPath((u0, i1, u1, i2), (interact, inv(interact), interact), 0.1)
    explanations = [
        Explanation(0, 3, 1.0, 1, (by_director, by_genre), chosen=0),  # told: director; listed: genre too
        Explanation(0, 2, 0.9, 2, (by_genre, collaborative), chosen=1),  # told: the collaborative path
        Explanation(0, 5, 0.8, 3),  # no path: uses nothing, but counts in the denominator
        Explanation(1, 2, 0.7, 1, (by_genre,), chosen=0),
    ]
    assert path_relations(by_director, graph) == {interact, director}
    assert path_relations(collaborative, graph) == {interact}
    assert path_entities(by_genre, graph) == {g1} and path_entities(collaborative, graph) == set()
    told, listed = usage_shares(explanations, lambda p: path_relations(p, graph))
    assert told == {interact: 3 / 4, director: 1 / 4, genre: 1 / 4}
    assert listed == {interact: 3 / 4, director: 1 / 4, genre: 3 / 4}
    told, listed = usage_shares(explanations, lambda p: path_entities(p, graph))
    assert told == {d1: 1 / 4, g1: 1 / 4}
    assert listed == {d1: 1 / 4, g1: 3 / 4}


# ---- kgrec inspect and the report on a tiny planted run ---------------------------------------------------
@pytest.fixture(scope="module")
def inspected(tmp_path_factory) -> tuple[Path, str]:
    """A tiny planted run after ``kgrec inspect RUN --relations --entities``, and what the command printed."""
    root = tmp_path_factory.mktemp("association")
    run = train_run_dir(write_planted_files(root / "planted"), root / "run")
    from kgrec.report import build_report

    build_report(run)  # a report before the analysis: inspect must refresh it
    assert "What the model leans on" not in (run / "report.html").read_text(encoding="utf-8")
    result = kgrec("inspect", str(run), "--relations", "--entities", "--users", "20", "-k", "5", "--top", "3", cwd=root)
    assert result.returncode == 0, result.stderr
    return run, result.stdout


@pytest.fixture(scope="module")
def planted_run(inspected: tuple[Path, str]) -> Path:
    return inspected[0]


def test_inspect_writes_charts_json_and_prints_tables(inspected: tuple[Path, str]) -> None:
    planted_run, stdout = inspected
    out = planted_run / "inspect"
    for kind in ("relations", "entities"):
        assert (out / f"{kind}.png").read_bytes()[:8] == PNG_SIGNATURE
    relations = json.loads((out / "relations.json").read_text(encoding="utf-8"))
    entities = json.loads((out / "entities.json").read_text(encoding="utf-8"))
    assert relations["users"] == 20 and relations["k"] == 5 and relations["explanations"] == 100
    rows = {r["name"]: r for r in relations["rows"]}
    assert set(rows) == {"interact", "in_cluster"}
    train = (planted_run / "split" / "train.tsv").read_text().splitlines()
    assert rows["interact"]["edges"] == 2 * len(train)
    assert rows["in_cluster"]["edges"] == 2 * 40  # 40 items, one cluster triple each, both directions
    # every told path starts with a liked item; an explanation without a path uses nothing
    assert rows["interact"]["share"] == pytest.approx(relations["with_path"] / relations["explanations"])
    assert 0 < rows["in_cluster"]["share"] <= rows["in_cluster"]["listed_share"] <= 1
    for row in relations["rows"] + entities["rows"]:
        assert row["drop"] == pytest.approx(relations["full"] - row["ndcg"], abs=1e-12)
    assert entities["full"] == relations["full"]
    assert Association.from_dict(relations).to_dict() == relations
    assert 1 <= len(entities["rows"]) <= 3
    for row in entities["rows"]:  # cluster entities c0..c3, each linked to its 10 items
        assert re.fullmatch(r"entity c[0-3] \(in cluster\)", row["label"]) and row["edges"] == 20
    shares = sorted((r["share"], r["listed_share"]) for r in entities["rows"])
    assert shares[-1][0] > 0
    lines = stdout.splitlines()
    header = next(n for n, line in enumerate(lines) if line.startswith("relation "))
    assert lines[header].split() == ["relation", "noun", "edges", "told", "share", "listed", "share", "mean", "weight",
                                     "NDCG@20", "without", "drop"]
    first = lines[header + 2].split()  # rows sorted by drop, as in the JSON
    assert first[0] == relations["rows"][0]["name"] and first[-1] == f"{relations['rows'][0]['drop']:.4g}"
    assert lines[-1] == str(planted_run / "report.html")  # the existing report was rebuilt


def test_inspect_numbers_match_an_independent_recomputation(planted_run: Path) -> None:
    from kgrec.recommender import Recommender

    rec = Recommender.load(planted_run)
    model, graph = rec.model, rec.graph
    relations = json.loads((planted_run / "inspect" / "relations.json").read_text(encoding="utf-8"))

    def ndcg(score_users) -> float:
        return evaluate_ranking(score_users, rec.split.valid, [rec.split.train], rec.dataset.n_items, (20,))["ndcg@20"]

    assert relations["full"] == pytest.approx(ndcg(model.score_users), abs=1e-12)
    cluster = graph.relation_names.index("in_cluster")
    dropped = (model.edge_type == cluster) | (model.edge_type == graph.inverse(cluster))
    row = next(r for r in relations["rows"] if r["name"] == "in_cluster")
    assert row["ndcg"] == pytest.approx(ndcg(lambda users: model.score_users_without(users, dropped)), abs=1e-12)
    with torch.no_grad():
        weights = model.edge_weight()[dropped]
    assert row["mean_weight"] == pytest.approx(float(weights.double().mean()), rel=1e-6)


def test_inspect_json_format_and_errors(planted_run: Path) -> None:
    result = kgrec("inspect", str(planted_run), "--relations", "--users", "5", "-k", "3", "--format", "json",
                   "--out-dir", str(planted_run / "elsewhere"), cwd=planted_run)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert list(document) == ["relations"] and document["relations"]["users"] == 5
    assert (planted_run / "elsewhere" / "relations.png").read_bytes()[:8] == PNG_SIGNATURE
    missing = kgrec("inspect", str(planted_run), cwd=planted_run)
    assert missing.returncode == 2
    expected = "kgrec: error: kgrec inspect: choose what to analyse: --relations and/or --entities"
    assert missing.stderr.strip() == expected
    bad = kgrec("inspect", str(planted_run), "--entities", "--top", "0", cwd=planted_run)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["kgrec: error: --top must be a positive integer, got 0"]


def test_report_gets_the_section_with_both_charts(planted_run: Path) -> None:
    page = (planted_run / "report.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="association">'):]
    section = section[: section.index("</section>")]
    assert "<h2>What the model leans on</h2>" in section
    assert "<h3>Relations</h3>" in section and "<h3>Entities</h3>" in section
    assert section.count("data:image/png;base64,") == 2
    assert "<code>in_cluster</code>" in section
    assert (planted_run / "report" / "inspect" / "relations.png").read_bytes()[:8] == PNG_SIGNATURE
