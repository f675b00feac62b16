"""Tests for kgrec.data.formats.recbole_atomic: RecBole atomic files, and export -> load round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kgrec.config import DataConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.formats import kgcn
from kgrec.data.formats.recbole_atomic import export, load
from kgrec.errors import DatasetError
from tests.conftest import SHARED_DATASETS, require_shared
from tests.data.helpers import expect_dataset_error, write


def triple_set(dataset: RecDataset) -> set[tuple[str, str, str]]:
    e, r = dataset.entities.raw_ids, dataset.relations.raw_ids
    return {(e[h], r[x], e[t]) for h, x, t in dataset.triples}


def rows(dataset: RecDataset) -> list[tuple]:
    """Interactions in raw ids with rating, timestamp and split label, sorted (order-free comparison)."""
    inter = dataset.interactions
    n = len(inter)
    columns = [
        dataset.users.raw_ids[inter.user],
        dataset.items.raw_ids[inter.item],
        inter.rating if inter.rating is not None else [None] * n,
        inter.timestamp if inter.timestamp is not None else [None] * n,
        dataset.split_labels if dataset.split_labels is not None else [None] * n,
    ]
    return sorted(zip(*columns), key=repr)


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    directory = tmp_path / "toy"
    write(directory, "toy.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\treview:token_seq\n"
          "u1\tm1\t4.5\t881250949\tgreat film\nu1\tm2\t2\t881250950.9\tmeh\nu2\tm1\t5\t1e9\t\n")
    write(directory, "toy.kg", "head_id:token\trelation_id:token\ttail_id:token\n"
          "e.m1\tfilm.genre\te.drama\ne.m2\tfilm.genre\te.drama\ne.m1\tfilm.director\te.lang\n")
    write(directory, "toy.link", "item_id:token\tentity_id:token\nm1\te.m1\nm2\te.m2\n")
    write(directory, "toy.item", "item_id:token\tmovie_title:token_seq\trelease_year:token\n"
          "m1\tToy Story (1995)\t1995\nm2\tHeat\t1995\nm3\tAlien\t1979\n")
    write(directory, "toy.ent", "entity_id:token\tname:token_seq\ne.drama\tDrama\ne.lang\tFritz Lang\n")
    return directory


def test_exact_contents(toy: Path) -> None:
    ds = load(toy, DataConfig())
    stats = ds.stats()
    assert (stats.name, stats.users, stats.items, stats.interactions) == ("toy", 2, 3, 3)
    assert (stats.entities, stats.relations, stats.triples, stats.linked_items) == (4, 2, 3, 2)
    assert stats.per_relation == {"film.director": 1, "film.genre": 2}
    assert list(ds.users.raw_ids) == ["u1", "u2"]
    assert list(ds.items.raw_ids) == ["m1", "m2", "m3"]  # m3 only in .item: a catalogue item
    assert list(ds.entities.raw_ids) == ["e.drama", "e.lang", "e.m1", "e.m2"]
    assert list(ds.item_entity) == [2, 3, -1]
    assert triple_set(ds) == {("e.m1", "film.genre", "e.drama"), ("e.m2", "film.genre", "e.drama"),
                              ("e.m1", "film.director", "e.lang")}
    assert list(ds.items.names) == ["Toy Story (1995)", "Heat", "Alien"]
    assert list(ds.entities.names) == ["Drama", "Fritz Lang", "", ""]
    assert ds.interactions.rating.tolist() == [4.5, 2.0, 5.0]
    assert ds.interactions.timestamp.tolist() == [881250949, 881250950, 1000000000]  # floats floored
    assert ds.split_labels is None


def test_threshold(toy: Path) -> None:
    ds = load(toy, DataConfig(threshold=3))
    assert rows(ds) == [("u1", "m1", 4.5, 881250949, None), ("u2", "m1", 5.0, 1000000000, None)]
    assert ds.n_items == 3  # the catalogue keeps m2 and m3


def test_field_aliases_and_single_inter_file(tmp_path: Path) -> None:
    path = write(tmp_path / "somewhere", "yelp.inter", "review_id:token\tuser_id:token\tbusiness_id:token\t"
                 "stars:float\tdate:float\nr1\tu1\tb1\t4\t1500000000\nr2\tu2\tb1\t1\t1500000001\n")
    for target in (path.parent, path):
        ds = load(target, DataConfig())
        assert ds.name == "yelp"
        assert rows(ds) == [("u1", "b1", 4.0, 1500000000, None), ("u2", "b1", 1.0, 1500000001, None)]


def test_predefined_split(toy: Path) -> None:
    write(toy, "toy.train.inter", "user_id:token\titem_id:token\nu1\tm1\nu2\tm1\n")
    write(toy, "toy.valid.inter", "user_id:token\titem_id:token\n")
    write(toy, "toy.test.inter", "user_id:token\titem_id:token\nu1\tm3\n")
    ds = load(toy, DataConfig())
    assert rows(ds) == [("u1", "m1", None, None, 0), ("u1", "m3", None, None, 2), ("u2", "m1", None, None, 0)]
    assert ds.n_items == 3 and ds.stats().has_ratings is False  # .inter is not read when a split is given


# ---- malformed input ------------------------------------------------------------------------------------
def expect_error(directory: Path, path: Path, line: int | None, match: str) -> None:
    expect_dataset_error(load, directory, path, line, match)


def test_header_field_without_type(toy: Path) -> None:
    path = write(toy, "toy.inter", "user_id:token\titem_id\nu1\tm1\n")
    expect_error(toy, path, 1, "'item_id' is not 'name:type'")


def test_unknown_type(toy: Path) -> None:
    path = write(toy, "toy.kg", "head_id:token\trelation_id:string\ttail_id:token\na\tb\tc\n")
    expect_error(toy, path, 1, "unknown type 'string'")


def test_missing_item_field(toy: Path) -> None:
    path = write(toy, "toy.inter", "user_id:token\tproduct:token\nu1\tm1\n")
    expect_error(toy, path, 1, "no field item_id")


def test_wrong_column_count(toy: Path) -> None:
    path = write(toy, "toy.link", "item_id:token\tentity_id:token\nm1\te.m1\nm2\n")
    expect_error(toy, path, 3, "found 1 field")


@pytest.mark.parametrize("bad", ["abc", "nan", "inf"])
def test_bad_rating(toy: Path, bad: str) -> None:
    path = write(toy, "toy.inter", f"user_id:token\titem_id:token\trating:float\nu1\tm1\t4\nu1\tm2\t{bad}\n")
    expect_error(toy, path, 3, "rating must be a finite number")


def test_item_linked_twice(toy: Path) -> None:
    path = write(toy, "toy.link", "item_id:token\tentity_id:token\nm1\te.m1\nm1\te.m2\n")
    expect_error(toy, path, 3, "already linked")


def test_pair_in_two_parts(toy: Path) -> None:
    write(toy, "toy.train.inter", "user_id:token\titem_id:token\nu1\tm1\nu2\tm1\n")
    path = write(toy, "toy.test.inter", "user_id:token\titem_id:token\nu1\tm3\nu2\tm1\n")
    expect_error(toy, path, 3, r"pair \(user 'u2', item 'm1'\) is already in toy.train.inter")


def test_test_user_without_train(toy: Path) -> None:
    write(toy, "toy.train.inter", "user_id:token\titem_id:token\nu1\tm1\n")
    path = write(toy, "toy.test.inter", "user_id:token\titem_id:token\nu1\tm3\nu7\tm1\n")
    expect_error(toy, path, 3, "user 'u7' has no positive interaction in toy.train.inter")


def test_train_without_test(toy: Path) -> None:
    write(toy, "toy.train.inter", "user_id:token\titem_id:token\nu1\tm1\n")
    with pytest.raises(DatasetError, match="no test file"):
        load(toy, DataConfig())


def test_empty_file(toy: Path) -> None:
    path = write(toy, "toy.item", "")
    expect_error(toy, path, 1, "header")


def test_non_utf8_byte(toy: Path) -> None:
    path = write(toy, "toy.ent", b"entity_id:token\tname:token_seq\ne.drama\tDrama\ne.lang\tFritz L\xe4ng\n")
    expect_error(toy, path, 3, "0xe4")


def test_non_utf8_byte_in_header(toy: Path) -> None:
    path = write(toy, "toy.inter", b"user_id:token\titem_\xe9:token\nu1\tm1\n")
    expect_error(toy, path, 1, "0xe9")


def test_no_inter_file(tmp_path: Path) -> None:
    write(tmp_path / "d", "d.kg", "head_id:token\trelation_id:token\ttail_id:token\na\tb\tc\n")
    with pytest.raises(DatasetError, match="file not found") as info:
        load(tmp_path / "d", DataConfig())
    assert info.value.path == str(tmp_path / "d" / "d.inter")


def test_several_datasets_in_one_directory(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write(tmp_path / "d", f"{name}.inter", "user_id:token\titem_id:token\nu\ti\n")
    with pytest.raises(DatasetError, match=r"several datasets \(a, b\)"):
        load(tmp_path / "d", DataConfig())


# ---- export -> load round trips ---------------------------------------------------------------------------
def assert_same(a: RecDataset, b: RecDataset, name_kinds: tuple[str, ...] = ("items", "entities")) -> None:
    """Same stats, raw ids, names (of ``name_kinds``), links, triples and interactions with their split."""
    assert a.stats() == b.stats()
    for kind in ("users", "items", "entities", "relations"):
        assert list(getattr(a, kind).raw_ids) == list(getattr(b, kind).raw_ids), kind
    for kind in name_kinds:
        assert list(getattr(a, kind).names) == list(getattr(b, kind).names), kind
    assert np.array_equal(a.item_entity, b.item_entity)
    assert triple_set(a) == triple_set(b)
    assert rows(a) == rows(b)


@pytest.fixture
def handmade() -> RecDataset:
    interactions = pd.DataFrame(
        {
            "user": ["ann", "ann", "ann", "bob", "bob", "cy", "cy"],
            "item": ["i1", "i2", "i3", "i1", "i4", "i2", "i4"],
            "rating": [0.1, 4.0, 1 / 3, 2.5, 5.0, 1e-300, 3.75],
            "timestamp": [1700000000123, 5, -20, 7, 8, 9, 2**53 + 1],
        }
    )
    triples = pd.DataFrame({"head": ["E1", "E2", "E1"], "relation": ["genre", "genre", "by"], "tail": ["g", "g", "p"]})
    links = pd.DataFrame({"item": ["i1", "i2", "i9"], "entity": ["E1", "E2", "solo"]})  # "solo": in no triple
    return RecDataset.from_frames(
        "hand",
        interactions,
        triples,
        links,
        item_catalogue=["i9", "i10"],  # no interactions; i10 also unlinked
        item_names={"i1": "One", "i2": "Two\twith tab", "i10": "Ten"},
        entity_names={"g": "Genre G", "E1": "Entity one"},
        split_labels=np.array([0, 0, 2, 0, 1, 0, 2]),
    )


def test_round_trip_handmade(handmade: RecDataset, tmp_path: Path) -> None:
    out = export(handmade, tmp_path / "export")
    assert out == tmp_path / "export"
    assert sorted(p.name for p in out.iterdir()) == [
        "hand.ent", "hand.inter", "hand.item", "hand.kg", "hand.link", "hand.test.inter", "hand.train.inter",
        "hand.valid.inter",
    ]
    assert (out / "hand.inter").read_text().splitlines()[1] == "ann\ti1\t0.1\t1700000000123"
    back = load(out, DataConfig())
    assert back.name == "hand"
    assert back.stats().items == 6 and back.stats().linked_items == 3 and back.stats().entities == 5
    assert list(handmade.items.names) == ["One", "Two\twith tab", "", "", "", "Ten"]
    assert list(back.items.names) == ["One", "Two with tab", "", "", "", "Ten"]  # a tab in a name becomes a space
    assert_same(handmade, back, name_kinds=("entities",))
    assert list(back.entities.names) == ["Entity one", "", "Genre G", "", ""]


def test_round_trip_without_split_keeps_row_order(handmade: RecDataset, tmp_path: Path) -> None:
    from dataclasses import replace

    plain = replace(handmade, split_labels=None)
    back = load(export(plain, tmp_path / "out", name="other"), DataConfig())
    assert back.name == "other" and back.split_labels is None
    assert np.array_equal(back.interactions.user, plain.interactions.user)
    assert np.array_equal(back.interactions.rating, plain.interactions.rating)
    assert np.array_equal(back.interactions.timestamp, plain.interactions.timestamp)
    assert not (tmp_path / "out" / "other.train.inter").exists()


def test_export_replaces_directory_atomically(handmade: RecDataset, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, "stale.txt", "old")
    export(handmade, out)
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary directory left behind


def test_export_rejects_ids_with_tabs(tmp_path: Path) -> None:
    bad = RecDataset.from_frames("bad", pd.DataFrame({"user": ["a\tb"], "item": ["i"]}))
    with pytest.raises(DatasetError, match="cannot export user id"):
        export(bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_round_trip_lastfm_kgcn(tmp_path: Path) -> None:
    require_shared("lastfm-kgcn")  # fails, naming the folder, when the mirror is absent
    original = kgcn.load({"lastfm-kgcn": SHARED_DATASETS / "lastfm-kgcn"}, DataConfig())
    back = load(export(original, tmp_path / "lastfm-kgcn"), DataConfig())
    assert back.stats().interactions == 21173 and back.stats().triples == 15518
    assert_same(original, back)
