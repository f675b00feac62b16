"""BPR training triples: each positive (u, i) with an item j the user has not interacted with in training."""

from __future__ import annotations

import numpy as np

from kgrec.data.dataset import Interactions

#: Largest key range (users × items) looked up in a dense bitmap (a byte per pair: 64 MB), not by binary search.
BITMAP_LIMIT = 1 << 26


class KeySet:
    """Membership of non-negative int64 keys (``user · n_items + item``): the sorted distinct keys, and where
    their range is at most :data:`BITMAP_LIMIT`, a bitmap over it — one lookup per query instead of a binary
    search (20× faster for MovieLens-1M's 35 M negatives per epoch at 64 per positive; the same answers)."""

    def __init__(self, keys: np.ndarray) -> None:
        self.sorted = np.unique(np.asarray(keys, dtype=np.int64))
        top = int(self.sorted[-1]) + 1 if len(self.sorted) else 0
        self.bitmap: np.ndarray | None = None
        if top <= BITMAP_LIMIT:
            self.bitmap = np.zeros(top + 1, dtype=bool)  # the last slot stands for every key ≥ top: absent
            self.bitmap[self.sorted] = True

    def __len__(self) -> int:
        return len(self.sorted)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Whether each key is in the set (a bool array shaped like ``keys``)."""
        if self.bitmap is not None:
            return self.bitmap[np.minimum(keys, len(self.bitmap) - 1)]
        if not len(self.sorted):
            return np.zeros(len(keys), dtype=bool)
        position = np.minimum(np.searchsorted(self.sorted, keys), len(self.sorted) - 1)
        return self.sorted[position] == keys


class NegativeSampler:
    """Uniform negatives outside each user's training items, by vectorised rejection sampling.

    Only training interactions count as known positives: valid and test items are never consulted, so
    the sampler leaks nothing about the held-out parts.
    """

    def __init__(self, train: Interactions, n_items: int, seed: int) -> None:
        self.n_items = n_items
        self.known = KeySet(train.pair_keys(n_items))
        self.rng = np.random.default_rng(seed)

    def sample(self, users: np.ndarray) -> np.ndarray:
        """One negative item per user id in ``users``."""
        items = self.rng.integers(0, self.n_items, size=len(users))
        pending = np.flatnonzero(self._is_known(users, items))
        while len(pending):
            items[pending] = self.rng.integers(0, self.n_items, size=len(pending))
            pending = pending[self._is_known(users[pending], items[pending])]
        return items

    def _is_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.known.contains(users.astype(np.int64) * np.int64(self.n_items) + items)

    def epoch(self, train: Interactions, batch_size: int, negatives_per_positive: int = 1) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Shuffled (users, positives, negatives) mini-batches covering every training pair once.

        Negatives have shape [B] with one per positive, or [B, m] with ``negatives_per_positive`` = m > 1.
        """
        order = self.rng.permutation(len(train))
        users, items = train.user[order], train.item[order]
        if negatives_per_positive == 1:
            negatives = self.sample(users)
        else:
            negatives = self.sample(np.repeat(users, negatives_per_positive)).reshape(len(users), negatives_per_positive)
        return [
            (users[s : s + batch_size], items[s : s + batch_size], negatives[s : s + batch_size])
            for s in range(0, len(order), batch_size)
        ]
