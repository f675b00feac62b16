"""Hits and top-k slots by training-count bucket, against a small hand-drawn case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kgrec.data.dataset import Interactions
from kgrec.evaluation.breakdown import popularity_breakdown

# 6 items with training counts 0, 1, 1, 3, 5, 0 -> buckets [0, 1): {0, 5}, [1, 3): {1, 2}, [3, 10): {3, 4}, >= 10: {}
TRAIN_COUNTS = np.array([0, 1, 1, 3, 5, 0])
EDGES = (0, 1, 3, 10)
# user 0's list: 3, 0; user 1's list: 4, then an empty slot (its -inf filler, item 1, must not count)
LIST_USERS = np.array([0, 1])
TOP_ITEMS = np.array([[3, 0], [4, 1]])
FILLED = np.array([[True, True], [True, False]])
# (0, 0) hit in [0, 1); (0, 5) missed in [0, 1); (1, 1) only in the empty slot: missed in [1, 3); (1, 4) hit in [3, 10)
TARGET = Interactions(user=np.array([0, 0, 1, 1]), item=np.array([0, 5, 1, 4]))


def test_breakdown_matches_the_hand_count() -> None:
    table = popularity_breakdown(LIST_USERS, TOP_ITEMS, FILLED, TARGET, TRAIN_COUNTS, EDGES)
    assert table["train_count"].tolist() == ["[0, 1)", "[1, 3)", "[3, 10)", "≥ 10"]
    assert table["items"].tolist() == [2, 2, 2, 0]
    assert table["interactions"].tolist() == [2, 1, 1, 0]
    assert table["per_item"].tolist()[:3] == [1.0, 0.5, 0.5]
    assert table["hit_rate"].tolist()[:3] == [0.5, 0.0, 1.0]
    # 3 filled slots: item 0 ([0, 1)), items 3 and 4 ([3, 10))
    assert table["slot_share"].tolist() == pytest.approx([1 / 3, 0.0, 2 / 3, 0.0])
    assert math.isnan(table["per_item"].iloc[3]) and math.isnan(table["hit_rate"].iloc[3])


def test_list_order_does_not_matter() -> None:
    table = popularity_breakdown(LIST_USERS[::-1], TOP_ITEMS[::-1], FILLED[::-1], TARGET, TRAIN_COUNTS, EDGES)
    assert table["hit_rate"].tolist()[:3] == [0.5, 0.0, 1.0]


def test_a_target_user_without_a_list_is_named() -> None:
    target = Interactions(user=np.array([0, 7]), item=np.array([0, 1]))
    with pytest.raises(ValueError, match="user 7 has target interactions but no top-k list"):
        popularity_breakdown(LIST_USERS, TOP_ITEMS, FILLED, target, TRAIN_COUNTS, EDGES)


@pytest.mark.parametrize("edges", [(1, 3), (0, 3, 3), ()])
def test_bad_edges_are_refused(edges: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="edges must start at 0 and increase strictly"):
        popularity_breakdown(LIST_USERS, TOP_ITEMS, FILLED, TARGET, TRAIN_COUNTS, edges)


def test_a_user_with_two_lists_is_refused() -> None:
    with pytest.raises(ValueError, match="must not repeat a user"):
        popularity_breakdown(np.array([0, 0]), TOP_ITEMS, FILLED, TARGET, TRAIN_COUNTS, EDGES)
