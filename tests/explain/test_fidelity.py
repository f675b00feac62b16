"""The deletion test on a graph where the answer is known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.config import ModelConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.evaluation.ranking import rank_of
from kgrec.explain.fidelity import DeletionCase, DeletionTest, history_pairs, summarise_cases
from kgrec.explain.types import Explanation, Path
from kgrec.models.kgrec import KGRec


@pytest.fixture
def genre_graph() -> tuple[CollaborativeKG, KGRec]:
    """Items a0 (unliked, unlinked), i1, i2, i3; entity g (a genre) shared by i1 and i2.

        u1 -> i1, u1 -> i3, u2 -> i2            (train)
        i1 --genre--> g <--genre-- i2

    Only g has a non-zero embedding v = (1, 0); 2 layers, uniform LightGCN weights. Every degree on the
    u1 … i2 walk is 2, so each weight is 1/2 and
      ū1 = (0 + 0 + w(i1→u1) w(g→i1) v) / 3 = v/12,   ī2 = (0 + w(g→i2) v + 0) / 3 = v/6,
      score(u1, i2) = 1/72.
    """
    interactions = pd.DataFrame({"user": ["u1", "u1", "u2"], "item": ["i1", "i3", "i2"]})
    triples = pd.DataFrame({"head": ["i1", "i2"], "relation": ["genre", "genre"], "tail": ["g", "g"]})
    links = pd.DataFrame({"item": ["i1", "i2", "i3"], "entity": ["i1", "i2", "i3"]})
    dataset = RecDataset.from_frames("genre", interactions, triples, links, item_catalogue=["a0"])
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    model = KGRec(graph, ModelConfig(dim=2, layers=2, attention=False, norm_target=0.5, norm_source=0.5))  # LightGCN's
    with torch.no_grad():
        model.node_emb.weight.zero_()
        genre = int(graph.entity_nodes.set_index("entity").loc[dataset.entities.index("g"), "node"])
        model.node_emb.weight[genre] = torch.tensor([1.0, 0.0])
    model.eval()
    return graph, model


def test_score_matches_hand_computation(genre_graph) -> None:
    graph, model = genre_graph
    ds = graph.dataset
    u1, i2 = ds.users.index("u1"), ds.items.index("i2")
    assert model.score_users(torch.tensor([u1]))[0, i2].item() == pytest.approx(1 / 72)


def test_deleting_the_explained_path_removes_the_score(genre_graph) -> None:
    graph, model = genre_graph
    ds = graph.dataset
    u1, i1, i2, i3 = ds.users.index("u1"), ds.items.index("i1"), ds.items.index("i2"), ds.items.index("i3")
    genre = int(graph.entity_nodes.set_index("entity").loc[ds.entities.index("g"), "node"])
    genre_rel = 1 + ds.relations.index("genre")
    path = Path((u1, graph.item_node(i1), genre, graph.item_node(i2)), (0, genre_rel, graph.inverse(genre_rel)), 0.125)
    explanation = Explanation(u1, i2, 1 / 72, 1, (path,), 0)
    history = np.array([i1, i3])
    base = model.score_users(torch.tensor([u1]))[0]
    # history edges: u1–i1, u1–i3 and i1–g (i3 has no KG edge)
    assert {tuple(sorted(p)) for p in history_pairs(graph, u1, history).tolist()} == {
        (u1, graph.item_node(i1)), (u1, graph.item_node(i3)), (graph.item_node(i1), genre)
    }
    cases = DeletionTest(model, graph).run([explanation], history, base, np.random.default_rng(0))
    (case,) = cases
    # explanation deleted: ū1 no longer reaches g, score 0, a0 (lower id, score 0) now ranks first
    assert case.score_drop == pytest.approx(1 / 72)
    assert case.rank == 1 and case.rank_drop == 1
    # the only control edge left is u1–i3: u1's degree drops to 1, weight u1←i1 becomes 1/sqrt(2),
    # so the score rises to (v/(6·sqrt 2))·(v/6) = 1/(36·sqrt 2)
    assert case.random_score_drop == pytest.approx(1 / 72 - 1 / (36 * np.sqrt(2)))
    assert case.random_rank_drop == 0
    assert case.faithful


def test_rank_of_breaks_ties_by_lower_id_and_skips_masked() -> None:
    scores = torch.tensor([0.5, 0.9, 0.5, 0.1])
    masked = np.array([False, True, False, False])
    assert rank_of(scores, 2, masked) == 2  # 0.9 is masked; item 0 ties and has the lower id
    assert rank_of(scores, 0, masked) == 1
    assert rank_of(scores, 3, masked) == 3


def test_summary_counts_faithful_cases_with_score_tie_break() -> None:
    cases = [
        DeletionCase(0, 1, 1, 3, 2, 0.5, 0, 0.1, ),   # rank drop larger: faithful
        DeletionCase(0, 2, 2, 3, 0, 0.2, 0, 0.1),     # same rank drop, larger score drop: faithful
        DeletionCase(0, 3, 3, 3, 0, 0.0, 1, 0.3),     # control hurts more
    ]
    summary = summarise_cases(cases)
    assert summary["fidelity"] == pytest.approx(2 / 3)
    assert summary["fidelity_strict_rank"] == pytest.approx(1 / 3)
    assert summary["rank_ties"] == pytest.approx(1 / 3)
    assert summary["mean_rank_drop"] == pytest.approx(2 / 3)
    assert summary["random_rank_drop"] == pytest.approx(1 / 3)
    assert summary["mean_score_drop"] == pytest.approx(0.7 / 3)


def test_models_without_a_graph_are_refused() -> None:
    from kgrec.models.baselines import BPRMF

    interactions = pd.DataFrame({"user": ["u1"], "item": ["i1"]})
    dataset = RecDataset.from_frames("one", interactions)
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    with pytest.raises(ValueError, match="graph model"):
        DeletionTest(BPRMF(graph, ModelConfig(dim=2)), graph)
