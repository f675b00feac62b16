"""Tests for kgrec.data.formats.tsv: generic delimited files, a directory or one interactions file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgrec.config import DataConfig
from kgrec.data.formats import tsv
from kgrec.data.formats.tsv import TsvFiles, load, load_files
from kgrec.errors import DatasetError
from tests.data.helpers import expect_dataset_error, write


def triple_set(dataset) -> set[tuple[str, str, str]]:
    e, r = dataset.entities.raw_ids, dataset.relations.raw_ids
    return {(e[h], r[rel], e[t]) for h, rel, t in dataset.triples}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """Columns in a custom order, a KG with header, no links file (items linked by shared id), names."""
    directory = tmp_path / "shop"
    write(directory, "interactions.tsv", "item\tuser\trating\ttimestamp\ni1\tu2\t5\t100\ni2\tu2\t3\t200\n"
          "i1\tu10\t4.5\t150\n\ni3\tu1\t1\t50\n")
    write(directory, "triples.tsv", "head\trelation\ttail\ni1\tby\tartistA\ni2\tby\tartistA\nartistA\tgenre\trock\n")
    write(directory, "item_names.csv", 'id,name\ni1,"Song, One"\ni2,Two\n')
    write(directory, "entity_names.tsv", "artistA\tThe A Band\nrock\tRock\n")
    return directory


def test_directory_exact_contents(shop: Path) -> None:
    ds = load(shop, DataConfig())
    stats = ds.stats()
    assert (stats.name, stats.users, stats.items, stats.interactions) == ("shop", 3, 3, 4)
    assert (stats.entities, stats.relations, stats.triples, stats.linked_items) == (4, 2, 3, 2)
    assert stats.per_relation == {"by": 2, "genre": 1}
    assert stats.has_ratings and stats.has_timestamps
    assert list(ds.users.raw_ids) == ["u1", "u2", "u10"]
    assert list(ds.items.raw_ids) == ["i1", "i2", "i3"]
    assert list(ds.entities.raw_ids) == ["artistA", "i1", "i2", "rock"]
    assert list(ds.item_entity) == [1, 2, -1]  # i1, i2 share their id with a KG entity; i3 does not
    assert triple_set(ds) == {("i1", "by", "artistA"), ("i2", "by", "artistA"), ("artistA", "genre", "rock")}
    assert list(ds.items.names) == ["Song, One", "Two", ""]
    assert ds.entities.name(0) == "The A Band" and ds.entities.name(1) == "entity i1"
    frame = ds.interactions.to_frame()
    assert frame.values.tolist() == [[1, 0, 5.0, 100], [1, 1, 3.0, 200], [2, 0, 4.5, 150], [0, 2, 1.0, 50]]
    assert ds.split_labels is None


def test_threshold_keeps_ratings_at_or_above(shop: Path) -> None:
    ds = load(shop, DataConfig(threshold=4.0))
    assert len(ds.interactions) == 2
    assert sorted(ds.interactions.rating.tolist()) == [4.5, 5.0]
    assert list(ds.users.raw_ids) == ["u2", "u10"]


def test_threshold_above_every_rating_is_an_error(shop: Path) -> None:
    with pytest.raises(DatasetError, match="highest rating is 5"):
        load(shop, DataConfig(threshold=6.0))


def test_links_file_and_csv_quoting(tmp_path: Path) -> None:
    directory = tmp_path / "films"
    write(directory, "interactions.csv", 'user,item\nann,"Heat, 1995"\nbob,Alien\n')
    write(directory, "triples.csv", "m1,directed_by,mann\nm2,directed_by,scott\n")
    write(directory, "links.csv", 'item,entity\n"Heat, 1995",m1\n')
    ds = load(directory, DataConfig())
    assert list(ds.items.raw_ids) == ["Alien", "Heat, 1995"]
    assert list(ds.entities.raw_ids) == ["m1", "m2", "mann", "scott"]
    assert list(ds.item_entity) == [-1, 0]
    assert ds.stats().has_ratings is False and ds.stats().triples == 2


def test_single_file_named_after_its_stem(tmp_path: Path) -> None:
    path = write(tmp_path, "clicks.csv", "user,item\n1,10\n2,10\n2,11\n")
    ds = load(path, DataConfig())
    assert (ds.name, ds.n_users, ds.n_items, ds.n_entities, len(ds.interactions)) == ("clicks", 2, 2, 0, 3)


def test_explicit_files(tmp_path: Path) -> None:
    inter = write(tmp_path, "a.tsv", "user\titem\nu1\tx\nu2\ty\n")
    kg = write(tmp_path, "b.tsv", "x\tr\tz\n")
    ds = load_files(TsvFiles(inter, triples=kg), DataConfig(), "mine")
    assert ds.name == "mine" and ds.stats().linked_items == 1 and list(ds.entities.raw_ids) == ["x", "z"]


def test_predefined_split(tmp_path: Path) -> None:
    directory = tmp_path / "split"
    write(directory, "train.tsv", "user\titem\nu1\ta\nu1\tb\nu2\ta\n")
    write(directory, "valid.tsv", "user\titem\nu1\tc\n")
    write(directory, "test.tsv", "user\titem\nu2\tc\n")
    ds = load(directory, DataConfig())
    assert list(ds.split_labels) == [0, 0, 0, 1, 2]
    frame = ds.interactions.to_frame()
    assert list(zip(ds.users.raw_ids[frame["user"]], ds.items.raw_ids[frame["item"]])) == [
        ("u1", "a"), ("u1", "b"), ("u2", "a"), ("u1", "c"), ("u2", "c")
    ]


def test_train_without_test_is_an_error(tmp_path: Path) -> None:
    directory = tmp_path / "half"
    write(directory, "interactions.tsv", "user\titem\nu\ti\n")
    train = write(directory, "train.tsv", "user\titem\nu\ti\n")
    with pytest.raises(DatasetError, match="no test file") as info:
        load(directory, DataConfig())
    assert info.value.path == str(train)


def test_both_extensions_for_one_role_is_an_error(shop: Path) -> None:
    write(shop, "interactions.csv", "user,item\nu,i\n")
    with pytest.raises(DatasetError, match="interactions.tsv exists too") as info:
        TsvFiles.discover(shop)
    assert info.value.path == str(shop / "interactions.csv")


def test_missing_interactions_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "empty", "triples.tsv", "a\tr\tb\n")
    with pytest.raises(DatasetError, match="file not found") as info:
        load(tmp_path / "empty", DataConfig())
    assert info.value.path == str(tmp_path / "empty" / "interactions.tsv")


# ---- malformed input: DatasetError naming file and line --------------------------------------------------
def expect_error(path: Path, line: int | None, directory: Path | None = None, match: str = "") -> DatasetError:
    return expect_dataset_error(load, directory or path, path, line, match)


def test_wrong_column_count(tmp_path: Path) -> None:
    path = write(tmp_path / "d", "interactions.tsv", "user\titem\nu1\ti1\nu2\ti2\textra\n")
    expect_error(path, 3, tmp_path / "d", "found 3 field")


@pytest.mark.parametrize("bad", ["abc", "nan", "inf", "-inf", ""])
def test_bad_rating(tmp_path: Path, bad: str) -> None:
    path = write(tmp_path / "d", "interactions.tsv", f"user\titem\trating\nu1\ti1\t4\n\nu2\ti2\t{bad}\n")
    expect_error(path, 4, tmp_path / "d", "rating must be a finite number")


def test_bad_timestamp(tmp_path: Path) -> None:
    path = write(tmp_path / "d", "interactions.tsv", "user\titem\ttimestamp\nu1\ti1\tyesterday\n")
    expect_error(path, 2, tmp_path / "d", "timestamp")


def test_unknown_column_lists_expected_names(tmp_path: Path) -> None:
    path = write(tmp_path / "d", "interactions.tsv", "user\titem\tscore\nu1\ti1\t4\n")
    error = expect_error(path, 1, tmp_path / "d", "unknown column 'score'")
    assert "user, item, rating (optional), timestamp (optional)" in str(error)


def test_column_named_twice(tmp_path: Path) -> None:
    path = write(tmp_path / "d", "interactions.tsv", "user\titem\tUser\nu1\ti1\tu2\n")
    expect_error(path, 1, tmp_path / "d", "repeats a column name")


def test_missing_item_column(tmp_path: Path) -> None:
    path = write(tmp_path / "d", "interactions.tsv", "user\trating\nu1\t4\n")
    expect_error(path, 1, tmp_path / "d", "no 'item' column")


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "d", "interactions.tsv", "")
    expect_error(path, 1, tmp_path / "d", "header")


def test_header_only_file(tmp_path: Path) -> None:
    path = write(tmp_path / "d", "interactions.tsv", "user\titem\n")
    with pytest.raises(DatasetError, match="no data rows") as info:
        load(tmp_path / "d", DataConfig())
    assert info.value.path == str(path)


def test_non_utf8_byte(tmp_path: Path) -> None:
    path = write(tmp_path / "d", "interactions.tsv", b"user\titem\nu1\ti1\nu2\t\xe9t\xe9\n")
    expect_error(path, 3, tmp_path / "d", "0xe9")


def test_empty_id(tmp_path: Path) -> None:
    path = write(tmp_path / "d", "interactions.tsv", "user\titem\nu1\t \n")
    expect_error(path, 2, tmp_path / "d", "item must not be empty")


def test_link_to_unknown_entity(shop: Path) -> None:
    path = write(shop, "links.tsv", "item\tentity\ni1\ti1\ni2\tnowhere\n")
    expect_error(path, 3, shop, "'nowhere' is not an entity of the knowledge graph")


def test_item_linked_twice(shop: Path) -> None:
    path = write(shop, "links.tsv", "i1\ti1\ni1\tartistA\n")
    expect_error(path, 2, shop, "already linked to entity 'i1'")


def test_triples_wrong_column_count(shop: Path) -> None:
    path = write(shop, "triples.tsv", "a\tr\tb\nc\td\n")
    expect_error(path, 2, shop, "found 2 field")


def test_pair_in_two_parts(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    write(directory, "train.tsv", "user\titem\nu1\ta\nu1\tb\n")
    test = write(directory, "test.tsv", "user\titem\nu1\tc\nu1\ta\n")
    expect_error(test, 3, directory, r"pair \(user 'u1', item 'a'\) is already in train.tsv")


def test_test_user_without_train(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    write(directory, "train.tsv", "user\titem\nu1\ta\n")
    valid = write(directory, "valid.tsv", "user\titem\nu1\tb\nu9\tb\n")
    write(directory, "test.tsv", "user\titem\nu1\tc\n")
    expect_error(valid, 3, directory, "user 'u9' has no positive interaction in train.tsv")


def test_unknown_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.dat", "user\titem\nu\ti\n")
    with pytest.raises(DatasetError, match="expected .tsv"):
        tsv.load(path, DataConfig())


def test_split_labels_follow_positives(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    write(directory, "train.csv", "user,item,rating\nu1,a,5\nu1,b,1\nu2,a,4\n")
    write(directory, "test.csv", "user,item,rating\nu1,c,5\nu2,d,2\n")
    ds = load(directory, DataConfig(threshold=4))
    assert np.array_equal(ds.split_labels, [0, 0, 2])
    assert list(ds.interactions.rating) == [5.0, 4.0, 5.0]
