"""Train / valid / test splits: per-user ratio, leave-one-out, global temporal cut, predefined. All seeded.

Invariants every scheme keeps: no (user, item) pair is in two parts, and every user with valid or test
interactions has at least one training interaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kgrec.atomic import atomic_open, atomic_write_text
from kgrec.data.dataset import PART_NAMES, Interactions, RecDataset
from kgrec.data.options import SplitConfig
from kgrec.data.readers import LINE_COLUMN, read_table, require_nonempty
from kgrec.errors import ConfigError, DatasetError

TRAIN, VALID, TEST = 0, 1, 2


@dataclass(frozen=True, eq=False)
class Split:
    """The three parts of a dataset's interactions, and how they were made."""

    train: Interactions
    valid: Interactions
    test: Interactions
    scheme: str
    seed: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def parts(self) -> dict[str, Interactions]:
        return {"train": self.train, "valid": self.valid, "test": self.test}

    def summary(self) -> dict[str, Any]:
        """Counts per part (interactions and users), with the scheme and seed."""
        counts = {name: len(part) for name, part in self.parts().items()}
        users = {f"{name}_users": int(len(np.unique(part.user))) for name, part in self.parts().items()}
        return {"scheme": self.scheme, "seed": self.seed, **counts, **users, **self.info}

    def save(self, directory: str | Path, dataset: RecDataset) -> Path:
        """Write ``train.tsv``, ``valid.tsv``, ``test.tsv`` (``user<TAB>item``, raw ids) and ``split.json``."""
        directory = Path(directory)
        for name, part in self.parts().items():
            with atomic_open(directory / f"{name}.tsv") as handle:
                frame = pd.DataFrame({"user": dataset.users.raw_ids[part.user], "item": dataset.items.raw_ids[part.item]})
                frame.to_csv(handle, sep="\t", header=False, index=False, lineterminator="\n")
        atomic_write_text(directory / "split.json", json.dumps({"dataset": dataset.name, **self.summary()}, indent=2) + "\n")
        return directory


def split(dataset: RecDataset, config: SplitConfig | None = None, **options: Any) -> Split:
    """Split a dataset by ``config.scheme`` (ratio, loo, temporal, predefined).

    >>> parts = split(load_dataset("ml100k"), scheme="loo", seed=7)
    >>> len(parts.test) == parts.summary()["test_users"]
    True
    """
    config = config or SplitConfig()
    if options:
        config = replace(config, **options)
    if config.scheme == "predefined" and config.split_dir is not None:
        return load_split(config.split_dir, dataset)
    schemes: dict[str, Callable[[RecDataset, SplitConfig], np.ndarray]] = {
        "ratio": _label_ratio,
        "loo": _label_leave_one_out,
        "temporal": _label_temporal,
        "random": _label_random,
        "predefined": _label_predefined,
    }
    # SplitConfig checked the scheme and the ratios when it was built
    labels = schemes[config.scheme](dataset, config)
    return from_labels(dataset, labels, config.scheme, None if config.scheme == "predefined" else config.seed)


def from_labels(dataset: RecDataset, labels: np.ndarray, scheme: str, seed: int | None) -> Split:
    """Build a Split from one label per interaction (0 train, 1 valid, 2 test, -1 dropped)."""
    inter = dataset.interactions
    dropped = int(np.count_nonzero(labels < 0))
    return Split(
        inter.take(labels == TRAIN),
        inter.take(labels == VALID),
        inter.take(labels == TEST),
        scheme,
        seed,
        {"dropped": dropped} if dropped else {},
    )


def _user_groups(dataset: RecDataset) -> list[np.ndarray]:
    """Row indices of each user's interactions, users in id order, rows in dataset (file) order."""
    users = dataset.interactions.user
    order = np.argsort(users, kind="stable")
    bounds = np.searchsorted(users[order], np.arange(dataset.n_users + 1))
    return [order[bounds[u] : bounds[u + 1]] for u in range(dataset.n_users)]


def part_sizes(n: int, ratios: np.ndarray) -> tuple[int, int, int]:
    """(train, valid, test) sizes for one user's n interactions.

    test = round(ratio·n) and valid = round(ratio·n), each at least 1 when its ratio is positive, with
    train keeping at least one interaction (valid gives way first, then test).
    """
    test = max(1, int(round(ratios[2] * n))) if ratios[2] > 0 else 0
    valid = max(1, int(round(ratios[1] * n))) if ratios[1] > 0 else 0
    while n - test - valid < 1 and valid > 0:
        valid -= 1
    while n - test - valid < 1 and test > 0:
        test -= 1
    return n - valid - test, valid, test


def _label_ratio(dataset: RecDataset, config: SplitConfig) -> np.ndarray:
    """Shuffle each user's interactions (one seeded generator, users in id order); cut test | valid | train.

    With seed 2026 and users of fewer than 5 interactions filtered out, this reproduces the published
    lastfm-kgcn split-2026 benchmark split exactly.
    """
    rng = np.random.default_rng(config.seed)
    labels = np.empty(len(dataset.interactions), dtype=np.int8)
    ratios = np.asarray(config.ratios)
    for rows in _user_groups(dataset):
        if len(rows) == 0:
            continue
        shuffled = rows[rng.permutation(len(rows))]
        _, n_valid, n_test = part_sizes(len(rows), ratios)
        labels[shuffled[:n_test]] = TEST
        labels[shuffled[n_test : n_test + n_valid]] = VALID
        labels[shuffled[n_test + n_valid :]] = TRAIN
    return labels


