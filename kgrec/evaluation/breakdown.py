"""Where a ranking's hits come from: held-out interactions and top-k slots split by the items' training counts.

Recall averages over users and hides which items it is made of. Split by how often each item was seen in
training, the held-out interactions, the share of top-k slots and the hit rate show whether a model spends its
slots where the held-out interactions are (e.g. items without any training interaction, which BPR only ever
sees as negatives).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from kgrec.data.dataset import Interactions

DEFAULT_EDGES = (0, 1, 2, 3, 5, 10, 20, 50)
"""Lower bounds of the training-count buckets; the last bucket is open-ended."""


def _bucket_labels(edges: Sequence[int]) -> list[str]:
    uppers = [*edges[1:], None]
    return [f"[{low}, {high})" if high is not None else f"≥ {low}" for low, high in zip(edges, uppers, strict=True)]


def popularity_breakdown(
    list_users: np.ndarray,
    top_items: np.ndarray,
    filled: np.ndarray,
    target: Interactions,
    train_counts: np.ndarray,
    edges: Sequence[int] = DEFAULT_EDGES,
) -> pd.DataFrame:
    """One row per training-count bucket ``[edges[j], edges[j+1])`` (the last one open-ended).

    ``top_items`` [n, k] are the top-k lists of ``list_users`` [n] and ``filled`` [n, k] marks the slots that
    hold an item (False for the empty ``-inf`` slots of users with fewer than k candidates); ``train_counts``
    [n_items] is each item's number of training interactions. Columns: ``items`` in the bucket,
    ``interactions`` of ``target`` on them, ``per_item`` (interactions / items), ``hit_rate`` (share of those
    interactions in their user's list) and ``slot_share`` (share of all filled slots that hold the bucket's
    items). Raises ValueError when a user has two lists or a target user none, or when the edges do not
    start at 0 and increase.
    """
    edges = [int(e) for e in edges]
    if not edges or edges[0] != 0 or any(b <= a for a, b in pairwise(edges)):
        raise ValueError(f"edges must start at 0 and increase strictly, got {edges}")
    list_users = np.asarray(list_users, dtype=np.int64)
    top_items, filled = np.asarray(top_items, dtype=np.int64), np.asarray(filled, dtype=bool)
    if top_items.shape != filled.shape or top_items.shape[0] != len(list_users):
        raise ValueError(f"top_items {top_items.shape}, filled {filled.shape} and {len(list_users)} users disagree")
    if len(np.unique(list_users)) != len(list_users):
        raise ValueError("list_users must not repeat a user")
    row_of = pd.Series(np.arange(len(list_users)), index=list_users)
    missing = ~np.isin(target.user, list_users)
    if missing.any():
        raise ValueError(f"user {int(target.user[missing][0])} has target interactions but no top-k list")
    rows = row_of.loc[target.user].to_numpy()
    hit = ((top_items[rows] == target.item[:, None]) & filled[rows]).any(axis=1)

    bucket_of_item = np.searchsorted(edges, np.asarray(train_counts), side="right") - 1
    n_buckets = len(edges)
    items = np.bincount(bucket_of_item, minlength=n_buckets)
    target_bucket = bucket_of_item[target.item]
    interactions = np.bincount(target_bucket, minlength=n_buckets)
    hits = np.bincount(target_bucket, weights=hit.astype(float), minlength=n_buckets)
    slots = np.bincount(bucket_of_item[top_items[filled]], minlength=n_buckets)
    return pd.DataFrame({
        "train_count": _bucket_labels(edges),
        "items": items,
        "interactions": interactions,
        "per_item": np.where(items > 0, interactions / np.maximum(items, 1), np.nan),
        "hit_rate": np.where(interactions > 0, hits / np.maximum(interactions, 1), np.nan),
        "slot_share": slots / max(int(filled.sum()), 1),
    })
