"""DBpedia resource names: decoded, blank nodes and web addresses told apart, disambiguations dropped for text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kgrec.data.formats.dbpedia import (
    display_name,
    display_names,
    is_readable_resource,
    per_value,
    relation_name,
    resource_name,
    without_disambiguation,
)
from kgrec.data.readers import LINE_COLUMN
from kgrec.errors import DatasetError


@pytest.mark.parametrize(
    ("uri", "name"),
    [
        ("http://dbpedia.org/resource/Sigur_R%C3%B3s", "Sigur Rós"),
        ("http://dbpedia.org/resource/Guns_N%27_Roses", "Guns N' Roses"),
        ("http://dbpedia.org/resource/Muse_(band)", "Muse (band)"),
        ("Toy_Story_(1995_film)", "Toy Story (1995 film)"),
        ("http://dbpedia.org/resource/AC/DC", "AC/DC"),
        ("http://dbpedia.org/resource/100%25_(album)", "100% (album)"),
    ],
)
def test_display_name_decodes_percent_escapes_and_underscores(uri: str, name: str) -> None:
    assert display_name(uri) == name


def test_resource_and_relation_names_drop_their_prefixes() -> None:
    assert resource_name("http://dbpedia.org/resource/Muse_(band)") == "Muse_(band)"
    assert resource_name("Muse_(band)") == "Muse_(band)"
    assert relation_name("dbo:genre") == "genre" and relation_name("http://dbpedia.org/ontology/hometown") == "hometown"
    assert relation_name("directed_by_director") == "directed_by_director"


@pytest.mark.parametrize(
    ("uri", "readable"),
    [
        ("http://dbpedia.org/resource/Adele__1", False),
        ("http://dbpedia.org/resource/Adele", True),
        ("https://www.myspace.com/someband", False),
        ("Heat_(1995_film)", True),
        ("Blank__12", False),
        ("Under_score", True),
    ],
)
def test_blank_nodes_and_web_addresses_are_not_readable(uri: str, readable: bool) -> None:
    assert is_readable_resource(uri) is readable


@pytest.mark.parametrize(
    ("name", "short"),
    [("Muse (band)", "Muse"), ("Toy Story (1995 film)", "Toy Story"), ("Muse", "Muse"), ("(band)", "(band)"),
     ("Live (at Leeds) tour", "Live (at Leeds) tour")],
)
def test_without_disambiguation_drops_only_a_trailing_parenthesis(name: str, short: str) -> None:
    assert without_disambiguation(name) == short


def test_a_name_percent_encoded_twice_is_decoded_twice_and_a_literal_percent_stays() -> None:
    assert display_name("Shir%25C5%258D_Hamaguchi") == "Shirō Hamaguchi"
    assert display_name("100%25_(band)") == "100% (band)"
    assert display_name("50%25_off_%25ZZ") == "50% off %ZZ"  # no escape that decodes: left as read
    with pytest.raises(UnicodeDecodeError):
        display_name("Bad_%FF_name")


def test_per_value_maps_like_series_map() -> None:
    uris = pd.Series(["http://dbpedia.org/resource/Muse", "Adele__1", "http://dbpedia.org/resource/Muse"], index=[5, 7, 9])
    for function in (resource_name, is_readable_resource):
        assert per_value(uris, function).equals(uris.map(function))


def test_display_names_skip_the_named_ones_and_report_a_bad_one_at_its_line() -> None:
    frame = pd.DataFrame({"head": ["Muse", "Bad%FF", "Sigur_R%C3%B3s"], LINE_COLUMN: [1, 2, 3]})
    assert display_names(frame, "head", Path("f"), named={"Bad%FF"}) == {"Muse": "Muse", "Sigur_R%C3%B3s": "Sigur Rós"}
    with pytest.raises(DatasetError, match="not valid UTF-8") as error:
        display_names(frame, "head", Path("f"))
    assert error.value.line == 2
