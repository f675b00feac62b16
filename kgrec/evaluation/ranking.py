"""Full-ranking top-k evaluation: every user is ranked against the whole item catalogue.

Metrics follow RecBole's definitions. A user's already-seen items (the ``masked`` parts: train, plus valid
when testing) get score ``-inf`` before ranking. Ties are broken toward the lower item id, so a ranking
never depends on ``torch.topk``'s unspecified tie order, the device or the batch size.

A slot of a top-k list whose score is ``-inf`` (only possible when a user has fewer than k unmasked items,
or the model itself scores ``-inf``) is *empty*: it is never a hit and counts toward neither coverage nor
popularity.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from kgrec.config import METRIC_NAMES as METRICS
from kgrec.data.dataset import Interactions

ScoreFn = Callable[[Tensor], Tensor]
"""Given a LongTensor of B user ids, returns their ``[B, n_items]`` scores (higher = more relevant)."""


# ---- metrics -------------------------------------------------------------------------------------------
def _cut(hits: Tensor, k: int | None) -> tuple[Tensor, int]:
    """The first ``k`` columns of ``hits`` as float (all of them when ``k`` is None), and k."""
    k = hits.shape[1] if k is None else k
    if not 0 < k <= hits.shape[1]:
        raise ValueError(f"k={k} outside 1..{hits.shape[1]} (the number of ranked positions)")
    return hits[:, :k].to(torch.float64), k


def recall_at_k(hits: Tensor, n_relevant: Tensor, k: int | None = None) -> Tensor:
    r"""Recall@k per user: :math:`\sum_{j<k} hits_j / n_{relevant}` (0 for a user with nothing relevant)."""
    cut, _ = _cut(hits, k)
    return cut.sum(dim=1) / n_relevant.to(torch.float64).clamp(min=1)


def precision_at_k(hits: Tensor, n_relevant: Tensor, k: int | None = None) -> Tensor:
    r"""Precision@k per user: :math:`\sum_{j<k} hits_j / k` (``n_relevant`` unused, kept for a uniform API)."""
    cut, k = _cut(hits, k)
    return cut.sum(dim=1) / k


def hit_at_k(hits: Tensor, n_relevant: Tensor, k: int | None = None) -> Tensor:
    r"""Hit@k per user: 1 if any of the top k is relevant, else 0."""
    cut, _ = _cut(hits, k)
    return (cut.sum(dim=1) > 0).to(torch.float64)


def mrr_at_k(hits: Tensor, n_relevant: Tensor, k: int | None = None) -> Tensor:
    r"""MRR@k per user: :math:`1 / rank` of the first relevant item within the top k (ranks from 1), else 0."""
    cut, _ = _cut(hits, k)
    first = cut.argmax(dim=1)  # index of the first maximum, i.e. the first hit when there is one
    return (cut.sum(dim=1) > 0).to(torch.float64) / (first + 1).to(torch.float64)


def ndcg_at_k(hits: Tensor, n_relevant: Tensor, k: int | None = None) -> Tensor:
    r"""NDCG@k per user with binary relevance: DCG / IDCG.

    :math:`DCG = \sum_{j<k} hits_j / \log_2(j + 2)` (j from 0, so rank 1 has discount 1) and IDCG the DCG of
    an ideal list, relevant items in the first :math:`\min(n_{relevant}, k)` positions. 0 when nothing is
    relevant.
    """
    cut, k = _cut(hits, k)
    discount = 1.0 / torch.log2(torch.arange(k, dtype=torch.float64, device=hits.device) + 2.0)
    dcg = (cut * discount).sum(dim=1)
    ideal_len = n_relevant.to(hits.device).clamp(min=0, max=k)
    idcg = torch.cat([discount.new_zeros(1), discount.cumsum(0)])[ideal_len]
    return torch.where(ideal_len > 0, dcg / idcg.clamp(min=1e-12), torch.zeros_like(dcg))


METRIC_FNS: dict[str, Callable[[Tensor, Tensor, int | None], Tensor]] = {
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "precision": precision_at_k,
    "hit": hit_at_k,
    "mrr": mrr_at_k,
}


# ---- per-user item sets and ranking -------------------------------------------------------------------
class UserItems:
    """The items of each user over some interaction parts, as a CSR structure (memory O(interactions)).

    ``entries(users)`` yields the (row in ``users``, item) pairs of a batch, so a dense ``[B, n_items]``
    mask is built per batch and never for all users at once.
    """

    def __init__(self, parts: Sequence[Interactions], n_items: int) -> None:
        users = np.concatenate([np.asarray(p.user, dtype=np.int64) for p in parts] or [np.zeros(0, np.int64)])
        items = np.concatenate([np.asarray(p.item, dtype=np.int64) for p in parts] or [np.zeros(0, np.int64)])
        keys = np.unique(users * np.int64(n_items) + items)  # sorted by user then item, duplicates gone
        row_users = keys // n_items
        self.items = keys % n_items
        n_rows = int(row_users[-1]) + 1 if len(keys) else 0
        self.indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_users, minlength=n_rows), out=self.indptr[1:])

    def counts(self, users: np.ndarray) -> np.ndarray:
        """Number of distinct items of each user (0 for users never seen)."""
        starts, ends = self._bounds(users)
        return ends - starts

    def entries(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row positions into ``users`` and item ids of all their items, vectorised."""
        starts, ends = self._bounds(users)
        lengths = ends - starts
        rows = np.repeat(np.arange(len(users)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return rows, self.items[np.repeat(starts, lengths) + offsets]

    def _bounds(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        users = np.asarray(users, dtype=np.int64)
        known = users < len(self.indptr) - 1
        safe = np.where(known, users, 0)
        starts = np.where(known, self.indptr[safe], 0)
        ends = np.where(known, self.indptr[np.minimum(safe + 1, len(self.indptr) - 1)], 0)
        return starts, ends

    def dense(self, users: np.ndarray, n_items: int, device: torch.device) -> Tensor:
        """A bool ``[len(users), n_items]`` matrix, True where the user has the item."""
        rows, items = self.entries(users)
        out = torch.zeros(len(users), n_items, dtype=torch.bool, device=device)
        out[torch.as_tensor(rows, device=device), torch.as_tensor(items, device=device)] = True
        return out


def top_k_lowest_id(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-k item ids and scores per row, ties broken toward the lower item id (deterministic).

    One ``torch.topk`` of k + 1 settles every row whose k-th score is above its (k+1)-th: its top k are
    then known, and only their order among equal scores is fixed (id-ascending). Rows with a tie across
    the cut, rare with real-valued scores, go through :func:`_top_k_across_ties`. NaN scores are
    rejected: they have no place in a ranking.
    """
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN; the model produced an invalid score")
    n_items = scores.shape[1]
    values, ids = torch.topk(scores, min(k + 1, n_items), dim=1)
    ids = ids[:, :k].sort(dim=1).values  # id-ascending, so that the stable sort keeps ties in id order
    if k < n_items:
        tied = (values[:, k - 1] == values[:, k]).nonzero().flatten()
        if len(tied):
            ids[tied] = _top_k_across_ties(scores[tied], values[tied, k - 1 : k], k)
    order_values = scores.gather(1, ids)
    order = torch.sort(order_values, dim=1, descending=True, stable=True).indices
    return ids.gather(1, order), order_values.gather(1, order)


def _top_k_across_ties(scores: Tensor, kth: Tensor, k: int) -> Tensor:
    """The top-k ids per row, id-ascending, where the k-th score ``kth`` [B, 1] may be tied beyond k: every
    item above it is kept, and the items equal to it are taken in id order until k are chosen. Only the
    tied entries are listed (no int64 ``[B, n_items]`` buffer)."""
    n_rows, n_items = scores.shape
    above = scores > kth
    needed = k - above.sum(dim=1)
    above_rows, above_ids = above.nonzero(as_tuple=True)
    tied_rows, tied_ids = (scores == kth).nonzero(as_tuple=True)  # row-major: ids ascending within a row
    rank_in_row = torch.arange(len(tied_rows), device=scores.device) - torch.searchsorted(tied_rows, tied_rows)
    keep = rank_in_row < needed[tied_rows]
    keys = torch.cat([above_rows * n_items + above_ids, tied_rows[keep] * n_items + tied_ids[keep]])
    return (keys.sort().values % n_items).view(n_rows, k)


# ---- one user's ranking (recommendations and explanations) ----------------------------------------------
def user_histories(interactions: Interactions, n_users: int) -> list[np.ndarray]:
    """Each user's items in ``interactions`` (a user's training history), in the order they appear there."""
    order = np.argsort(interactions.user, kind="stable")
    bounds = np.searchsorted(interactions.user[order], np.arange(n_users + 1))
    return [interactions.item[order[bounds[u] : bounds[u + 1]]] for u in range(n_users)]


def history_mask(history: np.ndarray, n_items: int) -> np.ndarray:
    """Bool [n_items], True at the items of ``history``: the items left out of that user's ranking."""
    masked = np.zeros(n_items, dtype=bool)
    masked[np.asarray(history, dtype=np.int64)] = True
    return masked


def rank_of(scores: Tensor, item: int, masked: np.ndarray) -> int:
    """1-based rank of ``item`` in one user's ``scores`` among the unmasked items (ties → lower item id first,
    as in :func:`top_k_lowest_id`)."""
    values = scores.detach().cpu().numpy()
    value = values[item]
    open_ = ~masked
    higher = int(np.sum((values > value) & open_))
    tied_before = int(np.sum((values[:item] == value) & open_[:item]))
    return 1 + higher + tied_before


def top_k(scores: Tensor, k: int, exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` item ids and scores of one user's score vector with the ``exclude`` items left out (ties →
    lower id, as in :func:`top_k_lowest_id`); fewer than ``k`` when fewer items are left."""
    scores = scores.detach().cpu().clone()
    if len(exclude):
        scores[torch.as_tensor(exclude, dtype=torch.long)] = -torch.inf
    k = min(k, int(torch.isfinite(scores).sum()))
    if k < 1:
        return np.zeros(0, dtype=np.int64), scores.numpy()[:0]
    ids, values = top_k_lowest_id(scores.unsqueeze(0), k)
    return ids[0].numpy(), values[0].numpy()


def _masked_scores(
    score_users: ScoreFn, users: np.ndarray, seen: UserItems, n_items: int, device: torch.device
) -> Tensor:
    """The users' scores on ``device`` (a copy, safe to modify) with their seen items set to ``-inf``."""
    scores = score_users(torch.as_tensor(users, dtype=torch.long, device=device))
    if scores.shape != (len(users), n_items):
        raise ValueError(f"score function returned shape {tuple(scores.shape)}, expected ({len(users)}, {n_items})")
    scores = scores.detach().to(device=device, copy=True)
    if not scores.is_floating_point():
        scores = scores.float()
    rows, items = seen.entries(users)
    scores[torch.as_tensor(rows, device=device), torch.as_tensor(items, device=device)] = float("-inf")
    return scores


#: The most scores one ranking batch holds (2²⁶ floats, 256 MB): with a catalogue of millions of items a batch
#: of ``eval.batch_size`` users would hold gigabytes, and its masked copy as many again.
MAX_BATCH_SCORES = 1 << 26


def _ranked_batches(
    score_users: ScoreFn,
    users: np.ndarray,
    seen: UserItems,
    n_items: int,
    k: int,
    batch_size: int,
    device: torch.device,
    progress: bool,
) -> Iterator[tuple[np.ndarray, Tensor, Tensor]]:
    """Yield (batch users, top-k ids, top-k scores) over ``users`` in batches, seen items masked; a batch has
    ``batch_size`` users, fewer where their score matrix would hold more than :data:`MAX_BATCH_SCORES` scores."""
    if not 0 < k <= n_items:
        raise ValueError(f"k={k} must be between 1 and the number of items ({n_items})")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    batch_size = min(batch_size, max(1, MAX_BATCH_SCORES // n_items))
    starts = range(0, len(users), batch_size)
    with torch.no_grad():
        for start in tqdm(starts, desc="ranking", unit="batch", disable=not progress):
            batch = users[start : start + batch_size]
            ids, values = top_k_lowest_id(_masked_scores(score_users, batch, seen, n_items, device), k)
            yield batch, ids, values


def evaluate_top_k(
    score_users: ScoreFn,
    users: Sequence[int] | np.ndarray | Tensor,
    masked: Sequence[Interactions],
    n_items: int,
    k: int,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> tuple[Tensor, Tensor]:
    """Top-k item ids and scores (``[len(users), k]`` each, best first) with the ``masked`` items excluded.

    Masked items score ``-inf`` and can only fill a list when a user has fewer than k other items.
    """
    users = np.array(users.cpu().numpy() if isinstance(users, Tensor) else users, dtype=np.int64).reshape(-1)
    device = torch.device(device)
    seen = UserItems(masked, n_items)
    batches = list(_ranked_batches(score_users, users, seen, n_items, k, batch_size, device, progress))
    if not batches:
        return torch.zeros(0, k, dtype=torch.long, device=device), torch.zeros(0, k, device=device)
    return torch.cat([b[1] for b in batches]), torch.cat([b[2] for b in batches])


# ---- the full evaluation ------------------------------------------------------------------------------
def evaluate_ranking(
    score_users: ScoreFn,
    target: Interactions,
    masked: Sequence[Interactions],
    n_items: int,
    ks: Sequence[int] = (10, 20),
    batch_size: int = 1024,
    item_popularity: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> dict[str, float]:
    """Full-ranking metrics of every user with at least one ``target`` interaction, means over those users.

    Keys ``recall@k``, ``ndcg@k``, ``precision@k``, ``hit@k``, ``mrr@k`` and ``coverage@k`` (share of
    the catalogue in at least one user's top k) per k; ``popularity@k`` (per-user mean of
    ``item_popularity`` over the recommended items, then averaged over users) when popularity is given;
    and ``users``, the number evaluated. The relevant items of a user are its distinct target items,
    including any that are also masked (those can never be hit). With no user to evaluate the metrics
    are NaN and ``users`` is 0.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive cut-offs, got {ks}")
    device = torch.device(device)
    users = np.unique(np.asarray(target.user, dtype=np.int64))
    relevant = UserItems([target], n_items)
    popularity = None
    if item_popularity is not None:
        popularity = torch.as_tensor(np.asarray(item_popularity, np.float64), device=device)
    sums: dict[str, float] = defaultdict(float)
    covered = {k: torch.zeros(n_items, dtype=torch.bool, device=device) for k in ks}
    seen = UserItems(masked, n_items)
    batches = _ranked_batches(score_users, users, seen, n_items, ks[-1], batch_size, device, progress)
    for batch, ids, values in batches:
        filled = torch.isfinite(values) | (values > 0)  # an empty slot scores -inf; +inf is a real top score
        hits = relevant.dense(batch, n_items, device).gather(1, ids) & filled
        n_relevant = torch.as_tensor(relevant.counts(batch), device=device)
        for k in ks:
            for key, total in _batch_sums(hits, n_relevant, ids, filled, k, popularity).items():
                sums[key] += total
            covered[k][ids[:, :k][filled[:, :k]]] = True
    n_users = len(users)
    mean = (lambda total: total / n_users) if n_users else (lambda total: float("nan"))
    result: dict[str, float] = {}
    for k in ks:
        result.update({f"{metric}@{k}": mean(sums[f"{metric}@{k}"]) for metric in METRICS})
        result[f"coverage@{k}"] = float(covered[k].sum()) / n_items if n_users else float("nan")
        if popularity is not None:
            result[f"popularity@{k}"] = mean(sums[f"popularity@{k}"])
    result["users"] = n_users
    return result


def _batch_sums(
    hits: Tensor, n_relevant: Tensor, ids: Tensor, filled: Tensor, k: int, popularity: Tensor | None
) -> dict[str, float]:
    """Sums over a batch's users of each metric at ``k`` (and of the per-user mean popularity)."""
    sums = {f"{metric}@{k}": float(fn(hits, n_relevant, k).sum()) for metric, fn in METRIC_FNS.items()}
    if popularity is not None:
        sums[f"popularity@{k}"] = float(_mean_popularity(popularity, ids[:, :k], filled[:, :k]).sum())
    return sums


def _mean_popularity(popularity: Tensor, ids: Tensor, filled: Tensor) -> Tensor:
    """Per-user mean popularity over the filled slots of its top-k list (0 for an all-empty list)."""
    values = popularity[ids] * filled
    return values.sum(dim=1) / filled.sum(dim=1).clamp(min=1)
