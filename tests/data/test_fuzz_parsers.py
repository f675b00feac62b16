"""Fuzz the dataset parsers: any corrupted input must load correctly or raise DatasetError naming file and line.

Each parser gets a tiny hand-made copy of its files (a handful of consistent rows). Hypothesis applies one to
three corruptions to them (truncated lines, dropped or extra fields, swapped separators, random text and bytes,
invalid UTF-8, BOM, CRLF, stray CR, NUL, huge / negative / non-numeric ids, NaN and inf ratings, duplicate rows,
self-loop triples, relations with spaces, unknown ids, empty or missing files) and checks the contract:

* either the parser returns a RecDataset whose arrays are internally consistent,
* or it raises DatasetError whose ``.path`` is one of the dataset's files (and whose ``.line``, if any, exists);

anything else (KeyError, ValueError, OverflowError, csv.Error, a hang...) fails the test.
The number of generated inputs per parser is printed at the end of the module; the generic formats (tsv, kgat,
recbole) are fuzzed when their modules exist. ``KGREC_FUZZ_EXAMPLES=5000`` runs a longer hunt (default 250).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import signal
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgrec.config import DataConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.formats import kgcn, movielens, omdb
from kgrec.data.split import Split, load_split
from kgrec.errors import DatasetError

# ---- tiny valid datasets -------------------------------------------------------------------------------------
# Files are keyed by (folder, file name) and stored with their field separator (None: not field-structured).

FileSet = dict[tuple[str, str], tuple[bytes, bytes]]

KGCN_FILES: FileSet = {
    ("lastfm-kgcn", "user_artists.dat"): (
        b"userID\tartistID\tweight\n"
        b"1\t10\t100\n"
        b"1\t11\t50\n"
        b"2\t10\t30\n"
        b"2\t12\t7\n"
        b"3\t13\t5\n"  # artist 13 has no KG entity: dropped unless keep_unlinked_items
        b"3\t11\t12\n",
        b"\t",
    ),
    ("lastfm-kgcn", "kg.txt"): (
        b"0\tmusic.artist.origin\t3\n"
        b"1\tmusic.artist.origin\t3\n"
        b"2\tmusic.artist.genre\t4\n"
        b"4\tmusic.genre.parent\t5\n"
        b"1\tfilm.actor.film\t6\n",
        b"\t",
    ),
    ("lastfm-kgcn", "item_index2entity_id.txt"): (b"10\t0\n11\t1\n12\t2\n", b"\t"),
    ("lastfm-kgcn", "hetrec_artists.dat"): (
        b"id\tname\turl\tpictureURL\n"
        b"10\tMALICE MIZER\thttp://www.last.fm/music/MALICE+MIZER\thttp://userserve-ak.last.fm/serve/252/1.jpg\n"
        b"11\tDiary of Dreams\thttp://www.last.fm/music/Diary+of+Dreams\t\n"
        b"12\tCarpathian Forest\thttp://www.last.fm/music/Carpathian+Forest\n"
        b"13\tMo\xc3\xafs\thttp://www.last.fm/music/Mois\thttp://userserve-ak.last.fm/serve/252/4.jpg\n",
        b"\t",
    ),
}
KGCN_STATS = {"users": 3, "items": 3, "interactions": 5, "entities": 7, "relations": 4, "triples": 5, "linked_items": 3}

ML100K_FILES: FileSet = {
    ("ml-100k", "u.data"): (
        b"1\t1\t5\t881250949\n"
        b"1\t2\t3\t881250950\n"
        b"2\t1\t4\t881250951\n"
        b"2\t3\t5\t881250952\n"
        b"3\t4\t4\t881250953\n"
        b"3\t2\t1\t881250954\n",
        b"\t",
    ),
    ("ml-100k", "u.item"): (
        b"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|1|0\n"
        b"2|GoldenEye (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?GoldenEye%20(1995)|0|1|0|0\n"
        b"3|Four Rooms (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Four%20Rooms%20(1995)|0|0|1|1\n"
        b"4|Caf\xe9 Society (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Cafe|1|0|0|0\n",  # Latin-1
        b"|",
    ),
    ("ml-100k", "u.user"): (b"1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n", b"|"),
    ("ml-100k", "u.genre"): (b"unknown|0\nAction|1\nComedy|2\nDrama|3\n\n", b"|"),
    ("ml1m-satori-kg", "kg.txt"): (
        b"0\tfilm.film.writer\t3\r\n"
        b"1\tfilm.film.language\t4\r\n"
        b"2\tfilm.film.language\t4\r\n"
        b"0\tfilm.film.language\t4\r\n",
        b"\t",
    ),
    ("ml1m-satori-kg", "item_index2entity_id.txt"): (b"1\t0\r\n10\t1\r\n18\t2\r\n", b"\t"),
    ("ml1m-satori-kg", "movies.dat"): (
        b"1::Toy Story (1995)::Animation|Children's|Comedy\n"
        b"10::GoldenEye (1995)::Action|Adventure|Thriller\n"
        b"18::Four Rooms (1995)::Thriller\n",
        b"::",
    ),
}
# threshold 4: (1,1) (2,1) (2,3) (3,4); items = the whole u.item catalogue; 4 Satori + 4 has_genre triples
ML100K_STATS = {
    "users": 3, "items": 4, "interactions": 4, "entities": 8,
    "relations": 3, "triples": 8, "linked_items": 3,
}

OMDB_FILES: FileSet = {
    ("moviekg-omdb", "sub_user_watched_movies.csv"): (
        b"user_id,rate,movie_id\nu_1,4.5,1\nu_2,5.0,1\nu_1,3.0,3\nu_3,4.0,3\nu_2,2.5,5\nu_3,4.0,1\n",
        b",",
    ),
    ("moviekg-omdb", "sub_movie.csv"): (
        b'movie_id,name\n1,Cowboy Bebop\n3,Shadows in Paradise\n5,"Crouching Tiger, Hidden Dragon"\n7,Unrated\n',
        b",",
    ),
    ("moviekg-omdb", "sub_actor.csv"): (
        b"people_id,name,birth_date\np_1,Matti Pellonp\xc3\xa4\xc3\xa4,1951-03-28\np_2,Kati Outinen,1961-08-17\n",
        b",",
    ),
    ("moviekg-omdb", "sub_director.csv"): (b"people_id,name,birth_date\np_3,Aki Kaurism\xc3\xa4ki,1957-04-04\n", b","),
    ("moviekg-omdb", "sub_people.csv"): (b"people_id,name,birth_date\np_4,Darine Hamze,\\N\n", b","),
    ("moviekg-omdb", "sub_genre.csv"): (b"genre_id,name_y\ng_1,Drama\ng_2,Space Opera\n", b","),
    ("moviekg-omdb", "sub_actor_act_movie.csv"): (b"people_id,movie_id\np_1,3\np_2,3\np_4,5\n", b","),
    ("moviekg-omdb", "sub_director_direct_movie.csv"): (b"people_id,movie_id\np_3,3\np_3,7\n", b","),
    ("moviekg-omdb", "sub_movie_withgenre_genre.csv"): (b"movie_id,genre_id\n1,g_2\n3,g_1\n5,g_1\n", b","),
}
# threshold 4: (u_1,1) (u_2,1) (u_3,3) (u_3,1); items = rated movies 1, 3, 5
OMDB_STATS = {
    "users": 3, "items": 3, "interactions": 4, "entities": 10,
    "relations": 3, "triples": 8, "linked_items": 3,
}

SPLIT_FILES: FileSet = {
    ("split", "train.tsv"): (b"1\t10\n1\t11\n2\t10\n3\t11\n3\t12\n", b"\t"),
    ("split", "valid.tsv"): (b"1\t12\n2\t13\n", b"\t"),
    ("split", "test.tsv"): (b"3\t13\n", b"\t"),
}
SPLIT_PAIRS = [("1", "10"), ("1", "11"), ("1", "12"), ("2", "10"), ("2", "13"), ("3", "11"), ("3", "12"), ("3", "13")]


def split_dataset() -> RecDataset:
    users, items = zip(*SPLIT_PAIRS)
    return RecDataset.from_frames("tiny", pd.DataFrame({"user": users, "item": items}))


def assert_omdb_files_cover_loader() -> None:
    assert {name for _, name in OMDB_FILES} == set(omdb.FILES)


# ---- generic formats (called with a path): tsv, kgat, recbole atomic ------------------------------------------

TSV_FILES: FileSet = {
    ("toy-tsv", "interactions.tsv"): (
        b"user\titem\trating\ttimestamp\nu1\ti1\t5\t100\nu1\ti2\t3\t101\nu2\ti1\t4\t102\nu2\ti3\t1\t103\n"
        b"u3\ti2\t2.5\t104\n",
        b"\t",
    ),
    ("toy-tsv", "triples.csv"): (b'head,relation,tail\ne1,genre,g1\ne2,genre,g1\ne3,"directed, by",p1\n', b","),
    ("toy-tsv", "links.tsv"): (b"item\tentity\ni1\te1\ni2\te2\ni3\te3\n", b"\t"),
    ("toy-tsv", "item_names.tsv"): (b"i1\tToy Story (1995)\ni2\tHeat\n", b"\t"),
    ("toy-tsv", "entity_names.csv"): (b'id,name\ng1,Drama\np1,"Lang, Fritz"\n', b","),
}
TSV_STATS = {"users": 3, "items": 3, "interactions": 5, "entities": 5, "relations": 2, "triples": 3, "linked_items": 3}

TSV_SPLIT_FILES: FileSet = {
    ("toy-split", "train.tsv"): (b"user\titem\nu1\t1\nu1\t2\nu2\t1\nu3\t3\n", b"\t"),
    ("toy-split", "valid.tsv"): (b"user\titem\nu1\t3\n", b"\t"),
    ("toy-split", "test.csv"): (b"user,item\nu2,2\nu3,1\n", b","),
    ("toy-split", "triples.tsv"): (b"1\tr\t10\n2\tr\t10\n10\ts\t11\n", b"\t"),  # no links: item i is entity i
}
TSV_SPLIT_STATS = {
    "users": 3, "items": 3, "interactions": 7, "entities": 4,
    "relations": 2, "triples": 3, "linked_items": 2,
}

KGAT_FILES: FileSet = {
    ("toy-kgat", "train.txt"): (b"0 0 1 2\n1 1 3\n2 0 4\n3\n", b" "),  # user 3 has no items
    ("toy-kgat", "valid.txt"): (b"1 2\n", b" "),
    ("toy-kgat", "test.txt"): (b"0 3\n1 0\n2 2\n", b" "),
    ("toy-kgat", "kg_final.txt"): (b"0 0 5\n1 0 5\n2 1 6\n5 2 7\n", b" "),
    ("toy-kgat", "item_list.txt"): (
        b"org_id remap_id freebase_id\nB00 0 m.00\nB01 1 m.01\nB02 2 m.02\nB03 3\nB04 4\nB05 5\n",
        b" ",
    ),
    ("toy-kgat", "user_list.txt"): (b"org_id remap_id\nua 0\nub 1\nuc 2\nud 3\n", b" "),
    ("toy-kgat", "relation_list.txt"): (b"org_id remap_id\nfilm.genre 0\nfilm.actor 1\nmusic.origin 2\n", b" "),
}
# items 0..5 from item_list.txt; items 0, 1, 2 and 5 are also KG entities
KGAT_STATS = {
    "users": 3, "items": 6, "interactions": 11, "entities": 6,
    "relations": 3, "triples": 4, "linked_items": 4,
}

INTER_HEADER = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\treview:token_seq\n"
RECBOLE_FILES: FileSet = {
    ("toy", "toy.inter"): (
        INTER_HEADER + b"u1\tm1\t4.5\t881250949\tgreat film\nu1\tm2\t2\t881250950.9\tmeh\nu2\tm1\t5\t1e9\t\n"
        b"u3\tm3\t3\t881250951\tok\n",
        b"\t",
    ),
    ("toy", "toy.kg"): (
        b"head_id:token\trelation_id:token\ttail_id:token\n"
        b"e.m1\tfilm.genre\te.drama\ne.m2\tfilm.genre\te.drama\ne.m1\tfilm.director\te.lang\n",
        b"\t",
    ),
    ("toy", "toy.link"): (b"item_id:token\tentity_id:token\nm1\te.m1\nm2\te.m2\n", b"\t"),
    ("toy", "toy.item"): (
        b"item_id:token\tmovie_title:token_seq\trelease_year:token\n"
        b"m1\tToy Story (1995)\t1995\nm2\tHeat\t1995\nm3\tAlien\t1979\nm4\tM\t1931\n",
        b"\t",
    ),
    ("toy", "toy.ent"): (b"entity_id:token\tname:token_seq\ne.drama\tDrama\ne.lang\tFritz Lang\n", b"\t"),
}
RECBOLE_STATS = {
    "users": 3, "items": 4, "interactions": 4, "entities": 4,
    "relations": 2, "triples": 3, "linked_items": 2,
}

SPLIT_INTER_HEADER = b"user_id:token\titem_id:token\trating:float\n"
RECBOLE_SPLIT_FILES: FileSet = {
    ("toy-bench", "toy.train.inter"): (SPLIT_INTER_HEADER + b"u1\tm1\t5\nu1\tm2\t4\nu2\tm1\t3\n", b"\t"),
    ("toy-bench", "toy.valid.inter"): (SPLIT_INTER_HEADER + b"u1\tm3\t4\n", b"\t"),
    ("toy-bench", "toy.test.inter"): (SPLIT_INTER_HEADER + b"u2\tm2\t5\n", b"\t"),
    ("toy-bench", "toy.kg"): RECBOLE_FILES[("toy", "toy.kg")],
    ("toy-bench", "toy.link"): RECBOLE_FILES[("toy", "toy.link")],
}
RECBOLE_SPLIT_STATS = {
    "users": 2, "items": 3, "interactions": 5, "entities": 4,
    "relations": 2, "triples": 3, "linked_items": 2,
}

Loader = Callable[[Any, DataConfig], RecDataset]


class Parser(NamedTuple):
    """A parser under test: its tiny files, its load function, the exact stats of the tiny files.

    ``by_path`` parsers (the generic formats) are called with their one directory, the others with
    ``{folder: directory}``.
    """

    files: FileSet
    load: Loader
    stats: dict[str, int]
    by_path: bool = False


def _generic(module: str) -> Loader | None:
    """``kgrec.data.formats.<module>.load`` if that module exists yet (the generic formats came later)."""
    try:
        return importlib.import_module(f"kgrec.data.formats.{module}").load
    except ModuleNotFoundError:
        return None


PARSERS: dict[str, Parser] = {
    "lastfm-kgcn": Parser(KGCN_FILES, kgcn.load, KGCN_STATS),
    "ml100k": Parser(ML100K_FILES, movielens.load, ML100K_STATS),
    "moviekg-omdb": Parser(OMDB_FILES, omdb.load, OMDB_STATS),
}
for _name, _module, _files, _stats in [
    ("tsv", "tsv", TSV_FILES, TSV_STATS),
    ("tsv-split", "tsv", TSV_SPLIT_FILES, TSV_SPLIT_STATS),
    ("kgat", "kgat", KGAT_FILES, KGAT_STATS),
    ("recbole", "recbole_atomic", RECBOLE_FILES, RECBOLE_STATS),
    ("recbole-split", "recbole_atomic", RECBOLE_SPLIT_FILES, RECBOLE_SPLIT_STATS),
]:
    if (_load := _generic(_module)) is not None:
        PARSERS[_name] = Parser(_files, _load, _stats, by_path=True)


def call(parser: str, root: Path, config: DataConfig) -> RecDataset:
    """Run a parser on the files already written under ``root``."""
    files, load, _, by_path = PARSERS[parser]
    folders = sorted({folder for folder, _ in files})
    if by_path:
        return load(root / folders[0], config)
    return load({folder: root / folder for folder in folders}, config)


def write_files(root: Path, files: Mapping[tuple[str, str], bytes | None]) -> dict[str, Path]:
    """Write the files (None: leave missing) under root/<folder>/; return folder -> directory."""
    dirs: dict[str, Path] = {}
    for (folder, name), data in files.items():
        dirs[folder] = root / folder
        dirs[folder].mkdir(parents=True, exist_ok=True)
        if data is not None:
            (root / folder / name).write_bytes(data)
    return dirs


def clean(files: FileSet) -> dict[tuple[str, str], bytes | None]:
    return {key: data for key, (data, _) in files.items()}


def stats_of(dataset: RecDataset) -> dict[str, int]:
    stats = dataset.stats()
    return {key: getattr(stats, key) for key in KGCN_STATS}


# ---- counting generated inputs -------------------------------------------------------------------------------

GENERATED: Counter[str] = Counter()
LOADED: Counter[str] = Counter()  # of which the parser accepted the input


@pytest.fixture(scope="module", autouse=True)
def _report_generated_inputs(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not GENERATED:
        return
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")  # fd capture would swallow the lines during teardown
    write = reporter.write_line if reporter is not None else print
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        write("")
        for parser, count in sorted(GENERATED.items()):
            loaded = LOADED[parser]
            write(f"fuzz: {parser}: {count} generated inputs ({loaded} loaded, {count - loaded} DatasetError)")


# ---- corruptions ---------------------------------------------------------------------------------------------

SEPARATORS = [b"\t", b",", b" ", b"|", b"::", b";", b""]
TOKENS = [
    str(10**30), str(2**63), str(-(2**63) - 1), "-1", "-42", "0", "-0", "abc", "x1", "NaN", "nan", "inf", "-inf",
    "Infinity", "", " ", "1.5", "4.0", "1e3", "1e400", "0x1F", "007", "+2", "1_000", "99999", "\\N", "None", '"',
    '"quoted', 'a"b', "'", "a b", "has genre", "\u00e9", "\u00a0", "\u0661\u0662", "\ufeff1", "1\x00", "\x00",
    "\r", "\x0b", "\u2028", "#1", "u_1", "p_1", "g_1", "1", "3", "10",
]
INVALID_UTF8 = [b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"]
UNKNOWN_IDS = [b"424242", b"999", b"u_999", b"p_999", b"g_999", b"-1"]
RELATIONS_WITH_SPACES = [b"has genre", b" film.film.writer ", b"music artist origin", b" "]
OPS = (
    "truncate", "drop_field", "add_field", "swap_sep", "insert_bytes", "insert_text", "invalid_utf8", "bom",
    "crlf", "lone_cr", "nul", "replace_field", "duplicate_row", "self_loop", "relation_space", "unknown_id",
    "delete_line", "swap_lines", "empty", "blank_lines", "drop_header", "missing", "huge_id", "negative_id",
    "bad_number",
)


class Corruption(NamedTuple):
    file: tuple[str, str]
    op: str
    line: int
    field: int
    pos: int
    payload: Any


@st.composite
def corruptions(draw: st.DrawFn, keys: list[tuple[str, str]]) -> Corruption:
    key = draw(st.sampled_from(keys))
    op = draw(st.sampled_from(OPS))
    payload: Any = None
    if op == "insert_bytes":
        payload = draw(st.binary(min_size=1, max_size=12))
    elif op == "insert_text":
        payload = draw(st.text(min_size=1, max_size=12)).encode("utf-8", "surrogatepass")
    elif op in ("add_field", "replace_field"):
        payload = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=10))).encode("utf-8", "surrogatepass")
    elif op == "swap_sep":
        payload = (draw(st.sampled_from(SEPARATORS)), draw(st.booleans()))
    elif op == "invalid_utf8":
        payload = draw(st.sampled_from(INVALID_UTF8))
    elif op == "unknown_id":
        payload = draw(st.sampled_from(UNKNOWN_IDS))
    elif op == "relation_space":
        payload = draw(st.sampled_from(RELATIONS_WITH_SPACES))
    elif op == "huge_id":
        payload = draw(st.sampled_from([10**30, 2**63, 2**64, 10**400, -(10**30)]))
    elif op == "negative_id":
        payload = draw(st.integers(-(10**6), -1))
    elif op == "bad_number":
        payload = draw(st.sampled_from([b"NaN", b"nan", b"inf", b"-inf", b"", b"abc", b"1e400", b"--1", b"1.2.3"]))
    return Corruption(key, op, draw(st.integers(0, 40)), draw(st.integers(0, 30)), draw(st.integers(0, 400)), payload)


def _pick_line(lines: list[bytes], index: int) -> int:
    candidates = [i for i, line in enumerate(lines) if line.strip()] or list(range(len(lines)))
    return candidates[index % len(candidates)]


def apply(data: bytes | None, sep: bytes, c: Corruption) -> bytes | None:
    """One corruption of a file's bytes (None: the file is missing)."""
    if c.op == "missing":
        return None
    data = data or b""
    if c.op == "empty":
        return b""
    if c.op == "bom":
        return b"\xef\xbb\xbf" + data
    if c.op == "crlf":
        return data.replace(b"\n", b"\r\n")
    if c.op in ("insert_bytes", "insert_text", "invalid_utf8", "lone_cr", "nul"):
        insert = {"lone_cr": b"\r", "nul": b"\x00"}.get(c.op, c.payload)
        at = c.pos % (len(data) + 1)
        return data[:at] + insert + data[at:]
    if c.op == "swap_sep" and c.payload[1]:
        return data.replace(sep, c.payload[0])
    lines = data.split(b"\n")
    i = _pick_line(lines, c.line)
    line = lines[i]
    fields = line.split(sep)
    j = c.field % len(fields)
    if c.op == "truncate":
        lines[i] = line[: c.pos % (len(line) + 1)]
    elif c.op == "drop_field":
        del fields[j]
        lines[i] = sep.join(fields)
    elif c.op == "add_field":
        fields.insert(c.field % (len(fields) + 1), c.payload)
        lines[i] = sep.join(fields)
    elif c.op == "swap_sep":
        lines[i] = line.replace(sep, c.payload[0])
    elif c.op in ("replace_field", "unknown_id", "bad_number"):
        fields[j] = c.payload
        lines[i] = sep.join(fields)
    elif c.op in ("huge_id", "negative_id"):
        fields[j] = str(c.payload).encode()
        lines[i] = sep.join(fields)
    elif c.op == "duplicate_row":
        lines.insert(i + 1 if c.pos % 2 else len(lines), line)
    elif c.op == "self_loop":
        if len(fields) >= 3:
            fields[2] = fields[0]
        lines[i] = sep.join(fields)
    elif c.op == "relation_space":
        fields[min(1, len(fields) - 1)] = c.payload
        lines[i] = sep.join(fields)
    elif c.op == "delete_line":
        del lines[i]
    elif c.op == "swap_lines":
        k = c.field % len(lines)
        lines[i], lines[k] = lines[k], lines[i]
    elif c.op == "blank_lines":
        lines.insert(i, b"  \t")
        lines.insert(i, b"")
    elif c.op == "drop_header":
        del lines[0]
    else:  # pragma: no cover - every op is handled above
        raise AssertionError(c.op)
    return b"\n".join(lines)


