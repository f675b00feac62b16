"""Split schemes: invariants, exact sizes, determinism, save/load round trip, and predefined-file errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.config import SplitConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.split import Split, load_split, part_sizes, split
from kgrec.errors import ConfigError, DatasetError


def synthetic(n_users: int = 40, seed: int = 0, timestamps: bool = True) -> RecDataset:
    """Users with 1..25 interactions each on 60 items, with distinct timestamps."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        n = 1 + user % 25
        for item in rng.choice(60, size=n, replace=False):
            rows.append((f"u{user}", f"i{item}"))
    frame = pd.DataFrame(rows, columns=["user", "item"])
    if timestamps:
        frame["timestamp"] = rng.permutation(len(frame)) * 10
    return RecDataset.from_frames("synthetic", frame)


def assert_invariants(parts: Split, dataset: RecDataset) -> None:
    keys = {name: set(part.pair_keys(dataset.n_items).tolist()) for name, part in parts.parts().items()}
    assert not keys["train"] & keys["valid"] and not keys["train"] & keys["test"] and not keys["valid"] & keys["test"]
    train_users = set(parts.train.user.tolist())
    assert set(parts.valid.user.tolist()) <= train_users
    assert set(parts.test.user.tolist()) <= train_users


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1, (1, 0, 0)), (2, (1, 0, 1)), (3, (1, 1, 1)), (5, (3, 1, 1)), (10, (7, 1, 2)), (25, (18, 2, 5)), (15, (10, 2, 3))],
)
def test_part_sizes_round_and_keep_one_of_each(n: int, expected: tuple[int, int, int]) -> None:
    assert part_sizes(n, np.array([0.7, 0.1, 0.2])) == expected


@pytest.mark.parametrize("scheme", ["ratio", "loo", "temporal"])
def test_every_scheme_keeps_the_invariants(scheme: str) -> None:
    dataset = synthetic()
    parts = split(dataset, SplitConfig(scheme=scheme, seed=3))
    assert_invariants(parts, dataset)
    assert len(parts.train) + len(parts.valid) + len(parts.test) + parts.info.get("dropped", 0) == len(dataset.interactions)


@pytest.mark.parametrize("scheme", ["ratio", "loo"])
def test_same_seed_same_split_other_seed_other_split(scheme: str) -> None:
    dataset = synthetic(timestamps=False)
    first = split(dataset, SplitConfig(scheme=scheme, seed=11))
    again = split(dataset, SplitConfig(scheme=scheme, seed=11))
    other = split(dataset, SplitConfig(scheme=scheme, seed=12))
    assert np.array_equal(first.test.pair_keys(60), again.test.pair_keys(60))
    assert not np.array_equal(first.test.pair_keys(60), other.test.pair_keys(60))


def test_ratio_split_sizes_per_user() -> None:
    dataset = synthetic()
    parts = split(dataset, SplitConfig(scheme="ratio", seed=1))
    for user in range(dataset.n_users):
        n = int((dataset.interactions.user == user).sum())
        got = tuple(int((part.user == user).sum()) for part in (parts.train, parts.valid, parts.test))
        assert got == part_sizes(n, np.array([0.7, 0.1, 0.2]))


def test_leave_one_out_takes_the_latest_interactions() -> None:
    frame = pd.DataFrame(
        {"user": ["a"] * 4 + ["b"] * 2 + ["c"], "item": ["1", "2", "3", "4", "1", "2", "3"], "timestamp": [40, 10, 30, 20, 5, 1, 9]}
    )
    dataset = RecDataset.from_frames("loo", frame)
    parts = split(dataset, SplitConfig(scheme="loo"))
    raw = lambda part: sorted(zip(dataset.users.raw_ids[part.user], dataset.items.raw_ids[part.item]))  # noqa: E731
    assert raw(parts.test) == [("a", "1"), ("b", "1")]
    assert raw(parts.valid) == [("a", "3")]
    assert raw(parts.train) == [("a", "2"), ("a", "4"), ("b", "2"), ("c", "3")]


