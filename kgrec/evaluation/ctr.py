"""The CTR protocol of KGCN / RippleNet: each held-out positive pair is matched with one sampled negative.

Negatives are drawn uniformly among the items the user has no known positive with over *all* parts (so a
held-out positive is never scored as a negative); the model's score is read as a logit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.metrics import f1_score, roc_auc_score
from torch import Tensor

from kgrec.data.dataset import Interactions, RecDataset
from kgrec.data.sampling import KeySet
from kgrec.data.split import Split

PairScoreFn = Callable[[Tensor, Tensor], Tensor]
"""Given LongTensors of user ids and item ids (same length B), returns B scores (logits)."""


def sample_negatives(pairs: Interactions, known_positive_keys: np.ndarray, n_items: int, seed: int) -> np.ndarray:
    """One negative item per pair of ``pairs``, uniform over the items its user has no known positive with.

    ``known_positive_keys`` are ``pair_keys(n_items)`` of every part (train, valid, test); the keys of
    ``pairs`` themselves are always treated as known. Vectorised
    rejection sampling with ``numpy.random.default_rng(seed)``: all pairs draw at once, and only the
    rejected ones redraw, so the result is reproducible for a seed. A user positive with every item has
    no negative to draw: ValueError.
    """
    if n_items < 1:
        raise ValueError(f"n_items must be positive, got {n_items}")
    users = np.asarray(pairs.user, dtype=np.int64)
    known = KeySet(np.concatenate([np.asarray(known_positive_keys, np.int64), pairs.pair_keys(n_items)]))
    saturated = np.bincount(known.sorted // n_items, minlength=int(users.max(initial=-1)) + 1)[users] >= n_items
    if saturated.any():
        raise ValueError(f"user {users[saturated][0]} is positive with all {n_items} items: no negative to sample")
    rng = np.random.default_rng(seed)
    items = rng.integers(0, n_items, size=len(users), dtype=np.int64)
    pending = np.flatnonzero(known.contains(users * np.int64(n_items) + items))
    while len(pending):
        items[pending] = rng.integers(0, n_items, size=len(pending), dtype=np.int64)
        pending = pending[known.contains(users[pending] * np.int64(n_items) + items[pending])]
    return items


def _score_all(
    score_pairs: PairScoreFn, users: np.ndarray, items: np.ndarray, batch_size: int, device: torch.device
) -> np.ndarray:
    """The model's scores of all (user, item) pairs as float64, in batches, without gradients."""
    chunks = []
    with torch.no_grad():
        for start in range(0, len(users), batch_size):
            u = torch.as_tensor(users[start : start + batch_size], dtype=torch.long, device=device)
            i = torch.as_tensor(items[start : start + batch_size], dtype=torch.long, device=device)
            chunks.append(score_pairs(u, i).detach().reshape(-1).to("cpu", torch.float64).numpy())
    return np.concatenate(chunks)


def evaluate_ctr(
    score_pairs: PairScoreFn,
    positives: Interactions,
    negatives_item: np.ndarray,
    threshold: float = 0.5,
    batch_size: int = 65536,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """AUC, F1 and accuracy of the model on ``positives`` (label 1) and the same users' ``negatives_item`` (0).

    Predicted probability = sigmoid(score), positive when ≥ ``threshold``. AUC (``sklearn roc_auc_score``)
    is computed from the float64 scores, which rank exactly like the probabilities but do not saturate to
    ties at 1.0 as float32 sigmoids do. ``pairs`` is the number of scored pairs (2 × positives).
    """
    negatives_item = np.asarray(negatives_item, dtype=np.int64)
    if len(negatives_item) != len(positives):
        raise ValueError(f"{len(negatives_item)} negatives for {len(positives)} positives; need one per positive")
    if len(positives) == 0:
        raise ValueError("no positive pairs to evaluate")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    users = np.concatenate([positives.user, positives.user])
    items = np.concatenate([positives.item, negatives_item])
    labels = np.concatenate([np.ones(len(positives), np.int64), np.zeros(len(positives), np.int64)])
    scores = _score_all(score_pairs, users, items, batch_size, torch.device(device))
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; the model produced an invalid score")
    predicted = (torch.sigmoid(torch.from_numpy(scores)).numpy() >= threshold).astype(np.int64)
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "f1": float(f1_score(labels, predicted, zero_division=0.0)),
        "accuracy": float(np.mean(predicted == labels)),
        "pairs": len(labels),
    }


def calibrate(score_pairs: PairScoreFn, positives: Interactions, negatives_item: np.ndarray, device: str | torch.device = "cpu") -> tuple[float, float]:
    """Platt scaling: (a, b) of a logistic regression of the label on the raw score, fitted on held-out pairs.

    Ranking losses (BPR) fix only score differences, so sigmoid(score) is no probability; the CTR
    protocol's F1 at 0.5 needs one. Fitted on validation pairs, applied to test — never fitted on test.
    """
    from sklearn.linear_model import LogisticRegression

    users = np.concatenate([positives.user, positives.user])
    items = np.concatenate([positives.item, np.asarray(negatives_item, dtype=np.int64)])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(positives))])
    scores = _score_all(score_pairs, users, items, 65536, torch.device(device))
    fit = LogisticRegression().fit(scores.reshape(-1, 1), labels)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def evaluate_ctr_protocol(model: torch.nn.Module, dataset: RecDataset, split: Split, seed: int, device: str | torch.device = "cpu") -> dict[str, float]:
    """KGCN / RippleNet's CTR protocol on a split: one sampled negative per positive (never a known
    positive of the user in any part), probabilities Platt-calibrated on valid, AUC and F1 on test."""
    known = dataset.interactions.pair_keys(dataset.n_items)
    valid_negatives = sample_negatives(split.valid, known, dataset.n_items, seed)
    test_negatives = sample_negatives(split.test, known, dataset.n_items, seed + 1)
    model.eval()
    a, b = calibrate(model.score_pairs, split.valid, valid_negatives, device)
    metrics = evaluate_ctr(lambda u, i: a * model.score_pairs(u, i) + b, split.test, test_negatives, device=device)
    return {**metrics, "calibration_a": a, "calibration_b": b}