def corrupt(files: FileSet, changes: list[Corruption]) -> dict[tuple[str, str], bytes | None]:
    contents = clean(files)
    for change in changes:
        contents[change.file] = apply(contents[change.file], files[change.file][1], change)
    return contents


# ---- the contract --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) when a parser takes longer than ``seconds`` on a tiny input."""

    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"parser did not finish within {seconds} s")

    if not hasattr(signal, "SIGALRM"):  # Windows: no alarm; a hang then shows as a stuck test
        yield
        return
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_error(
    error: DatasetError, root: Path, contents: Mapping[tuple[str, str], bytes | None], by_path: bool = False
) -> None:
    """A DatasetError must name one of the dataset's files, start its message with it and point at a real line.

    A generic format (``by_path``) discovers its files by name, so it may also name the directory or a file of
    it that the tiny dataset does not have (e.g. ``interactions.tsv`` when train.tsv went missing).
    """
    assert error.path is not None, f"DatasetError without a path: {error}"
    path = Path(error.path)
    key = (path.parent.name, path.name)
    folders = {folder for folder, _ in contents}
    named_ok = key in contents or (
        by_path and (path.parent.name in folders or (path.parent == root and path.name in folders))
    )
    assert path.parent.parent == root or path.parent == root, f"DatasetError names {error.path}, outside the dataset"
    assert named_ok, f"DatasetError names {error.path}, not a dataset file"
    assert str(error).startswith(f"{error.path}:"), str(error)
    assert error.reason and error.reason.strip(), "empty error message"
    if error.line is not None:
        assert key in contents, f"line {error.line} of {path.name}, which the dataset does not have"
        data = contents[key]
        assert data is not None, f"line {error.line} of a missing file"
        assert 1 <= error.line <= data.count(b"\n") + 1, f"line {error.line} is not a line of {path.name}"
        assert str(error).startswith(f"{error.path}:{error.line}: ")


