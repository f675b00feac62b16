"""The CTR protocol: AUC / F1 / accuracy by hand and against sklearn, and negative sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from kgrec.data.dataset import Interactions
from kgrec.evaluation.ctr import evaluate_ctr, sample_negatives


def table_scorer(table: dict[tuple[int, int], float]):
    """A pair scorer reading fixed scores from a {(user, item): score} table."""

    def score(users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return torch.tensor([table[(u, i)] for u, i in zip(users.tolist(), items.tolist())])

    return score


def test_auc_f1_accuracy_by_hand() -> None:
    # positives score [2, 0.5], negatives [1, -1]. Of the 2x2 (pos, neg) pairs, the positive wins
    # (2>1), (2>-1), (0.5>-1) and loses (0.5<1): AUC = 3/4.
    # sigmoid: [0.881, 0.622 | 0.731, 0.269]; at >= 0.5 predicted [1, 1 | 1, 0]
    # TP = 2, FP = 1, FN = 0: precision 2/3, recall 1, F1 = 2*(2/3)/(2/3+1) = 0.8; accuracy 3/4.
    positives = Interactions(np.array([0, 1]), np.array([0, 1]))
    negatives = np.array([2, 3])
    scorer = table_scorer({(0, 0): 2.0, (1, 1): 0.5, (0, 2): 1.0, (1, 3): -1.0})
    result = evaluate_ctr(scorer, positives, negatives)
    assert result == pytest.approx({"auc": 0.75, "f1": 0.8, "accuracy": 0.75, "pairs": 4})


def test_threshold_moves_f1() -> None:
    # at 0.7 the predictions are [1, 0 | 1, 0]: TP 1, FP 1, FN 1 -> F1 = 0.5, accuracy 2/4
    positives = Interactions(np.array([0, 1]), np.array([0, 1]))
    scorer = table_scorer({(0, 0): 2.0, (1, 1): 0.5, (0, 2): 1.0, (1, 3): -1.0})
    result = evaluate_ctr(scorer, positives, np.array([2, 3]), threshold=0.7, batch_size=1)
    assert result["f1"] == pytest.approx(0.5) and result["accuracy"] == pytest.approx(0.5)


def test_auc_equals_sklearn_and_batching_is_invisible() -> None:
    rng = np.random.default_rng(3)
    n_users, n_items = 20, 50
    weights = torch.from_numpy(rng.normal(size=(n_users, n_items)))
    positives = Interactions(rng.integers(0, n_users, 200), rng.integers(0, n_items, 200))
    negatives = rng.integers(0, n_items, 200)
    scorer = lambda u, i: weights[u, i]  # noqa: E731
    result = evaluate_ctr(scorer, positives, negatives, batch_size=33)
    table = weights.numpy()
    scores = np.concatenate([table[positives.user, positives.item], table[positives.user, negatives]])
    labels = np.r_[np.ones(200), np.zeros(200)]
    assert result["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert result == evaluate_ctr(scorer, positives, negatives, batch_size=65536)


def test_large_scores_do_not_saturate_the_auc() -> None:
    # float32 sigmoid(40) == sigmoid(50) == 1.0; AUC from the scores still orders them: 1.0, not 0.75
    positives = Interactions(np.array([0, 0]), np.array([0, 1]))
    scorer = table_scorer({(0, 0): 50.0, (0, 1): 45.0, (0, 2): 40.0, (0, 3): -5.0})
    assert evaluate_ctr(scorer, positives, np.array([2, 3]))["auc"] == 1.0


def test_mismatched_negatives_are_rejected() -> None:
    with pytest.raises(ValueError, match="one per positive"):
        evaluate_ctr(table_scorer({}), Interactions(np.array([0]), np.array([0])), np.array([1, 2]))


def test_sampled_negatives_avoid_known_positives_and_are_reproducible() -> None:
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 12
    everything = Interactions(rng.integers(0, n_users, 250), rng.integers(0, n_items, 250))  # ~half of all pairs
    test = everything.take(np.arange(0, 250, 5))
    known = everything.pair_keys(n_items)
    negatives = sample_negatives(test, known, n_items, seed=7)
    assert negatives.shape == (len(test),) and negatives.dtype == np.int64
    assert ((negatives >= 0) & (negatives < n_items)).all()
    assert not np.isin(test.user * n_items + negatives, known).any()
    np.testing.assert_array_equal(negatives, sample_negatives(test, known, n_items, seed=7))
    assert not np.array_equal(negatives, sample_negatives(test, known, n_items, seed=8))


def test_only_free_item_is_always_drawn() -> None:
    # user 0 is positive with items 0-3 of 5: its negative must be item 4, every time
    known = Interactions(np.zeros(4, np.int64), np.arange(4)).pair_keys(5)
    pairs = Interactions(np.zeros(100, np.int64), np.zeros(100, np.int64))
    assert (sample_negatives(pairs, known, 5, seed=1) == 4).all()


def test_user_positive_with_every_item_is_an_error() -> None:
    known = Interactions(np.zeros(3, np.int64), np.arange(3)).pair_keys(3)
    with pytest.raises(ValueError, match="all 3 items"):
        sample_negatives(Interactions(np.array([0]), np.array([0])), known, 3, seed=0)


def test_negatives_are_roughly_uniform() -> None:
    # user 0 knows item 0 only: negatives spread over items 1..4, each ~1/4 of 4000 draws
    pairs = Interactions(np.zeros(4000, np.int64), np.zeros(4000, np.int64))
    counts = np.bincount(sample_negatives(pairs, pairs.pair_keys(5)[:1], 5, seed=0), minlength=5)
    assert counts[0] == 0 and (np.abs(counts[1:] - 1000) < 150).all()