def test_temporal_cut_is_global_and_drops_users_without_history() -> None:
    frame = pd.DataFrame(
        {"user": ["a", "a", "b", "a", "c", "b", "c", "d", "a", "d"], "item": list("abcdefghij"), "timestamp": range(10)}
    )
    dataset = RecDataset.from_frames("t", frame)
    parts = split(dataset, SplitConfig(scheme="temporal", ratios=(0.6, 0.2, 0.2)))
    raw = lambda part: sorted(dataset.items.raw_ids[part.item])  # noqa: E731
    assert raw(parts.train) == list("abcdef")
    assert raw(parts.valid) == ["g"]  # h (user d, no training history) is dropped
    assert raw(parts.test) == ["i"]  # j (user d) is dropped
    assert parts.info == {"dropped": 2}


def test_temporal_without_timestamps_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs timestamps"):
        split(synthetic(timestamps=False), SplitConfig(scheme="temporal"))


def test_bad_ratios_and_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match="ratios: expected train, valid, test shares summing to 1"):
        split(synthetic(), SplitConfig(ratios=(0.5, 0.1, 0.1)))
    with pytest.raises(ConfigError, match="ratios: expected train, valid, test shares summing to 1 with train above 0"):
        split(synthetic(), SplitConfig(ratios=(0.0, 0.5, 0.5)))
    with pytest.raises(ConfigError, match="scheme: expected one of ratio, loo, temporal, random, predefined, got 'kfold'"):
        split(synthetic(), SplitConfig(scheme="kfold"))


def test_save_and_load_round_trip(tmp_path) -> None:
    dataset = synthetic()
    parts = split(dataset, SplitConfig(seed=5))
    parts.save(tmp_path, dataset)
    assert (tmp_path / "train.tsv").read_text().splitlines()[0].count("\t") == 1
    loaded = load_split(tmp_path, dataset)
    for name in ("train", "valid", "test"):
        assert sorted(getattr(loaded, name).pair_keys(60)) == sorted(getattr(parts, name).pair_keys(60))
    assert loaded.scheme == "predefined"
    assert split(dataset, SplitConfig(scheme="predefined", split_dir=str(tmp_path))).summary()["test"] == len(parts.test)


def _write(tmp_path, **parts: str) -> None:
    for name, text in parts.items():
        (tmp_path / f"{name}.tsv").write_text(text)


def test_predefined_pair_in_two_files(tmp_path) -> None:
    dataset = synthetic()
    a, b = dataset.users.raw(1), dataset.items.raw(int(dataset.interactions.item[dataset.interactions.user == 1][0]))
    c = dataset.items.raw(int(dataset.interactions.item[dataset.interactions.user == 1][1]))
    _write(tmp_path, train=f"{a}\t{b}\n{a}\t{c}\n", valid="", test=f"{a}\t{b}\n")
    with pytest.raises(DatasetError, match="already in train.tsv") as error:
        load_split(tmp_path, dataset)
    assert error.value.line == 1 and error.value.path.endswith("test.tsv")


def test_predefined_test_user_without_training(tmp_path) -> None:
    dataset = synthetic()
    items = lambda u: [dataset.items.raw(int(i)) for i in dataset.interactions.item[dataset.interactions.user == u]]  # noqa: E731
    u1, u2 = dataset.users.raw(1), dataset.users.raw(2)
    _write(tmp_path, train=f"{u1}\t{items(1)[0]}\n", valid="", test=f"{u1}\t{items(1)[1]}\n{u2}\t{items(2)[0]}\n")
    with pytest.raises(DatasetError, match=f"user '{u2}' has no training interactions") as error:
        load_split(tmp_path, dataset)
    assert error.value.line == 2


def test_predefined_unknown_id_and_unknown_pair(tmp_path) -> None:
    dataset = RecDataset.from_frames("abc", pd.DataFrame({"user": ["u1", "u1", "u2"], "item": ["a", "b", "b"]}))
    _write(tmp_path, train="u1\ta\nu1\tnope\n", test="")
    with pytest.raises(DatasetError, match="unknown item 'nope'") as error:
        load_split(tmp_path, dataset)
    assert error.value.line == 2
    _write(tmp_path, train="u1\ta\nu2\ta\n")
    with pytest.raises(DatasetError, match=r"pair \(u2, a\) is not an interaction") as error:
        load_split(tmp_path, dataset)
    assert error.value.line == 2


def test_predefined_missing_train_file(tmp_path) -> None:
    with pytest.raises(DatasetError, match="file not found"):
        load_split(tmp_path, synthetic())


def test_predefined_without_labels_or_dir_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ships no split"):
        split(synthetic(), SplitConfig(scheme="predefined"))