def check_dataset(dataset: RecDataset) -> None:
    """Internal consistency of a RecDataset a parser accepted."""
    assert isinstance(dataset, RecDataset)
    stats = dataset.stats()
    inter = dataset.interactions
    assert stats.interactions == len(inter) > 0, "a parser returned a dataset without interactions"
    assert stats.users == dataset.n_users == len(np.unique(inter.user)), "every user must have an interaction"
    assert ((inter.user >= 0) & (inter.user < dataset.n_users)).all()
    assert ((inter.item >= 0) & (inter.item < dataset.n_items)).all()
    assert len(np.unique(inter.pair_keys(dataset.n_items))) == len(inter), "repeated (user, item) pair"
    if inter.rating is not None:
        assert len(inter.rating) == len(inter) and np.isfinite(inter.rating).all()
    if inter.timestamp is not None:
        assert len(inter.timestamp) == len(inter)
    triples = dataset.triples
    assert triples.shape == (stats.triples, 3)
    if len(triples):
        assert ((triples[:, [0, 2]] >= 0) & (triples[:, [0, 2]] < dataset.n_entities)).all()
        assert ((triples[:, 1] >= 0) & (triples[:, 1] < dataset.n_relations)).all()
        assert len(np.unique(triples, axis=0)) == len(triples), "repeated triple"
    assert sum(stats.per_relation.values()) == stats.triples
    assert len(dataset.item_entity) == dataset.n_items
    assert ((dataset.item_entity >= -1) & (dataset.item_entity < dataset.n_entities)).all()
    assert stats.linked_items <= stats.items
    for ids in (dataset.users, dataset.items, dataset.entities, dataset.relations):
        raw = ids.raw_ids.tolist()
        assert len(set(raw)) == len(raw), f"repeated raw {ids.kind} id"
        assert all(isinstance(r, str) and r.strip() for r in raw), f"empty raw {ids.kind} id"


