"""The ml1m-dbpedia parser on its tiny files (tests/data/test_fuzz_parsers.py): names, split, drops, exact lines."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from kgrec.config import DataConfig, SplitConfig
from kgrec.data.formats import ml1m_dbpedia
from kgrec.data.split import split
from kgrec.errors import DatasetError
from tests.data.fuzzing import Contents, check_error, clean, file_key, replace_line, write_files
from tests.data.test_fuzz_parsers import ML1M, ML1M_DBPEDIA_FILES, ML1M_TRAIN

TEST = (ML1M, "mapping/test.txt.gz")
E_MAP = (ML1M, "e_map.txt")


def load(contents: Contents, tmp_path: Path):
    return ml1m_dbpedia.load(write_files(tmp_path, contents), DataConfig(name=ML1M))


def error_of(contents: Contents, tmp_path: Path) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        load(contents, tmp_path)
    check_error(info.value, tmp_path, contents)
    return info.value


def test_names_split_and_drops(tmp_path: Path) -> None:
    dataset = load(clean(ML1M_DBPEDIA_FILES), tmp_path)
    name = lambda ids, raw: ids.name(ids.index(raw))  # noqa: E731
    assert dataset.users.raw_ids.tolist() == ["1", "2", "3"] and name(dataset.users, "1") == "user 1 (F, Under 18)"
    assert dataset.items.raw_ids.tolist() == ["2", "3", "5", "7"]  # MovieLens ids, not the split's new ids
    assert name(dataset.items, "2") == "Jumanji (1995)" and name(dataset.items, "7") == "item 7"  # no title
    assert name(dataset.entities, "3") == "Face/Off" and name(dataset.entities, "6") == '"Weird Al" Yankovic'
    assert "7" not in dataset.entities.raw_ids.tolist()  # the blank node Adele__1
    assert name(dataset.relations, "directed_by_director") == "directed by"
    assert (dataset.info["kg_rows"], dataset.info["duplicate_triples"]) == (7, 1)
    assert (dataset.info["dropped_entities"], dataset.info["dropped_triples"]) == (1, 1)
    assert dataset.info["items_without_readable_entity"] == 0
    assert dataset.interactions.timestamp.tolist()[:2] == [978300019, 978300055]
    assert np.bincount(dataset.split_labels).tolist() == [5, 2, 2]
    parts = split(dataset, SplitConfig(scheme="predefined"))
    test_pairs = {(dataset.users.raw(u), dataset.items.raw(i)) for u, i in zip(parts.test.user, parts.test.item)}
    assert test_pairs == {("1", "7"), ("2", "3")}


def test_movie_linked_to_a_blank_node_stays_an_unlinked_item(tmp_path: Path) -> None:
    """The real data has one (movie 3570, ``The_Last_September__The_Last_September__1``): its triples go too."""
    contents = replace_line(ML1M_DBPEDIA_FILES, E_MAP, 2, b"0\tJumanji__1\thttp://dbpedia.org/resource/Jumanji__1")
    dataset = load(contents, tmp_path)
    assert dataset.item_entity[dataset.items.index("2")] == -1 and "0" not in dataset.entities.raw_ids.tolist()
    assert dataset.items.name(dataset.items.index("2")) == "Jumanji (1995)"
    assert (dataset.stats().triples, dataset.stats().linked_items) == (3, 3)
    assert (dataset.info["dropped_entities"], dataset.info["dropped_triples"]) == (2, 3)
    assert dataset.info["items_without_readable_entity"] == 1


def test_bad_line_inside_a_gzip_file_names_it(tmp_path: Path) -> None:
    error = error_of(replace_line(ML1M_DBPEDIA_FILES, ML1M_TRAIN, 3, b"1\t0\t1\tlater\r"), tmp_path)
    assert (file_key(error.path, tmp_path), error.line) == (ML1M_TRAIN, 3) and "'later'" in str(error)
    assert "mapping/train.txt.gz:3: timestamp must be an integer" in str(error)


def test_unmapped_new_id_and_pair_in_two_parts(tmp_path: Path) -> None:
    error = error_of(replace_line(ML1M_DBPEDIA_FILES, TEST, 2, b"1\t7\t1\t978301000"), tmp_path / "a")
    assert (file_key(error.path, tmp_path / "a"), error.line) == (TEST, 2)
    assert "item '7' is not a movie new_id of mapping/product_mapping.txt" in str(error)
    error = error_of(replace_line(ML1M_DBPEDIA_FILES, TEST, 2, b"1\t0\t1\t978301000"), tmp_path / "b")
    assert (file_key(error.path, tmp_path / "b"), error.line) == (TEST, 2) and "train.txt.gz" in str(error)


def test_header_mapping_and_relation_errors(tmp_path: Path) -> None:
    error = error_of(replace_line(ML1M_DBPEDIA_FILES, E_MAP, 1, b"eid\tentity\tname"), tmp_path / "a")
    assert (file_key(error.path, tmp_path / "a"), error.line) == (E_MAP, 1) and "expected the header line" in str(error)
    mapping = (ML1M, "mapping/product_mapping.txt")
    error = error_of(replace_line(ML1M_DBPEDIA_FILES, mapping, 5, b"8\t2"), tmp_path / "b")
    assert (file_key(error.path, tmp_path / "b"), error.line) == (mapping, 5) and "new_id '2'" in str(error)
    kg = (ML1M, "kg_final.txt")
    error = error_of(replace_line(ML1M_DBPEDIA_FILES, kg, 3, b"0\t5\t5"), tmp_path / "c")
    assert (file_key(error.path, tmp_path / "c"), error.line) == (kg, 3) and "not a relation of r_map.txt" in str(error)
    bad_escape = b"4\tX\thttp://dbpedia.org/resource/Joe_%FF"
    error = error_of(replace_line(ML1M_DBPEDIA_FILES, E_MAP, 6, bad_escape), tmp_path / "d")
    assert (file_key(error.path, tmp_path / "d"), error.line) == (E_MAP, 6) and "percent-escape" in str(error)


@pytest.mark.parametrize("damage", ["not gzip", "cut short"])
def test_damaged_gzip_file_is_named(damage: str, tmp_path: Path) -> None:
    write_files(tmp_path, clean(ML1M_DBPEDIA_FILES))
    train = tmp_path / ML1M / "mapping" / "train.txt.gz"
    data = gzip.compress(ML1M_DBPEDIA_FILES[ML1M_TRAIN][0])
    train.write_bytes(ML1M_DBPEDIA_FILES[ML1M_TRAIN][0] if damage == "not gzip" else data[: len(data) // 2])
    with pytest.raises(DatasetError, match="not a valid gzip file") as info:
        ml1m_dbpedia.load({ML1M: tmp_path / ML1M}, DataConfig())
    assert info.value.path == str(train) and info.value.line is None
