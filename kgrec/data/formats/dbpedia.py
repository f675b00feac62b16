"""DBpedia resource names as people read them, shared by the parsers of DBpedia-linked datasets.

A resource ``http://dbpedia.org/resource/Sigur_R%C3%B3s`` (or its bare name ``Sigur_R%C3%B3s``) reads
"Sigur Rós": the name is percent-decoded and ``_`` becomes a space. A trailing disambiguation such as
"(band)" or "(1995 film)" is kept in the data (two entities may differ only by it); :func:`without_disambiguation`
drops it for sentences. DBpedia's blank nodes (``Adele__1``: a ``__`` and a number at the end) and tails that
are web addresses, not resources, are not readable entities (:func:`is_readable_resource`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd

from kgrec.data.readers import LINE_COLUMN, shown
from kgrec.errors import DatasetError

RESOURCE_PREFIXES = ("http://dbpedia.org/resource/", "https://dbpedia.org/resource/")
ONTOLOGY_PREFIXES = ("http://dbpedia.org/ontology/", "https://dbpedia.org/ontology/", "dbo:", "dct:", "dbp:")
_BLANK_NODE = re.compile(r"__\d+$")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_DISAMBIGUATION = re.compile(r"\s+\([^()]*\)$")


def _without_prefix(text: str, prefixes: tuple[str, ...]) -> str:
    """``text`` without the first of ``prefixes`` it starts with (unchanged when none)."""
    for prefix in prefixes:  # a loop, not a generator: this runs once per distinct resource of a KG file
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def resource_name(uri: str) -> str:
    """The resource's own name: the part after ``…/resource/`` (the whole string when there is no prefix)."""
    return _without_prefix(uri, RESOURCE_PREFIXES)


def display_name(uri: str) -> str:
    """"Sigur Rós" for ``http://dbpedia.org/resource/Sigur_R%C3%B3s``: percent-decoded, ``_`` as spaces.

    Some names in the published files are percent-encoded twice (``Shir%25C5%258D``): where the first
    round leaves escapes that decode as UTF-8, they are decoded too ("Shirō"); a literal ``%`` as in
    "100% (band)" stays. UnicodeDecodeError when the first round is not UTF-8 (a parser names the line)."""
    name = _decoded(resource_name(uri))
    if _ESCAPE.search(name):
        try:
            return _decoded(name)
        except UnicodeDecodeError:
            pass
    return name


def display_names(frame: pd.DataFrame, column: str, path: Path, named: Container[str] = ()) -> dict[str, str]:
    """:func:`display_name` of every distinct resource in ``frame[column]`` but those already ``named`` (by an
    earlier file: the entities of one dataset recur in all its files), rows read from ``path`` with their line
    numbers; a percent-escape that is not UTF-8, or an empty name, is a DatasetError at its first line."""
    names: dict[str, str] = {}
    for raw in pd.unique(frame[column]).tolist():  # one list: stepping through an arrow-backed column is slow
        if raw in named:
            continue
        try:
            names[raw] = display_name(raw)
            problem = "" if names[raw] else "has no name (an empty resource name)"
        except UnicodeDecodeError:
            problem = "has a percent-escape that is not valid UTF-8"
        if problem:
            row = int(np.flatnonzero((frame[column] == raw).to_numpy())[0])
            raise DatasetError(f"DBpedia resource {shown(str(raw), 60)} {problem}", path, int(frame[LINE_COLUMN].iloc[row]))
    return names


def _decoded(name: str) -> str:
    return " ".join(unquote(name, errors="strict").replace("_", " ").split())


def is_blank_node(uri: str) -> bool:
    """True for a DBpedia blank node such as ``Adele__1``."""
    return _BLANK_NODE.search(uri) is not None


def is_readable_resource(uri: str) -> bool:
    """False for a blank node (``…__1``) and for a web address that is not a DBpedia resource."""
    if is_blank_node(uri):
        return False
    return uri.startswith(RESOURCE_PREFIXES) or "://" not in uri


def per_value(series: pd.Series, function: Callable[[str], Any]) -> pd.Series:
    """``series.map(function)``, calling ``function`` once per distinct value (a KG file repeats its
    entities on many lines). The distinct values come out of the column as one list and the results go back
    by their codes: stepping through an arrow-backed column value by value costs more than ``function``."""
    codes, distinct = pd.factorize(series, use_na_sentinel=False)
    results = pd.Series([function(value) for value in distinct.tolist()])
    return pd.Series(results.array.take(codes), index=series.index, name=series.name)


def relation_name(relation: str) -> str:
    """``genre`` for ``dbo:genre`` or ``http://dbpedia.org/ontology/genre``: the property without its prefix."""
    return _without_prefix(relation, ONTOLOGY_PREFIXES)


def without_disambiguation(name: str) -> str:
    """"Muse" for "Muse (band)": the name without a trailing parenthesised disambiguation (for sentences)."""
    shorter = _DISAMBIGUATION.sub("", name)
    return shorter or name