def check_split(parts: Split, dataset: RecDataset) -> None:
    assert isinstance(parts, Split)
    keys = [p.pair_keys(dataset.n_items) for p in (parts.train, parts.valid, parts.test)]
    everything = np.concatenate(keys)
    assert len(np.unique(everything)) == len(everything), "a pair is in two parts"
    assert set(everything) <= set(dataset.interactions.pair_keys(dataset.n_items))
    assert len(parts.train) > 0
    trained = set(parts.train.user.tolist())
    assert set(parts.valid.user.tolist()) | set(parts.test.user.tolist()) <= trained


def run_parser(parser: str, changes: list[Corruption], config: DataConfig) -> None:
    GENERATED[parser] += 1
    contents = corrupt(PARSERS[parser].files, changes)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_files(root, contents)
        try:
            with time_limit(20):
                dataset = call(parser, root, config)
        except DatasetError as error:
            check_error(error, root, contents, PARSERS[parser].by_path)
        else:
            check_dataset(dataset)
            LOADED[parser] += 1


# ---- sanity: the tiny files load with exact stats ------------------------------------------------------------


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_tiny_dataset_loads_with_exact_stats(parser: str, tmp_path: Path) -> None:
    files, _, expected, _ = PARSERS[parser]
    write_files(tmp_path, clean(files))
    dataset = call(parser, tmp_path, DataConfig(name=parser))
    assert stats_of(dataset) == expected
    check_dataset(dataset)


