"""KeySet: the bitmap and the binary search answer alike; the sampler's negatives do not depend on which is used."""

from __future__ import annotations

import numpy as np
import pytest

from kgrec.data import sampling
from kgrec.data.dataset import Interactions
from kgrec.data.sampling import KeySet, NegativeSampler


@pytest.mark.parametrize("limit", [sampling.BITMAP_LIMIT, 0], ids=["bitmap", "binary-search"])
def test_keyset_membership_by_hand(monkeypatch, limit) -> None:
    monkeypatch.setattr(sampling, "BITMAP_LIMIT", limit)
    keys = KeySet(np.array([7, 3, 3, 12], dtype=np.int64))
    assert (keys.bitmap is not None) == (limit > 0)
    assert len(keys) == 3
    queries = np.array([0, 3, 4, 7, 11, 12, 13, 10_000], dtype=np.int64)
    assert keys.contains(queries).tolist() == [False, True, False, True, False, True, False, False]
    assert KeySet(np.array([], dtype=np.int64)).contains(queries).tolist() == [False] * 8


def test_sampler_draws_the_same_negatives_with_either_lookup(monkeypatch) -> None:
    # 3 users × 4 items; user 0 knows items 0, 1, 2 — its only negative is item 3
    train = Interactions(np.array([0, 0, 0, 1, 2]), np.array([0, 1, 2, 3, 0]))
    drawn = NegativeSampler(train, 4, seed=5).sample(np.array([0, 0, 1, 2, 0]))
    monkeypatch.setattr(sampling, "BITMAP_LIMIT", 0)
    assert NegativeSampler(train, 4, seed=5).sample(np.array([0, 0, 1, 2, 0])).tolist() == drawn.tolist()
    assert drawn[[0, 1, 4]].tolist() == [3, 3, 3]
    assert drawn[2] != 3 and drawn[3] != 0