def _label_leave_one_out(dataset: RecDataset, config: SplitConfig) -> np.ndarray:
    """Each user's last interaction (by timestamp, else a seeded random one) is test, the one before valid."""
    rng = np.random.default_rng(config.seed)
    timestamps = dataset.interactions.timestamp
    labels = np.full(len(dataset.interactions), TRAIN, dtype=np.int8)
    for rows in _user_groups(dataset):
        if len(rows) < 2:
            continue
        ordered = rows[np.argsort(timestamps[rows], kind="stable")] if timestamps is not None else rows[rng.permutation(len(rows))]
        labels[ordered[-1]] = TEST
        if len(rows) >= 3 and config.ratios[1] > 0:
            labels[ordered[-2]] = VALID
    return labels


def _label_temporal(dataset: RecDataset, config: SplitConfig) -> np.ndarray:
    """One global cut by time; valid/test interactions of users with no training interaction are dropped."""
    timestamps = dataset.interactions.timestamp
    if timestamps is None:
        raise ConfigError(f"split scheme 'temporal' needs timestamps, and dataset {dataset.name!r} has none")
    return _label_global_order(dataset, np.argsort(timestamps, kind="stable"), config.ratios)


def _label_random(dataset: RecDataset, config: SplitConfig) -> np.ndarray:
    """KGCN / RippleNet's protocol: one seeded random cut of all interactions (e.g. 6:2:2)."""
    order = np.random.default_rng(config.seed).permutation(len(dataset.interactions))
    return _label_global_order(dataset, order, config.ratios)


def _label_global_order(dataset: RecDataset, order: np.ndarray, ratios: tuple[float, float, float]) -> np.ndarray:
    """Cut interactions taken in ``order`` into train | valid | test; drop held-out pairs of users with no train."""
    n = len(order)
    n_train = int(round(ratios[0] * n))
    n_valid = int(round(ratios[1] * n))
    labels = np.empty(n, dtype=np.int8)
    labels[order[:n_train]] = TRAIN
    labels[order[n_train : n_train + n_valid]] = VALID
    labels[order[n_train + n_valid :]] = TEST
    has_train = np.zeros(dataset.n_users, dtype=bool)
    has_train[dataset.interactions.user[labels == TRAIN]] = True
    labels[(labels != TRAIN) & ~has_train[dataset.interactions.user]] = -1
    return labels


def _label_predefined(dataset: RecDataset, config: SplitConfig) -> np.ndarray:
    if dataset.split_labels is None:
        raise ConfigError(
            f"dataset {dataset.name!r} ships no split of its own; pass split_dir (files train/valid/test.tsv) "
            "or choose the ratio, loo or temporal scheme"
        )
    return dataset.split_labels


def load_split(directory: str | Path, dataset: RecDataset) -> Split:
    """Read ``train.tsv``, ``valid.tsv`` (optional) and ``test.tsv`` of raw ``user<TAB>item`` pairs.

    Every pair must be an interaction of ``dataset``; a pair in two files, or a valid/test user without
    training pairs, is a DatasetError naming the file and line.
    """
    directory = Path(directory)
    keys = dataset.interactions.pair_keys(dataset.n_items)
    row_of_key = pd.Series(np.arange(len(keys)), index=keys)
    labels = np.full(len(keys), -1, dtype=np.int8)
    where: dict[int, str] = {}
    frames: dict[int, pd.DataFrame] = {}
    for label, name in enumerate(PART_NAMES):
        path = directory / f"{name}.tsv"
        if name == "valid" and not path.exists():
            continue
        frame = read_table(path, ["user", "item"], allow_empty=name != "train")
        require_nonempty(frame, ["user", "item"], path)
        users = dataset.users.lookup(frame["user"].str.strip().to_numpy())
        items = dataset.items.lookup(frame["item"].str.strip().to_numpy())
        for ids, column in ((users, "user"), (items, "item")):
            if (ids < 0).any():
                row = int(np.flatnonzero(ids < 0)[0])
                raise DatasetError(
                    f"unknown {column} {frame[column].iloc[row]!r}: not in dataset {dataset.name!r}",
                    path,
                    int(frame[LINE_COLUMN].iloc[row]),
                )
        rows = row_of_key.reindex(users * np.int64(dataset.n_items) + items).to_numpy()
        missing = np.isnan(rows)
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise DatasetError(
                f"pair ({frame['user'].iloc[row]}, {frame['item'].iloc[row]}) is not an interaction of dataset "
                f"{dataset.name!r}",
                path,
                int(frame[LINE_COLUMN].iloc[row]),
            )
        rows = rows.astype(np.int64)
        seen = labels[rows] >= 0
        repeated = np.flatnonzero(seen | pd.Series(rows).duplicated().to_numpy())
        if len(repeated):
            row = int(repeated[0])
            earlier = where.get(int(labels[rows[row]]), name)
            raise DatasetError(
                f"pair ({frame['user'].iloc[row]}, {frame['item'].iloc[row]}) is already in {earlier}.tsv",
                path,
                int(frame[LINE_COLUMN].iloc[row]),
            )
        labels[rows] = label
        where[label] = name
        frames[label] = frame.assign(user_id=users)
    has_train = np.zeros(dataset.n_users, dtype=bool)
    has_train[frames[TRAIN]["user_id"].to_numpy()] = True
    for label, frame in frames.items():
        orphan = ~has_train[frame["user_id"].to_numpy()]
        if orphan.any():
            row = int(np.flatnonzero(orphan)[0])
            raise DatasetError(
                f"user {frame['user'].iloc[row]!r} has no training interactions in train.tsv",
                directory / f"{PART_NAMES[label]}.tsv",
                int(frame[LINE_COLUMN].iloc[row]),
            )
    result = from_labels(dataset, labels, "predefined", None)
    return Split(result.train, result.valid, result.test, "predefined", None, {"split_dir": str(directory)})