def test_tiny_dataset_details(tmp_path: Path) -> None:
    assert_omdb_files_cover_loader()
    lastfm = kgcn.load(write_files(tmp_path / "a", clean(KGCN_FILES)), DataConfig())
    assert lastfm.items.name(lastfm.items.index("10")) == "MALICE MIZER"
    assert lastfm.interactions.rating.tolist() == [100.0, 50.0, 30.0, 7.0, 12.0]
    unlinked = kgcn.load(write_files(tmp_path / "b", clean(KGCN_FILES)), DataConfig(keep_unlinked_items=True))
    assert (unlinked.n_items, len(unlinked.interactions), unlinked.stats().linked_items) == (4, 6, 3)
    ml = movielens.load(write_files(tmp_path / "c", clean(ML100K_FILES)), DataConfig(name="ml100k", threshold=0))
    assert len(ml.interactions) == 6 and ml.items.name(ml.items.index("4")) == "Caf\u00e9 Society (1995)"
    assert ml.stats().per_relation["has_genre"] == 4
    movies = omdb.load(write_files(tmp_path / "d", clean(OMDB_FILES)), DataConfig(name="moviekg-omdb"))
    assert movies.items.name(movies.items.index("5")) == "Crouching Tiger, Hidden Dragon"
    assert movies.stats().per_relation == {"acted_by": 3, "directed_by": 2, "has_genre": 3}


def test_tiny_split_loads(tmp_path: Path) -> None:
    dataset = split_dataset()
    write_files(tmp_path, clean(SPLIT_FILES))
    parts = load_split(tmp_path / "split", dataset)
    assert (len(parts.train), len(parts.valid), len(parts.test)) == (5, 2, 1)
    check_split(parts, dataset)


# ---- properties ----------------------------------------------------------------------------------------------

