"""The Python API: ``Recommender.recommend / explain / paths`` on a planted dataset, ids, cold start."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgrec.config import ModelConfig, RunConfig
from kgrec.data.graph import CollaborativeKG
from kgrec.data.split import Split
from kgrec.errors import UnknownItemError, UnknownUserError
from kgrec.models.kgrec import KGRec
from kgrec.recommender import Recommender
from tests.models.planted import planted_dataset


@pytest.fixture(scope="module")
def rec() -> Recommender:
    """A planted dataset whose user u0 keeps no training interaction (cold start)."""
    dataset = planted_dataset()
    interactions = dataset.interactions
    cold = interactions.user == dataset.users.index("u0")
    train = interactions.take(np.flatnonzero(~cold))
    held = interactions.take(np.flatnonzero(cold))
    split = Split(train, held, held, "manual")
    graph = CollaborativeKG.build(dataset, train)
    torch.manual_seed(0)
    config = RunConfig(model=ModelConfig(dim=8, layers=2, attention=False))
    return Recommender(config, dataset, split, graph, KGRec(graph, config.model))


def test_recommend_ranks_unseen_items_best_first(rec: Recommender) -> None:
    listed = rec.recommend("u5", k=5)
    history = set(rec.history("u5").tolist())
    assert [e.rank for e in listed] == [1, 2, 3, 4, 5]
    assert not history & {e.item for e in listed}
    scores = rec.scores("u5").numpy()
    assert [e.score for e in listed] == pytest.approx(sorted(np.delete(scores, list(history)), reverse=True)[:5])


def test_explanations_have_paths_that_end_at_the_item(rec: Recommender) -> None:
    # u5 is in cluster 0 (items i0..i9): every unseen item of the cluster shares the cluster entity
    history = set(rec.history("u5").tolist())
    unseen = [f"i{k}" for k in range(10) if rec.item_id(f"i{k}") not in history]
    for raw in unseen:
        explanation = rec.explain("u5", raw)
        assert explanation.paths and explanation.path is not None
        assert explanation.text.startswith("Recommended")
        for path in explanation.paths:
            assert path.nodes[0] == rec.user_id("u5") and path.nodes[-1] == rec.graph.item_node(explanation.item)
            assert path.relations[0] == 0  # starts with an interaction
            assert path.weight > 0
    listed = rec.recommend("u5", k=5, explain=True)
    assert [e.rank for e in listed] == [1, 2, 3, 4, 5] and all(e.text for e in listed)


def test_explain_gives_the_same_rank_as_recommend(rec: Recommender) -> None:
    third = rec.recommend("u5", k=3)[2]
    explained = rec.explain("u5", rec.dataset.items.raw(third.item))
    assert explained.rank == 3 and explained.score == pytest.approx(third.score)


def test_cold_start_user_gets_a_labelled_popularity_fallback(rec: Recommender) -> None:
    listed = rec.recommend("u0", k=3, explain=True)
    assert all(e.fallback for e in listed)
    assert "popularity" in listed[0].text
    popularity = np.bincount(rec.split.train.item, minlength=rec.dataset.n_items)
    assert [e.item for e in listed] == list(np.lexsort((np.arange(len(popularity)), -popularity))[:3])


def test_unknown_ids_suggest_close_matches(rec: Recommender) -> None:
    with pytest.raises(UnknownUserError, match="did you mean 'u12'") as error:
        rec.user_id("u12x")
    assert error.value.query == "u12x" and error.value.matches[0] == "u12"  # as data too, for the HTTP service
    with pytest.raises(UnknownItemError, match="unknown item 'zzz'") as error:
        rec.explain("u5", "zzz")
    assert error.value.query == "zzz"


def test_recommend_all_matches_recommend_user_by_user(rec: Recommender) -> None:
    users = ["u0", "u5", 7, "u30"]  # u0: cold start
    listed = list(rec.recommend_all(4, explain=True, users=users, batch_size=3))
    assert [uid for uid, _ in listed] == [rec.user_id(u) for u in users]
    for user, (_, explanations) in zip(users, listed):
        single = rec.recommend(user, 4, explain=True)
        assert [(e.item, e.rank, e.text) for e in explanations] == [(e.item, e.rank, e.text) for e in single]
        assert [e.score for e in explanations] == pytest.approx([e.score for e in single])


def test_recommend_all_scores_at_most_one_batch_of_users_at_a_time(rec: Recommender, monkeypatch) -> None:
    seen_batches: list[int] = []
    score_users = rec.model.score_users
    monkeypatch.setattr(rec.model, "score_users", lambda users: seen_batches.append(len(users)) or score_users(users))
    everyone = list(rec.recommend_all(3, batch_size=10))
    assert len(everyone) == rec.dataset.n_users == 48
    assert seen_batches == [10, 10, 10, 10, 8]
