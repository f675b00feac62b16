"""Tests for kgrec.data.formats.kgat: KGAT's train.txt / test.txt / kg_final.txt layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgrec.config import DataConfig
from kgrec.data.formats.kgat import load
from kgrec.errors import DatasetError
from tests.data.helpers import expect_dataset_error, write


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    directory = tmp_path / "kgat-toy"
    write(directory, "train.txt", "0 0 1 2\n1 2 \n2\n")  # user 2 has no items; trailing space allowed
    write(directory, "valid.txt", "0 3\n")
    write(directory, "test.txt", "0 4\r\n1 0\r\n")
    write(directory, "kg_final.txt", "0 0 6\n1 0 6\n6 1 7\n3 1 7\n0 0 6\n")  # last line repeats the first
    return directory


def pairs(dataset) -> list[tuple[str, str]]:
    inter = dataset.interactions
    return list(zip(dataset.users.raw_ids[inter.user], dataset.items.raw_ids[inter.item]))


def test_exact_contents(toy: Path) -> None:
    ds = load(toy, DataConfig())
    stats = ds.stats()
    assert (stats.name, stats.users, stats.items, stats.interactions) == ("kgat-toy", 2, 5, 7)
    assert (stats.entities, stats.relations, stats.triples, stats.linked_items) == (5, 2, 4, 3)
    assert stats.per_relation == {"0": 2, "1": 2}
    assert not stats.has_ratings and not stats.has_timestamps
    assert list(ds.users.raw_ids) == ["0", "1"]
    assert list(ds.items.raw_ids) == ["0", "1", "2", "3", "4"]
    assert list(ds.entities.raw_ids) == ["0", "1", "3", "6", "7"]
    assert list(ds.item_entity) == [0, 1, -1, 2, -1]  # item i <-> entity i when entity i exists
    e, r = ds.entities.raw_ids, ds.relations.raw_ids
    triples = {(e[h], r[x], e[t]) for h, x, t in ds.triples}
    assert triples == {("0", "0", "6"), ("1", "0", "6"), ("6", "1", "7"), ("3", "1", "7")}
    assert pairs(ds) == [("0", "0"), ("0", "1"), ("0", "2"), ("1", "2"), ("0", "3"), ("0", "4"), ("1", "0")]
    assert list(ds.split_labels) == [0, 0, 0, 0, 1, 2, 2]
    assert not ds.items.has_names


def test_id_lists_give_names_and_catalogue(toy: Path) -> None:
    write(toy, "item_list.txt", "org_id remap_id freebase_id\nB00 0 m.00\nB01 1 m.01\nB02 2 m.02\nB03 3 m.03\n"
          "B04 4 m.04\nB05 5 m.05\nB06 6 m.06\n")
    write(toy, "entity_list.txt", "org_id remap_id\nm.00 0\nm.01 1\nm.03 3\nm.06 6\nm.07 7\n")
    write(toy, "relation_list.txt", "org_id remap_id\nfilm.genre 0\nfilm.actor 1\n")
    write(toy, "user_list.txt", "org_id remap_id\nalice 0\nbob 1\n")
    ds = load(toy, DataConfig())
    assert list(ds.items.raw_ids) == ["0", "1", "2", "3", "4", "5", "6"]  # 5, 6: catalogue items without interactions
    assert list(ds.items.names) == ["B00", "B01", "B02", "B03", "B04", "B05", "B06"]
    assert list(ds.item_entity) == [0, 1, -1, 2, -1, -1, 3]  # catalogue item 6 is entity 6
    assert list(ds.entities.names) == ["m.00", "m.01", "m.03", "m.06", "m.07"]
    assert list(ds.relations.names) == ["film.genre", "film.actor"]
    assert list(ds.users.names) == ["alice", "bob"]
    assert ds.stats().linked_items == 4 and ds.stats().per_relation == {"0": 2, "1": 2}


def test_valid_is_optional(toy: Path) -> None:
    (toy / "valid.txt").unlink()
    ds = load(toy, DataConfig())
    assert list(ds.split_labels) == [0, 0, 0, 0, 2, 2]


def test_leading_zeros_are_normalised(toy: Path) -> None:
    write(toy, "test.txt", "00 004\n")
    assert ("0", "4") in pairs(load(toy, DataConfig()))


# ---- malformed input ------------------------------------------------------------------------------------
def expect_error(directory: Path, path: Path, line: int | None, match: str) -> None:
    expect_dataset_error(load, directory, path, line, match)


def test_non_numeric_item(toy: Path) -> None:
    path = write(toy, "train.txt", "0 0 1\n1 2 x3\n")
    expect_error(toy, path, 2, "must be an integer, found 'x3'")


def test_non_numeric_kg_id(toy: Path) -> None:
    path = write(toy, "kg_final.txt", "0 0 6\n\n1 r 6\n")
    expect_error(toy, path, 3, "must be an integer, found 'r'")


def test_kg_wrong_column_count(toy: Path) -> None:
    path = write(toy, "kg_final.txt", "0 0 6\n1 0\n")
    expect_error(toy, path, 2, "found 2 field")


def test_pair_in_two_parts(toy: Path) -> None:
    path = write(toy, "test.txt", "0 4\n1 2\n")
    expect_error(toy, path, 2, r"pair \(user '1', item '2'\) is already in train.txt")


def test_test_user_without_train(toy: Path) -> None:
    path = write(toy, "test.txt", "0 4\n2 3\n")  # user 2 has an empty line in train.txt
    expect_error(toy, path, 2, "user '2' has no positive interaction in train.txt")


def test_empty_train(toy: Path) -> None:
    path = write(toy, "train.txt", "\n\n")
    expect_error(toy, path, 1, "no data rows")


def test_train_without_items(toy: Path) -> None:
    path = write(toy, "train.txt", "0\n1\n")
    with pytest.raises(DatasetError, match="no \\(user, item\\) pairs") as info:
        load(toy, DataConfig())
    assert info.value.path == str(path) and info.value.line is None


def test_empty_valid_is_allowed(toy: Path) -> None:
    write(toy, "valid.txt", "")
    assert list(load(toy, DataConfig()).split_labels) == [0, 0, 0, 0, 2, 2]


def test_non_utf8_byte(toy: Path) -> None:
    path = write(toy, "kg_final.txt", b"0 0 6\n1 0 6\n6 1 \xff\n")
    expect_error(toy, path, 3, "0xff")


def test_list_line_without_remap_id(toy: Path) -> None:
    path = write(toy, "relation_list.txt", "org_id remap_id\nfilm.genre 0\nfilm.actor\n")
    expect_error(toy, path, 3, "found 1 field")


def test_missing_test_file(toy: Path) -> None:
    (toy / "test.txt").unlink()
    with pytest.raises(DatasetError, match="file not found") as info:
        load(toy, DataConfig())
    assert info.value.path == str(toy / "test.txt")


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="KGAT directory"):
        load(tmp_path / "missing", DataConfig())