# KGREC_FUZZ_EXAMPLES=5000 for a longer hunt; the default keeps the whole module well under a minute
FUZZ_SETTINGS = settings(
    max_examples=int(os.environ.get("KGREC_FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
CHANGES = {name: st.lists(corruptions(list(parser.files)), min_size=1, max_size=3) for name, parser in PARSERS.items()}
GENERIC = [name for name, parser in PARSERS.items() if parser.by_path]
CONFIGS = st.builds(
    DataConfig,
    threshold=st.sampled_from([None, None, 0.0, 1.0, 4.0, 4.5, 6.0, 20.0]),  # the default twice as often
    keep_unlinked_items=st.booleans(),
)


@pytest.mark.fuzz
@FUZZ_SETTINGS
@given(changes=CHANGES["lastfm-kgcn"], config=CONFIGS)
def test_fuzz_kgcn(changes: list[Corruption], config: DataConfig) -> None:
    run_parser("lastfm-kgcn", changes, config)


@pytest.mark.fuzz
@FUZZ_SETTINGS
@given(changes=CHANGES["ml100k"], config=CONFIGS)
def test_fuzz_ml100k(changes: list[Corruption], config: DataConfig) -> None:
    run_parser("ml100k", changes, config)


@pytest.mark.fuzz
@FUZZ_SETTINGS
@given(changes=CHANGES["moviekg-omdb"], config=CONFIGS)
def test_fuzz_omdb(changes: list[Corruption], config: DataConfig) -> None:
    run_parser("moviekg-omdb", changes, config)


@pytest.mark.fuzz
@settings(FUZZ_SETTINGS, max_examples=max(1, FUZZ_SETTINGS.max_examples * 3 // 5))
@given(data=st.data(), config=CONFIGS)
@pytest.mark.parametrize("parser", GENERIC)
def test_fuzz_generic_format(parser: str, data: st.DataObject, config: DataConfig) -> None:
    run_parser(parser, data.draw(CHANGES[parser], label="changes"), config)


SPLIT_DATASET = split_dataset()


@pytest.mark.fuzz
@FUZZ_SETTINGS
@given(changes=st.lists(corruptions(list(SPLIT_FILES)), min_size=1, max_size=3))
def test_fuzz_load_split(changes: list[Corruption]) -> None:
    GENERATED["load_split"] += 1
    contents = corrupt(SPLIT_FILES, changes)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_files(root, contents)
        try:
            with time_limit(20):
                parts = load_split(root / "split", SPLIT_DATASET)
        except DatasetError as error:
            check_error(error, root, contents)
        else:
            check_split(parts, SPLIT_DATASET)
            LOADED["load_split"] += 1


# ---- deterministic cases: the exact line ---------------------------------------------------------------------


def replace_line(files: FileSet, key: tuple[str, str], line: int, text: bytes) -> dict[tuple[str, str], bytes | None]:
    """The clean files with 1-based ``line`` of one file replaced by ``text``."""
    contents = clean(files)
    lines = files[key][0].split(b"\n")
    lines[line - 1] = text
    contents[key] = b"\n".join(lines)
    return contents


def load_error(
    parser: str, contents: Mapping[tuple[str, str], bytes | None], tmp_path: Path, **config: Any
) -> DatasetError:
    write_files(tmp_path, contents)
    with pytest.raises(DatasetError) as info:
        call(parser, tmp_path, DataConfig(name=parser, **config))
    check_error(info.value, tmp_path, contents, PARSERS[parser].by_path)
    return info.value


LASTFM = "lastfm-kgcn"
LISTENS = (LASTFM, "user_artists.dat")
LASTFM_KG = (LASTFM, "kg.txt")
LASTFM_LINKS = (LASTFM, "item_index2entity_id.txt")


def test_non_numeric_user_id_names_line_3(tmp_path: Path) -> None:
    error = load_error(LASTFM, replace_line(KGCN_FILES, LISTENS, 3, b"bob\t11\t50"), tmp_path)
    assert error.line == 3 and Path(error.path).name == "user_artists.dat"
    assert "user_artists.dat:3:" in str(error) and "'bob'" in str(error)


def test_u_data_rating_abc_names_line_2(tmp_path: Path) -> None:
    contents = replace_line(ML100K_FILES, ("ml-100k", "u.data"), 2, b"1\t2\tabc\t881250950")
    error = load_error("ml100k", contents, tmp_path)
    assert (Path(error.path).name, error.line) == ("u.data", 2)
    assert "u.data:2:" in str(error) and "'abc'" in str(error)


@pytest.mark.parametrize("rating", [b"NaN", b"inf", b"-inf", b"", b"1e400"])
def test_u_data_non_finite_rating_names_its_line(rating: bytes, tmp_path: Path) -> None:
    contents = replace_line(ML100K_FILES, ("ml-100k", "u.data"), 5, b"3\t4\t" + rating + b"\t881250953")
    error = load_error("ml100k", contents, tmp_path)
    assert (Path(error.path).name, error.line) == ("u.data", 5)


def test_link_to_entity_not_in_kg_names_that_line(tmp_path: Path) -> None:
    error = load_error(LASTFM, replace_line(KGCN_FILES, LASTFM_LINKS, 2, b"11\t999"), tmp_path)
    assert (Path(error.path).name, error.line) == ("item_index2entity_id.txt", 2)
    assert "'999'" in str(error)


def test_invalid_utf8_names_line_4(tmp_path: Path) -> None:
    error = load_error(LASTFM, replace_line(KGCN_FILES, LASTFM_KG, 4, b"4\tmusic.genre.\xffparent\t5"), tmp_path)
    assert (Path(error.path).name, error.line) == ("kg.txt", 4)
    assert "0xff" in str(error)


EVERY_FILE = [(name, key) for name, parser in PARSERS.items() if not parser.by_path for key in parser.files]


@pytest.mark.parametrize(("parser", "key"), EVERY_FILE, ids=[f"{p}/{k[1]}" for p, k in EVERY_FILE])
@pytest.mark.parametrize("content", [b"", b"\n\n \t\n", None], ids=["empty", "blank", "missing"])
def test_empty_or_missing_file_is_named(
    parser: str, key: tuple[str, str], content: bytes | None, tmp_path: Path
) -> None:
    contents = clean(PARSERS[parser][0])
    contents[key] = content
    error = load_error(parser, contents, tmp_path)
    assert Path(error.path).name == key[1] and error.line is None
    assert key[1] in str(error)


def test_header_only_file_is_an_error(tmp_path: Path) -> None:
    contents = clean(KGCN_FILES)
    contents[LISTENS] = b"userID\tartistID\tweight\n"
    error = load_error(LASTFM, contents, tmp_path)
    assert Path(error.path).name == "user_artists.dat" and "no data rows" in str(error)


def test_ml100k_threshold_above_every_rating_says_no_positives(tmp_path: Path) -> None:
    error = load_error("ml100k", clean(ML100K_FILES), tmp_path, threshold=6)
    assert Path(error.path).name == "u.data" and "no positive" in str(error) and "highest rating is 5" in str(error)


def test_wrong_field_count_names_the_line(tmp_path: Path) -> None:
    error = load_error(LASTFM, replace_line(KGCN_FILES, LASTFM_KG, 2, b"1\tmusic.artist.origin"), tmp_path)
    assert (Path(error.path).name, error.line) == ("kg.txt", 2) and "found 2 field(s)" in str(error)
    error = load_error(LASTFM, replace_line(KGCN_FILES, LASTFM_KG, 3, b"2,music.artist.genre,4"), tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("kg.txt", 3)


@pytest.mark.parametrize("huge", [10**30, 2**63, -(2**63) - 1])
def test_huge_id_names_its_line(huge: int, tmp_path: Path) -> None:
    error = load_error(LASTFM, replace_line(KGCN_FILES, LISTENS, 4, f"{huge}\t10\t30".encode()), tmp_path)
    assert (Path(error.path).name, error.line) == ("user_artists.dat", 4)
    contents = replace_line(ML100K_FILES, ("ml-100k", "u.data"), 3, f"2\t1\t4\t{huge}".encode())
    error = load_error("ml100k", contents, tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("u.data", 3)


def test_largest_int64_id_is_accepted(tmp_path: Path) -> None:
    big = 2**63 - 1
    contents = replace_line(KGCN_FILES, LISTENS, 4, f"{big}\t10\t30".encode())
    dataset = kgcn.load(write_files(tmp_path, contents), DataConfig())
    assert str(big) in dataset.users.raw_ids.tolist()


def test_negative_ids_are_plain_ids(tmp_path: Path) -> None:
    contents = replace_line(KGCN_FILES, LISTENS, 4, b"-2\t10\t30")
    dataset = kgcn.load(write_files(tmp_path, contents), DataConfig())
    check_dataset(dataset)
    assert "-2" in dataset.users.raw_ids.tolist() and dataset.n_users == 4


@pytest.mark.parametrize("cut", [b"12\t", b"12", b"1\t"])
def test_truncated_line_names_its_line(cut: bytes, tmp_path: Path) -> None:
    error = load_error(LASTFM, replace_line(KGCN_FILES, LASTFM_LINKS, 2, cut), tmp_path)
    assert (Path(error.path).name, error.line) == ("item_index2entity_id.txt", 2)


def test_nul_byte_in_an_id_names_its_line(tmp_path: Path) -> None:
    error = load_error(LASTFM, replace_line(KGCN_FILES, LASTFM_KG, 2, b"1\x00\tmusic.artist.origin\t3"), tmp_path)
    assert (Path(error.path).name, error.line) == ("kg.txt", 2)


def test_stray_carriage_return_names_its_line(tmp_path: Path) -> None:
    error = load_error(LASTFM, replace_line(KGCN_FILES, LASTFM_KG, 3, b"2\tmusic.artist.genre\r\t4"), tmp_path)
    assert (Path(error.path).name, error.line) == ("kg.txt", 3)
    contents = replace_line(OMDB_FILES, ("moviekg-omdb", "sub_movie.csv"), 3, b"3,Shadows\rin Paradise")
    error = load_error("moviekg-omdb", contents, tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("sub_movie.csv", 3)


def test_unbalanced_quote_in_csv_names_its_line(tmp_path: Path) -> None:
    for line in (b'3,"Shadows in Paradise', b'3,"Shadows" in Paradise'):
        contents = replace_line(OMDB_FILES, ("moviekg-omdb", "sub_movie.csv"), 3, line)
        error = load_error("moviekg-omdb", contents, tmp_path / str(len(line)))
        assert (Path(error.path).name, error.line) == ("sub_movie.csv", 3) and "malformed CSV" in str(error)


def test_omdb_rating_and_unknown_movie_name_their_lines(tmp_path: Path) -> None:
    ratings = ("moviekg-omdb", "sub_user_watched_movies.csv")
    error = load_error("moviekg-omdb", replace_line(OMDB_FILES, ratings, 4, b"u_1,nan,3"), tmp_path)
    assert (Path(error.path).name, error.line) == ("sub_user_watched_movies.csv", 4)
    error = load_error("moviekg-omdb", replace_line(OMDB_FILES, ratings, 6, b"u_2,2.5,77"), tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("sub_user_watched_movies.csv", 6) and "'77'" in str(error)
    edges = ("moviekg-omdb", "sub_actor_act_movie.csv")
    error = load_error("moviekg-omdb", replace_line(OMDB_FILES, edges, 3, b"p_999,3"), tmp_path / "c")
    assert (Path(error.path).name, error.line) == ("sub_actor_act_movie.csv", 3)


def test_ml100k_unlisted_item_and_bad_genre_flag(tmp_path: Path) -> None:
    error = load_error("ml100k", replace_line(ML100K_FILES, ("ml-100k", "u.data"), 4, b"2\t77\t5\t881250952"), tmp_path)
    assert (Path(error.path).name, error.line) == ("u.data", 4) and "u.item" in str(error)
    item = b"2|GoldenEye (1995)|01-Jan-1995||http://x|0|2|0|0"
    error = load_error("ml100k", replace_line(ML100K_FILES, ("ml-100k", "u.item"), 2, item), tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("u.item", 2)
    error = load_error("ml100k", replace_line(ML100K_FILES, ("ml-100k", "u.genre"), 3, b"Comedy|7"), tmp_path / "c")
    assert Path(error.path).name == "u.genre"


def test_item_linked_to_two_entities_names_the_link_file(tmp_path: Path) -> None:
    contents = clean(KGCN_FILES)
    contents[LASTFM_LINKS] = b"10\t0\n11\t1\n12\t2\n11\t3\n"
    error = load_error(LASTFM, contents, tmp_path)
    assert Path(error.path).name == "item_index2entity_id.txt" and error.line == 4


def test_no_listened_artist_linked_is_an_error(tmp_path: Path) -> None:
    contents = clean(KGCN_FILES)
    contents[LASTFM_LINKS] = b"20\t0\n21\t1\n"
    error = load_error(LASTFM, contents, tmp_path)
    assert Path(error.path).name in {"user_artists.dat", "item_index2entity_id.txt"}


HEADER_SUFFIXES = (".csv", ".inter", ".kg", ".link", ".item", ".ent", "_list.txt")
HEADER_FILES = {"user_artists.dat", "hetrec_artists.dat", "interactions.tsv", "links.tsv", "train.tsv", "valid.tsv"}


@pytest.mark.parametrize(
    "change",
    [
        "bom",  # a UTF-8 BOM at the start of every file
        "crlf",  # CRLF line ends everywhere
        "duplicate",  # every data row twice
        "blank",  # blank lines between rows
    ],
)
@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_harmless_changes_keep_the_stats(parser: str, change: str, tmp_path: Path) -> None:
    files, _, expected, _ = PARSERS[parser]
    contents: dict[tuple[str, str], bytes | None] = {}
    for key, (data, _) in files.items():
        latin1 = key[1] in {"u.item", "u.genre", "movies.dat", "u.user"}
        if change == "bom":
            contents[key] = data if latin1 else b"\xef\xbb\xbf" + data
        elif change == "crlf":
            contents[key] = re.sub(rb"\r?\n", b"\r\n", data)
        elif change == "duplicate":
            lines = data.rstrip(b"\n").split(b"\n")
            has_header = key[1].endswith(HEADER_SUFFIXES) or key[1] in HEADER_FILES
            head, rows = (lines[:1], lines[1:]) if has_header else ([], lines)
            if key[1] != "u.genre":  # genre indices must be 0..n-1: a repeated genre is an error
                rows = rows + rows
            contents[key] = b"\n".join(head + rows) + b"\n"
        else:
            contents[key] = data.replace(b"\n", b"\n\n  \n")
    write_files(tmp_path, contents)
    dataset = call(parser, tmp_path, DataConfig(name=parser))
    assert stats_of(dataset) == expected
    check_dataset(dataset)


def test_self_loop_and_relation_with_spaces_load(tmp_path: Path) -> None:
    contents = clean(KGCN_FILES)
    contents[LASTFM_KG] = KGCN_FILES[LASTFM_KG][0] + b"3\tmusic.artist.origin\t3\n5\thas genre\t6\n"
    dataset = kgcn.load(write_files(tmp_path, contents), DataConfig())
    check_dataset(dataset)
    assert dataset.stats().triples == 7 and "has genre" in dataset.relations.raw_ids.tolist()


# ---- deterministic cases for load_split ----------------------------------------------------------------------


def split_error(contents: Mapping[tuple[str, str], bytes | None], tmp_path: Path) -> DatasetError:
    write_files(tmp_path, contents)
    with pytest.raises(DatasetError) as info:
        load_split(tmp_path / "split", SPLIT_DATASET)
    check_error(info.value, tmp_path, contents)
    return info.value


def test_split_pair_not_in_dataset_names_its_line(tmp_path: Path) -> None:
    error = split_error(replace_line(SPLIT_FILES, ("split", "train.tsv"), 3, b"2\t11"), tmp_path)
    assert (Path(error.path).name, error.line) == ("train.tsv", 3)


def test_split_unknown_user_and_repeated_pair(tmp_path: Path) -> None:
    error = split_error(replace_line(SPLIT_FILES, ("split", "valid.tsv"), 2, b"9\t13"), tmp_path)
    assert (Path(error.path).name, error.line) == ("valid.tsv", 2)
    error = split_error(replace_line(SPLIT_FILES, ("split", "test.tsv"), 1, b"1\t11"), tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("test.tsv", 1) and "train.tsv" in str(error)


def test_split_empty_train_and_optional_valid(tmp_path: Path) -> None:
    contents = clean(SPLIT_FILES)
    contents[("split", "train.tsv")] = b""
    error = split_error(contents, tmp_path)
    assert Path(error.path).name == "train.tsv"
    contents = clean(SPLIT_FILES)
    contents[("split", "valid.tsv")] = None
    write_files(tmp_path / "b", contents)
    parts = load_split(tmp_path / "b" / "split", SPLIT_DATASET)
    assert (len(parts.train), len(parts.valid), len(parts.test)) == (5, 0, 1)



# ---- deterministic cases for the generic formats -------------------------------------------------------------


def needs(parser: str) -> None:
    if parser not in PARSERS:
        pytest.skip(f"the {parser} parser is not written yet")


def test_tsv_bad_rating_and_unknown_link_name_their_lines(tmp_path: Path) -> None:
    needs("tsv")
    contents = replace_line(TSV_FILES, ("toy-tsv", "interactions.tsv"), 3, b"u1\ti2\tabc\t101")
    error = load_error("tsv", contents, tmp_path)
    assert (Path(error.path).name, error.line) == ("interactions.tsv", 3) and "'abc'" in str(error)
    error = load_error("tsv", replace_line(TSV_FILES, ("toy-tsv", "links.tsv"), 4, b"i3\te9"), tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("links.tsv", 4) and "'e9'" in str(error)
    error = load_error("tsv", replace_line(TSV_FILES, ("toy-tsv", "triples.csv"), 2, b'e1,"genre,g1'), tmp_path / "c")
    assert (Path(error.path).name, error.line) == ("triples.csv", 2)


def test_kgat_bad_item_and_short_triple_name_their_lines(tmp_path: Path) -> None:
    needs("kgat")
    error = load_error("kgat", replace_line(KGAT_FILES, ("toy-kgat", "train.txt"), 2, b"1 1 x3"), tmp_path)
    assert (Path(error.path).name, error.line) == ("train.txt", 2) and "'x3'" in str(error)
    error = load_error("kgat", replace_line(KGAT_FILES, ("toy-kgat", "kg_final.txt"), 3, b"2 1"), tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("kg_final.txt", 3)
    huge = f"0 0 {10**30}".encode()
    error = load_error("kgat", replace_line(KGAT_FILES, ("toy-kgat", "kg_final.txt"), 1, huge), tmp_path / "c")
    assert (Path(error.path).name, error.line) == ("kg_final.txt", 1)


def test_recbole_bad_header_huge_timestamp_and_invalid_utf8(tmp_path: Path) -> None:
    needs("recbole")
    inter = ("toy", "toy.inter")
    error = load_error("recbole", replace_line(RECBOLE_FILES, inter, 1, b"user_id:token\titem_id:tokn"), tmp_path)
    assert (Path(error.path).name, error.line) == ("toy.inter", 1)
    row = f"u1\tm2\t2\t{10**30}\tmeh".encode()
    error = load_error("recbole", replace_line(RECBOLE_FILES, inter, 3, row), tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("toy.inter", 3)
    kg = b"e.m2\tfilm.\xffgenre\te.drama"
    error = load_error("recbole", replace_line(RECBOLE_FILES, ("toy", "toy.kg"), 3, kg), tmp_path / "c")
    assert (Path(error.path).name, error.line) == ("toy.kg", 3) and "0xff" in str(error)


GENERIC_FILES = [(name, key) for name in GENERIC for key in PARSERS[name].files]


@pytest.mark.parametrize(("parser", "key"), GENERIC_FILES, ids=[f"{p}/{k[1]}" for p, k in GENERIC_FILES])
def test_generic_empty_file_loads_or_is_named(parser: str, key: tuple[str, str], tmp_path: Path) -> None:
    """Some files of the generic formats may be empty (KGAT valid / test); any other empty file is named."""
    contents = clean(PARSERS[parser].files)
    contents[key] = b""
    write_files(tmp_path, contents)
    try:
        dataset = call(parser, tmp_path, DataConfig(name=parser))
    except DatasetError as error:
        check_error(error, tmp_path, contents, by_path=True)
        assert Path(error.path).name == key[1]
    else:
        check_dataset(dataset)
        assert key[1] in {"valid.txt", "test.txt"}, f"an empty {key[1]} was accepted"
