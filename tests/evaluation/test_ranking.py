"""Full-ranking evaluation: metric formulas against hand-computed values, masking, ties and batching."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kgrec.data.dataset import Interactions
from kgrec.evaluation import ranking
from kgrec.evaluation.ranking import (
    evaluate_ranking,
    evaluate_top_k,
    hit_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    top_k_lowest_id,
)

INV_LOG2_3 = 1 / math.log2(3)  # discount of rank 2: 0.630930

# ---- metric functions on a hand-made hits matrix -------------------------------------------------------
HITS = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]], dtype=torch.bool)
N_RELEVANT = torch.tensor([2, 3, 1])


def _close(actual: torch.Tensor, expected: list[float]) -> None:
    assert actual.dtype == torch.float64
    assert actual.tolist() == pytest.approx(expected, abs=1e-12)


def test_recall_by_hand() -> None:
    # k=2: hits in top 2 = [1, 0, 1] over n_relevant [2, 3, 1]  -> [1/2, 0, 1]
    _close(recall_at_k(HITS, N_RELEVANT, 2), [0.5, 0.0, 1.0])
    # k=4: hits [2, 0, 1] / [2, 3, 1]                            -> [1, 0, 1]
    _close(recall_at_k(HITS, N_RELEVANT, 4), [1.0, 0.0, 1.0])
    _close(recall_at_k(HITS, N_RELEVANT), [1.0, 0.0, 1.0])  # k defaults to all columns


def test_precision_by_hand() -> None:
    # k=2: [1/2, 0/2, 1/2];  k=4: [2/4, 0/4, 1/4]
    _close(precision_at_k(HITS, N_RELEVANT, 2), [0.5, 0.0, 0.5])
    _close(precision_at_k(HITS, N_RELEVANT, 4), [0.5, 0.0, 0.25])


def test_hit_by_hand() -> None:
    _close(hit_at_k(HITS, N_RELEVANT, 2), [1.0, 0.0, 1.0])
    _close(hit_at_k(HITS, N_RELEVANT, 4), [1.0, 0.0, 1.0])
    _close(hit_at_k(HITS, N_RELEVANT, 1), [1.0, 0.0, 0.0])  # user 2's hit is at rank 2


def test_mrr_by_hand() -> None:
    # first hit at rank 1 -> 1; none -> 0; rank 2 -> 1/2 (same at k=2 and k=4, 0 for user 2 at k=1)
    _close(mrr_at_k(HITS, N_RELEVANT, 2), [1.0, 0.0, 0.5])
    _close(mrr_at_k(HITS, N_RELEVANT, 4), [1.0, 0.0, 0.5])
    _close(mrr_at_k(HITS, N_RELEVANT, 1), [1.0, 0.0, 0.0])


def test_ndcg_by_hand() -> None:
    # k=2. user 0: DCG = 1 (rank 1), IDCG over min(2, 2) = 2 positions = 1 + 1/log2(3)  -> 0.613147
    #      user 1: no hit -> 0
    #      user 2: DCG = 1/log2(3) (rank 2), IDCG over min(1, 2) = 1 position = 1       -> 0.630930
    _close(ndcg_at_k(HITS, N_RELEVANT, 2), [1 / (1 + INV_LOG2_3), 0.0, INV_LOG2_3])
    assert ndcg_at_k(HITS, N_RELEVANT, 2)[0].item() == pytest.approx(0.613147, abs=1e-6)
    # k=4. user 0: DCG = 1 + 1/log2(4) = 1.5 (ranks 1 and 3), IDCG = 1 + 1/log2(3)       -> 0.919721
    #      user 2: unchanged, IDCG still over min(1, 4) = 1 position                     -> 0.630930
    _close(ndcg_at_k(HITS, N_RELEVANT, 4), [(1 + 1 / math.log2(4)) / (1 + INV_LOG2_3), 0.0, INV_LOG2_3])
    assert ndcg_at_k(HITS, N_RELEVANT, 4)[0].item() == pytest.approx(0.919721, abs=1e-6)


def test_ndcg_idcg_uses_min_of_relevant_and_k() -> None:
    # One relevant item found at rank 1: perfect, although 3 of the 4 positions hold no hit.
    hits = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0]], dtype=torch.bool)
    # user 1 has 5 relevant, found 2 at ranks 1-2: DCG = 1 + 1/log2(3), IDCG over min(5, 4) = 4 positions
    # = 1 + 1/log2(3) + 1/2 + 1/log2(5) = 2.561606  -> 1.630930 / 2.561606 = 0.636683
    idcg = 1 + INV_LOG2_3 + 0.5 + 1 / math.log2(5)
    _close(ndcg_at_k(hits, torch.tensor([1, 5]), 4), [1.0, (1 + INV_LOG2_3) / idcg])
    assert (1 + INV_LOG2_3) / idcg == pytest.approx(0.636683, abs=1e-6)


def test_users_without_relevant_items_score_zero() -> None:
    hits = torch.zeros(1, 3, dtype=torch.bool)
    for fn in (recall_at_k, precision_at_k, hit_at_k, mrr_at_k, ndcg_at_k):
        _close(fn(hits, torch.tensor([0]), 3), [0.0])


def test_k_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError):
        recall_at_k(HITS, N_RELEVANT, 5)


# ---- ranking with ties ---------------------------------------------------------------------------------
def test_ties_break_toward_lower_item_id() -> None:
    scores = torch.tensor([[1.0, 3.0, 3.0, 2.0, 3.0, 2.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    ids, values = top_k_lowest_id(scores, 4)
    # row 0: the three 3.0s in id order, then the lower-id 2.0 (item 3 before item 5)
    assert ids.tolist() == [[1, 2, 4, 3], [0, 1, 2, 3]]
    assert values.tolist() == [[3.0, 3.0, 3.0, 2.0], [0.0, 0.0, 0.0, 0.0]]


def test_ties_match_a_stable_reference_sort() -> None:
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 4, (64, 50), generator=generator).float()  # many ties
    scores[::7, ::3] = float("-inf")
    ids, _ = top_k_lowest_id(scores, 20)
    reference = np.lexsort((np.arange(50)[None, :].repeat(64, 0), -scores.numpy()), axis=1)[:, :20]
    np.testing.assert_array_equal(ids.numpy(), reference)


def test_rows_with_and_without_ties_across_the_cut_match_a_stable_reference_sort() -> None:
    """Real-valued rows (one topk settles them) beside rows tied inside the top k, across the k-th
    place, or short of unmasked items (the tie-aware path), in one matrix."""
    generator = torch.Generator().manual_seed(1)
    scores = torch.randn(40, 30, generator=generator)
    order = scores.argsort(dim=1, descending=True)
    rows = torch.arange(40)
    scores[rows[:10], order[:10, 3]] = scores[rows[:10], order[:10, 1]]  # a tie inside the top 5
    scores[rows[10:20], order[10:20, 5]] = scores[rows[10:20], order[10:20, 4]]  # the 5th and 6th tie
    scores[rows[10:20], order[10:20, 6]] = scores[rows[10:20], order[10:20, 4]]  # ... and the 7th
    scores[20:25, 3:] = float("-inf")  # three unmasked items: two empty slots
    ids, values = top_k_lowest_id(scores, 5)
    reference = np.lexsort((np.arange(30)[None, :].repeat(40, 0), -scores.numpy()), axis=1)[:, :5]
    np.testing.assert_array_equal(ids.numpy(), reference)
    assert torch.equal(values, scores.gather(1, ids))
    assert (ids[10:20, 4] == order[10:20, 4:7].min(dim=1).values).all()  # the lowest id of the three wins
    assert torch.equal(top_k_lowest_id(scores[:3], 30)[0].sort(dim=1).values, torch.arange(30).expand(3, 30))


def test_nan_scores_are_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        top_k_lowest_id(torch.tensor([[0.0, float("nan")]]), 1)


# ---- evaluate_ranking on a hand-made score matrix ------------------------------------------------------
#            item:   0    1    2    3    4    5
SCORES = torch.tensor(
    [
        [0.9, 0.8, 0.1, 0.7, 0.3, 0.2],  # user 0, item 0 masked   -> ranking 1, 3, 4, 5, 2
        [0.5, 0.9, 0.8, 0.5, 0.1, 0.6],  # user 1, items 1, 2 masked -> 5, 0, 3 (tie 0.5: item 0 first), 4
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # user 2, item 5 masked   -> 4, 3, 2, 1, 0
    ]
)
TRAIN = Interactions(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 5]))
TEST = Interactions(np.array([0, 0, 1, 2, 2]), np.array([3, 2, 3, 4, 0]))  # relevant: {3, 2}, {3}, {4, 0}
POPULARITY = np.array([10, 20, 30, 40, 50, 60])  # as if counted on a larger training set


def score_users(users: torch.Tensor) -> torch.Tensor:
    return SCORES[users]


def test_evaluate_ranking_by_hand() -> None:
    result = evaluate_ranking(score_users, TEST, [TRAIN], 6, ks=(1, 3), item_popularity=POPULARITY)
    # top 3: user 0 [1, 3, 4] hits [0, 1, 0]; user 1 [5, 0, 3] hits [0, 0, 1]; user 2 [4, 3, 2] hits [1, 0, 0]
    expected = {
        # k=1: only user 2 hits (item 4, 1 of its 2 relevant)
        "recall@1": (0 + 0 + 1 / 2) / 3,  # 1/6
        "ndcg@1": (0 + 0 + 1) / 3,  # IDCG over min(2, 1) = 1 position
        "precision@1": 1 / 3,
        "hit@1": 1 / 3,
        "mrr@1": 1 / 3,
        "coverage@1": 3 / 6,  # items {1, 5, 4}
        "popularity@1": (20 + 60 + 50) / 3,  # 43.333
        # k=3
        "recall@3": (1 / 2 + 1 / 1 + 1 / 2) / 3,  # 2/3
        # user 0: (1/log2 3) / (1 + 1/log2 3); user 1: (1/log2 4) / 1 = 0.5; user 2: 1 / (1 + 1/log2 3);
        # users 0 and 2 sum to exactly 1, so the mean is (1 + 0.5) / 3 = 0.5
        "ndcg@3": 0.5,
        "precision@3": (1 / 3 + 1 / 3 + 1 / 3) / 3,
        "hit@3": 1.0,
        "mrr@3": (1 / 2 + 1 / 3 + 1) / 3,  # 11/18 = 0.6111
        "coverage@3": 6 / 6,  # {1, 3, 4} | {5, 0, 3} | {4, 3, 2} = all six items
        # user 0: (20+40+50)/3 = 110/3; user 1: (60+10+40)/3 = 110/3; user 2: (50+40+30)/3 = 40 -> 340/9
        "popularity@3": 340 / 9,
        "users": 3,
    }
    assert result.keys() == expected.keys()
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-9), key


def test_tie_decides_user_1_metrics() -> None:
    # user 1 scores items 0 and 3 both 0.5; the rule puts item 0 at rank 2 and the relevant item 3 at
    # rank 3, so at k=2 user 1 has no hit, and its MRR@3 is 1/3 (not 1/2).
    target = Interactions(np.array([1]), np.array([3]))
    result = evaluate_ranking(score_users, target, [TRAIN], 6, ks=(2, 3))
    assert result["hit@2"] == 0.0
    assert result["mrr@3"] == pytest.approx(1 / 3)


def test_batch_size_does_not_change_results() -> None:
    one = evaluate_ranking(score_users, TEST, [TRAIN], 6, ks=(1, 3), batch_size=1, item_popularity=POPULARITY)
    two = evaluate_ranking(score_users, TEST, [TRAIN], 6, ks=(1, 3), batch_size=2, item_popularity=POPULARITY)
    big = evaluate_ranking(score_users, TEST, [TRAIN], 6, ks=(1, 3), batch_size=1024, item_popularity=POPULARITY)
    assert one == pytest.approx(big) and two == pytest.approx(big)


def test_a_batch_holds_at_most_the_score_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # 6 items and a budget of 13 scores: 13 // 6 = 2 users per batch whatever eval.batch_size says
    monkeypatch.setattr(ranking, "MAX_BATCH_SCORES", 13)
    sizes: list[int] = []

    def recorded(users: torch.Tensor) -> torch.Tensor:
        sizes.append(len(users))
        return score_users(users)

    capped = evaluate_ranking(recorded, TEST, [TRAIN], 6, ks=(1, 3), batch_size=1024, item_popularity=POPULARITY)
    assert sizes == [2, 1]  # the 3 test users
    monkeypatch.setattr(ranking, "MAX_BATCH_SCORES", 5)  # fewer than one user's scores: still one user at a time
    sizes.clear()
    assert evaluate_ranking(recorded, TEST, [TRAIN], 6, ks=(1, 3), item_popularity=POPULARITY) == capped
    assert sizes == [1, 1, 1]
    assert capped == evaluate_ranking(score_users, TEST, [TRAIN], 6, ks=(1, 3), batch_size=1024, item_popularity=POPULARITY)


def test_no_popularity_key_without_item_popularity() -> None:
    result = evaluate_ranking(score_users, TEST, [TRAIN], 6, ks=(2,))
    assert "popularity@2" not in result and "coverage@2" in result


def test_masked_relevant_item_cannot_be_hit() -> None:
    # user 0's only relevant item 0 is its top-scored item, but it is a training item: masked, never a hit
    target = Interactions(np.array([0]), np.array([0]))
    result = evaluate_ranking(score_users, target, [TRAIN], 6, ks=(5,))
    assert result["hit@5"] == 0.0 and result["recall@5"] == 0.0 and result["ndcg@5"] == 0.0
    # k=6 reaches the -inf slot holding item 0: an empty slot, still not a hit and not covered
    result = evaluate_ranking(score_users, target, [TRAIN], 6, ks=(6,))
    assert result["hit@6"] == 0.0 and result["coverage@6"] == 5 / 6


def test_valid_part_is_masked_too() -> None:
    # when testing, valid items are masked as well: user 2's best unmasked item 4 moves out of reach
    valid = Interactions(np.array([2]), np.array([4]))
    target = Interactions(np.array([2]), np.array([3]))
    ids, _ = evaluate_top_k(score_users, [2], [TRAIN, valid], 6, k=1)
    assert ids.tolist() == [[3]]
    assert evaluate_ranking(score_users, target, [TRAIN, valid], 6, ks=(1,))["hit@1"] == 1.0


def test_masked_items_never_in_top_k() -> None:
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    scores = torch.from_numpy(rng.integers(0, 5, (n_users, n_items)).astype(np.float32))
    train = Interactions(rng.integers(0, n_users, 300), rng.integers(0, n_items, 300))
    ids, values = evaluate_top_k(lambda u: scores[u], np.arange(n_users), [train], n_items, k=10, batch_size=7)
    masked = set(zip(train.user.tolist(), train.item.tolist()))
    assert torch.isfinite(values).all()  # every user has > 10 unmasked items here
    assert not any((u, i) in masked for u in range(n_users) for i in ids[u].tolist())
    assert (values[:, :-1] >= values[:, 1:]).all()


def test_evaluate_top_k_accepts_tensors_and_returns_best_first() -> None:
    ids, values = evaluate_top_k(score_users, torch.tensor([1, 0]), [TRAIN], 6, k=2)
    assert ids.tolist() == [[5, 0], [1, 3]]
    assert values.flatten().tolist() == pytest.approx([0.6, 0.5, 0.8, 0.7])


def test_score_function_output_is_not_modified() -> None:
    before = SCORES.clone()
    evaluate_ranking(lambda u: SCORES[: len(u)] if len(u) == 3 else SCORES[u], TEST, [TRAIN], 6, ks=(2,))
    assert torch.equal(SCORES, before)


def test_wrong_score_shape_and_k_are_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        evaluate_ranking(lambda u: SCORES[u, :5], TEST, [TRAIN], 6, ks=(2,))
    with pytest.raises(ValueError, match="k=7"):
        evaluate_ranking(score_users, TEST, [TRAIN], 6, ks=(7,))


def test_no_target_users_gives_nan() -> None:
    empty = Interactions(np.zeros(0, np.int64), np.zeros(0, np.int64))
    result = evaluate_ranking(score_users, empty, [TRAIN], 6, ks=(2,))
    assert result["users"] == 0 and math.isnan(result["recall@2"])
