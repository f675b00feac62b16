"""Fuzz the dataset parsers: any corrupted input must load correctly or raise DatasetError naming file and line.

Each parser gets a tiny hand-made copy of its files (a handful of consistent rows). Hypothesis applies one to
three corruptions to them (truncated lines, dropped or extra fields, swapped separators, random text and bytes,
invalid UTF-8, a line or field in another encoding, BOM, CRLF, stray CR, NUL, huge / negative / non-numeric ids,
NaN and inf ratings, duplicate rows, self-loop triples, relations with spaces, unknown ids, empty or missing files,
an items file that disagrees with the interactions; see ``tests/data/fuzzing.py``) and checks the contract:

* either the parser returns a RecDataset whose arrays are internally consistent,
* or it raises DatasetError whose ``.path`` is one of the dataset's files (and whose ``.line``, if any, exists);

anything else (KeyError, ValueError, OverflowError, csv.Error, a hang...) fails the test. A second property
changes only the items / names / links files and checks each format's documented meaning of them (see
``ITEM_FILES``). The number of generated inputs per parser is printed at the end of the module.
``KGREC_FUZZ_EXAMPLES=3000`` runs a longer hunt (default 250).
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kgrec.config import DataConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.formats import kgat, kgcn, lastfm_dbpedia, ml1m_dbpedia, movielens, omdb, recbole_atomic, tsv
from kgrec.data.split import Split, load_split
from kgrec.errors import DatasetError
from tests.data.fuzzing import (
    Contents,
    Corruption,
    Disagreement,
    FileKey,
    FileSet,
    ItemFile,
    check_error,
    clean,
    corrupt,
    corruptions,
    disagreements,
    file_key,
    fuzz_settings,
    load_files,
    replace_line,
    report_generated_inputs,  # noqa: F401 - autouse: prints the counts at the end of the module
    write_files,
)

# ---- tiny valid datasets -------------------------------------------------------------------------------------
# Files are keyed by (folder, file name) and stored with their field separator (None: not field-structured).

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

DBP = b"http://dbpedia.org/resource/"


def dbpedia_edges(*pairs: tuple[str, str]) -> tuple[bytes, bytes]:
    """A ``head tail`` edge list (space-separated); a bare resource name gets DBpedia's resource prefix."""
    def uri(name: str) -> str:
        return name if "://" in name else DBP.decode() + name

    return "".join(f"{uri(head)} {uri(tail)}\n" for head, tail in pairs).encode(), b" "


LASTFM_DBPEDIA_FILES: FileSet = {
    ("lastfm-dbpedia", "user_artists.dat"): (
        b"userID\tartistID\tweight\n"
        b"1\t10\t100\n"
        b"1\t11\t50\n"
        b"2\t10\t30\n"
        b"2\t12\t7\n"
        b"3\t13\t5\n"  # artist 13 is not in mappings.tsv: dropped unless keep_unlinked_items
        b"3\t11\t12\n"
        b"3\t14\t9\n",
        b"\t",
    ),
    ("lastfm-dbpedia", "mappings.tsv"): (  # artists 10 and 14 share one URI; no line end on the last line
        b"10\tSigur R\xc3\xb3s\t" + DBP + b"Sigur_R%C3%B3s\n"
        b"11\tMuse\t" + DBP + b"Muse_(band)\n"
        b"12\tBj\xc3\xb6rk\t" + DBP + b"Bj%C3%B6rk\n"
        b"14\tSigur R\xc3\xb3s & Amiina\t" + DBP + b"Sigur_R%C3%B3s",
        b"\t",
    ),
    **{
        ("lastfm-dbpedia", f"graphs/dbo:{relation}.edgelist"): dbpedia_edges(*pairs)
        for relation, pairs in [
            ("associatedBand", [("Amiina", "Sigur_R%C3%B3s"), ("Sigur_R%C3%B3s", "https://www.sigur-ros.co.uk")]),
            ("associatedMusicalArtist", [("Bj%C3%B6rk", "Sigur_R%C3%B3s")]),
            ("bandMember", [("Muse_(band)", "Matt_Bellamy")]),
            ("birthPlace", [("Matt_Bellamy", "Cambridge")]),
            ("formerBandMember", [("Sigur_R%C3%B3s", "Kjartan_Sveinsson")]),
            ("genre", [("Sigur_R%C3%B3s", "Post-rock"), ("Muse_(band)", "Alternative_rock"), ("Bj%C3%B6rk", "Post-rock")]),
            ("hometown", [("Muse_(band)", "Teignmouth")]),
            ("instrument", [("Matt_Bellamy", "Guitar")]),
            ("occupation", [("Bj%C3%B6rk", "Singer-songwriter"), ("Bj%C3%B6rk", "Adele__1")]),  # a blank node
            ("recordLabel", [("Muse_(band)", "Warner_Bros._Records")]),
        ]
    },
}
# items 10, 11, 12, 14 (10 and 14 on one entity); 12 triples kept, 2 dropped (a web address, a blank node)
LASTFM_DBPEDIA_STATS = {
    "users": 3, "items": 4, "interactions": 6, "entities": 13,
    "relations": 10, "triples": 12, "linked_items": 4,
}

ML1M = "ml1m-dbpedia"
ML1M_TRAIN = (ML1M, "mapping/train.txt.gz")
RES = b"http://dbpedia.org/resource/"
# The .gz files hold their uncompressed text here (write_files gzips them); train uses CRLF like the real file.
ML1M_DBPEDIA_FILES: FileSet = {
    ML1M_TRAIN: (
        b"0\t0\t1\t978300019\r\n"  # new ids: user 0 is MovieLens user 1, movie 0 is movie 2, ...
        b"0\t1\t1\t978300055\r\n"
        b"1\t0\t1\t978300100\r\n"
        b"1\t2\t1\t978300200\r\n"
        b"2\t3\t1\t978300300\r\n",
        b"\t",
    ),
    (ML1M, "mapping/valid.txt.gz"): (b"0\t2\t1\t978300500\n2\t1\t1\t978300600\n", b"\t"),
    (ML1M, "mapping/test.txt.gz"): (b"0\t3\t1\t978300900\n1\t1\t1\t978301000\n", b"\t"),
    (ML1M, "mapping/user_mapping.txt"): (b"rating_id\tnew_id\n1\t0\n2\t1\n3\t2\n", b"\t"),
    (ML1M, "mapping/product_mapping.txt"): (b"rating_id\tnew_id\n2\t0\n3\t1\n5\t2\n7\t3\n", b"\t"),
    (ML1M, "products.txt"): (  # movie 7 has no title; movie 9 is not an item
        b"pid\tname\tprovider_id\tgenre\tpop_item\tpop_provider\n"
        b"2\tJumanji (1995)\t4945\tAdventure\t0.087\t0.087\n"
        b"3\tGrumpier Old Men (1995)\t26502\tComedy\t0.68\t0.057\n"
        b"5\tFather of the Bride Part II (1995)\t1\tComedy\t0.1\t0.1\n"
        b"9\tSudden Death (1995)\t2\tAction\t0.01\t0.01\n",
        b"\t",
    ),
    (ML1M, "users.txt"): (b"uid\tgender\tage\n1\tF\tUnder 18\n2\tM\t56+\n3\tM\t25-34\n", b"\t"),
    (ML1M, "r_map.txt"): (
        b"id\tkb_relation\tname\n"
        b"0\thttp://dbpedia.org/ontology/cinematography\tcinematography_by_cinematographer\n"
        b"4\thttp://dbpedia.org/ontology/starring\tstarred_by_actor\n"
        b"9\thttp://dbpedia.org/ontology/director\tdirected_by_director\n"
        b"10\thttp://dbpedia.org/ontology/wikiPageWikiLink\trelated_to_wikipage\n",
        b"\t",
    ),
    (ML1M, "e_map.txt"): (  # the name column is cut at a "/" (Face/Off), the URI is not
        b"eid\tname\tentity\n"
        b"0\tJumanji\t" + RES + b"Jumanji\n"
        b"1\tGrumpier_Old_Men\t" + RES + b"Grumpier_Old_Men\n"
        b"2\tFather_of_the_Bride_Part_II\t" + RES + b"Father_of_the_Bride_Part_II\n"
        b"3\tOff\t" + RES + b"Face/Off\n"
        b"4\tJoe_Johnston\t" + RES + b"Joe_Johnston\n"
        b"5\tRobin_Williams\t" + RES + b"Robin_Williams\n"
        b"6\t%22Weird_Al%22_Yankovic\t" + RES + b"%22Weird_Al%22_Yankovic\n"
        b"7\tAdele__1\t" + RES + b"Adele__1\n"  # a blank node: dropped with its triple
        b"8\tJohn_Woo\t" + RES + b"John_Woo\n"
        b"9\tSudden_Death_(1995_film)\t" + RES + b"Sudden_Death_(1995_film)\n",
        b"\t",
    ),
    (ML1M, "kg_final.txt"): (
        b"entity_head\trelation\tentity_tail\n0\t9\t4\n0\t4\t5\n0\t4\t5\n3\t9\t8\n1\t10\t6\n2\t10\t7\n1\t0\t4\n",
        b"\t",
    ),
    (ML1M, "i2kg_map.txt"): (
        b"eid\tpid\tname\tentity\n"
        b"0\t2\tJumanji\t" + RES + b"Jumanji\n"
        b"1\t3\tGrumpier_Old_Men\t" + RES + b"Grumpier_Old_Men\n"
        b"2\t5\tFather_of_the_Bride_Part_II\t" + RES + b"Father_of_the_Bride_Part_II\n"
        b"3\t7\tOff\t" + RES + b"Face/Off\n"
        b"9\t9\tSudden_Death_(1995_film)\t" + RES + b"Sudden_Death_(1995_film)\n",
        b"\t",
    ),
}
# 9 positives of users 1-3 on movies 2, 3, 5, 7; 7 KG rows -> 6 distinct -> 5 without the blank node's;
# entities 0-6 and 8 (2 only as movie 5's entity; 9 belongs to movie 9, not an item)
ML1M_DBPEDIA_STATS = {
    "users": 3, "items": 4, "interactions": 9, "entities": 8,
    "relations": 4, "triples": 5, "linked_items": 4,
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
    items: Mapping[FileKey, ItemFile] = {}


# The items / names / links files of each parser and what they mean to it (its module docstring):
# a catalogue lists items even without interactions, names only name items, links link an item iff listed
# (lastfm-kgcn also drops unlinked artists: "filter"), and "cover" files must list every item referred to.
NAMES, LINKS, CATALOGUE = frozenset({"names"}), frozenset({"links"}), frozenset({"catalogue", "names"})
ITEM_FILES: dict[str, dict[FileKey, ItemFile]] = {
    "lastfm-kgcn": {
        ("lastfm-kgcn", "hetrec_artists.dat"): ItemFile(0, header=1, name_field=1, roles=NAMES),
        ("lastfm-kgcn", "item_index2entity_id.txt"): ItemFile(0, roles=frozenset({"links", "filter"})),
    },
    "ml100k": {
        ("ml-100k", "u.item"): ItemFile(0, name_field=1, roles=CATALOGUE | {"cover"}),
        ("ml1m-satori-kg", "item_index2entity_id.txt"): ItemFile(0),  # ML-1M ids: linked through titles
    },
    "moviekg-omdb": {("moviekg-omdb", "sub_movie.csv"): ItemFile(0, header=1, name_field=1, roles=NAMES | {"cover"})},
    "tsv": {
        ("toy-tsv", "item_names.tsv"): ItemFile(0, name_field=1, roles=NAMES),
        ("toy-tsv", "links.tsv"): ItemFile(0, header=1, roles=LINKS),
    },
    "kgat": {("toy-kgat", "item_list.txt"): ItemFile(1, header=1, name_field=0, roles=CATALOGUE)},
    "recbole": {
        ("toy", "toy.item"): ItemFile(0, header=1, name_field=1, roles=CATALOGUE),
        ("toy", "toy.link"): ItemFile(0, header=1, roles=LINKS),
    },
    "recbole-split": {("toy-bench", "toy.link"): ItemFile(0, header=1, roles=LINKS)},
    # mappings.tsv: names, links and (unless keep_unlinked_items) the items; an artist missing from it is dropped
    "lastfm-dbpedia": {("lastfm-dbpedia", "mappings.tsv"): ItemFile(0, name_field=1, roles=NAMES | {"links", "filter"})},
}
# "cover" files: the item ids the other files refer to (ml100k: rated movies; omdb: rated or linked movies)
REQUIRED_ITEMS = {"ml100k": {"1", "2", "3", "4"}, "moviekg-omdb": {"1", "3", "5", "7"}}
# ml1m-dbpedia: products.txt names movies (MovieLens ids), i2kg_map.txt links them (pid, field 1); the split
# files refer to movies by new id, so product_mapping.txt covers the new ids (field 1) they use; items are
# the movies of the split files, so none of these files adds or removes items.
ITEM_FILES[ML1M] = {
    (ML1M, "mapping/product_mapping.txt"): ItemFile(1, header=1, roles=frozenset({"cover"})),
    (ML1M, "products.txt"): ItemFile(0, header=1, name_field=1, roles=NAMES),
    (ML1M, "i2kg_map.txt"): ItemFile(1, header=1, roles=LINKS),
}
REQUIRED_ITEMS[ML1M] = {"0", "1", "2", "3"}


PARSERS: dict[str, Parser] = {
    "lastfm-kgcn": Parser(KGCN_FILES, kgcn.load, KGCN_STATS, items=ITEM_FILES["lastfm-kgcn"]),
    "ml100k": Parser(ML100K_FILES, movielens.load, ML100K_STATS, items=ITEM_FILES["ml100k"]),
    "moviekg-omdb": Parser(OMDB_FILES, omdb.load, OMDB_STATS, items=ITEM_FILES["moviekg-omdb"]),
    "lastfm-dbpedia": Parser(
        LASTFM_DBPEDIA_FILES, lastfm_dbpedia.load, LASTFM_DBPEDIA_STATS, items=ITEM_FILES["lastfm-dbpedia"]
    ),
}
PARSERS[ML1M] = Parser(ML1M_DBPEDIA_FILES, ml1m_dbpedia.load, ML1M_DBPEDIA_STATS, items=ITEM_FILES[ML1M])
for _name, _load, _files, _stats in [
    ("tsv", tsv.load, TSV_FILES, TSV_STATS),
    ("tsv-split", tsv.load, TSV_SPLIT_FILES, TSV_SPLIT_STATS),
    ("kgat", kgat.load, KGAT_FILES, KGAT_STATS),
    ("recbole", recbole_atomic.load, RECBOLE_FILES, RECBOLE_STATS),
    ("recbole-split", recbole_atomic.load, RECBOLE_SPLIT_FILES, RECBOLE_SPLIT_STATS),
]:
    PARSERS[_name] = Parser(_files, _load, _stats, by_path=True, items=ITEM_FILES.get(_name, {}))


def call(parser: str, root: Path, config: DataConfig) -> RecDataset:
    """Run a parser on the files already written under ``root``."""
    files, load, by_path = PARSERS[parser].files, PARSERS[parser].load, PARSERS[parser].by_path
    folders = sorted({folder for folder, _ in files})
    if by_path:
        return load(root / folders[0], config)
    return load({folder: root / folder for folder in folders}, config)


def stats_of(dataset: RecDataset) -> dict[str, int]:
    stats = dataset.stats()
    return {key: getattr(stats, key) for key in KGCN_STATS}


# ---- the contract --------------------------------------------------------------------------------------------


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


def run_parser(
    parser: str, changes: list[Corruption], config: DataConfig, label: str | None = None
) -> RecDataset | DatasetError:
    """Load the corrupted files; check the dataset or the DatasetError, count the input under ``label``."""
    contents = corrupt(PARSERS[parser].files, changes)
    dataset = load_files(label or parser, contents, lambda root: call(parser, root, config), PARSERS[parser].by_path)
    if not isinstance(dataset, DatasetError):
        check_dataset(dataset)
    return dataset


# ---- sanity: the tiny files load with exact stats ------------------------------------------------------------


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_tiny_dataset_loads_with_exact_stats(parser: str, tmp_path: Path) -> None:
    files, expected = PARSERS[parser].files, PARSERS[parser].stats
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

CHANGES = {
    name: st.lists(corruptions(list(parser.files), parser.items), min_size=1, max_size=3)
    for name, parser in PARSERS.items()
}
GENERIC = [name for name, parser in PARSERS.items() if parser.by_path]
CONFIGS = st.builds(
    DataConfig,
    threshold=st.sampled_from([None, None, 0.0, 1.0, 4.0, 4.5, 6.0, 20.0]),  # the default twice as often
    keep_unlinked_items=st.booleans(),
)


@pytest.mark.fuzz
@fuzz_settings()
@given(changes=CHANGES["lastfm-kgcn"], config=CONFIGS)
def test_fuzz_kgcn(changes: list[Corruption], config: DataConfig) -> None:
    run_parser("lastfm-kgcn", changes, config)


def same_new_id_twice(key: FileKey, item: ItemFile) -> list[Corruption]:
    """Two changes of an items file that each copy another row under the one new id 100000 (found by a hunt)."""
    return [
        Corruption(key, "disagreeing_items", 0, 0, 0, Disagreement(item, (), ((row, b"100000"),))) for row in (0, 1)
    ]


@pytest.mark.fuzz
@fuzz_settings()
@given(changes=CHANGES["ml100k"], config=CONFIGS)
@example(changes=same_new_id_twice(("ml-100k", "u.item"), ITEM_FILES["ml100k"][("ml-100k", "u.item")]), config=DataConfig())
def test_fuzz_ml100k(changes: list[Corruption], config: DataConfig) -> None:
    run_parser("ml100k", changes, config)


@pytest.mark.fuzz
@fuzz_settings()
@given(changes=CHANGES["moviekg-omdb"], config=CONFIGS)
def test_fuzz_omdb(changes: list[Corruption], config: DataConfig) -> None:
    run_parser("moviekg-omdb", changes, config)


@pytest.mark.fuzz
@fuzz_settings()
@given(changes=CHANGES["lastfm-dbpedia"], config=CONFIGS)
def test_fuzz_lastfm_dbpedia(changes: list[Corruption], config: DataConfig) -> None:
    run_parser("lastfm-dbpedia", changes, config)


@pytest.mark.fuzz
@fuzz_settings()
@given(changes=CHANGES[ML1M], config=CONFIGS)
def test_fuzz_ml1m_dbpedia(changes: list[Corruption], config: DataConfig) -> None:
    run_parser(ML1M, changes, config)


@pytest.mark.fuzz
@fuzz_settings(0.6)
@given(data=st.data(), config=CONFIGS)
@pytest.mark.parametrize("parser", GENERIC)
def test_fuzz_generic_format(parser: str, data: st.DataObject, config: DataConfig) -> None:
    run_parser(parser, data.draw(CHANGES[parser], label="changes"), config)


SPLIT_DATASET = split_dataset()


@pytest.mark.fuzz
@fuzz_settings()
@given(changes=st.lists(corruptions(list(SPLIT_FILES)), min_size=1, max_size=3))
def test_fuzz_load_split(changes: list[Corruption]) -> None:
    parts = load_files("load_split", corrupt(SPLIT_FILES, changes), lambda root: load_split(root / "split", SPLIT_DATASET))
    if not isinstance(parts, DatasetError):
        check_split(parts, SPLIT_DATASET)


# ---- property: items files that disagree with the interactions -----------------------------------------------


def listed_items(parser: str, key: FileKey, data: bytes | None) -> dict[str, set[str]]:
    """Item id -> the names listed for it in a (possibly changed) items file of ``parser``."""
    item = PARSERS[parser].items[key]
    encoding = "latin-1" if key[1] == "u.item" else "utf-8-sig"
    lines = (data or b"").decode(encoding).splitlines()[item.header :]
    sep = PARSERS[parser].files[key][1].decode()
    if sep == ",":
        rows = list(csv.reader(lines))
    else:
        rows = [line.split() if sep == " " else line.split(sep) for line in lines]
    listed: dict[str, set[str]] = {}
    for row in rows:
        if row and row[0].strip():
            names = listed.setdefault(row[item.id_field].strip(), set())
            if item.name_field is not None and item.name_field < len(row):
                names.add(row[item.name_field].strip())
    return listed


BASELINES: dict[str, RecDataset] = {}


def baseline(parser: str) -> RecDataset:
    """The parser's dataset of the clean tiny files, default config (loaded once)."""
    if parser not in BASELINES:
        with tempfile.TemporaryDirectory() as tmp:
            write_files(Path(tmp), clean(PARSERS[parser].files))
            BASELINES[parser] = call(parser, Path(tmp), DataConfig(name=parser))
    return BASELINES[parser]


def interacted(dataset: RecDataset) -> set[str]:
    return set(dataset.items.raw_ids[dataset.interactions.item].tolist())


def check_cover(parser: str, contents: Contents, result: RecDataset | DatasetError) -> None:
    """A "cover" file (u.item, sub_movie.csv) missing an item the other files refer to is an error at that line."""
    missing = set()
    for key, item in PARSERS[parser].items.items():
        if "cover" in item.roles:
            missing |= REQUIRED_ITEMS[parser] - set(listed_items(parser, key, contents[key]))
    if not missing:
        assert isinstance(result, RecDataset), f"every referred item is listed, yet: {result}"
        return
    assert isinstance(result, DatasetError), f"items {sorted(missing)} are not listed, yet the dataset loaded"
    assert result.line is not None and "is not" in result.reason
    named = Path(result.path).as_posix()  # the key's name may hold a subfolder (mapping/train.txt.gz)
    referring = contents[next(key for key in contents if named.endswith(f"/{key[0]}/{key[1]}"))] or b""
    line = referring.split(b"\n")[result.line - 1].decode()
    assert any(item in re.split(r"[\t,]", line) for item in missing), f"line {result.line} is {line!r}"


def check_items(parser: str, contents: Contents, dataset: RecDataset) -> None:
    """Each items file means what its format documents (see ITEM_FILES); the interactions stay the same."""
    base = baseline(parser)
    items = set(dataset.items.raw_ids.tolist())
    linked = set(dataset.items.raw_ids[dataset.item_entity >= 0].tolist())
    expected_items = set(base.items.raw_ids.tolist())
    for key, item in PARSERS[parser].items.items():
        listed = listed_items(parser, key, contents[key])
        if "catalogue" in item.roles:  # the listed items replace the clean file's
            expected_items = interacted(base) | set(listed)
        if "filter" in item.roles:
            expected_items = expected_items & set(listed)
        if "links" in item.roles:
            assert linked == items & set(listed), f"linked items {sorted(linked)}, listed {sorted(listed)}"
        if "names" in item.roles:
            for index, raw in enumerate(dataset.items.raw_ids.tolist()):
                names = listed.get(raw)
                assert (dataset.items.names[index] in names) if names else dataset.items.names[index] == "", raw
    assert items == expected_items, f"items {sorted(items)}, expected {sorted(expected_items)}"
    kept = base.interactions.item[np.isin(base.items.raw_ids[base.interactions.item], list(items))]
    assert len(dataset.interactions) == len(kept), "the items files changed which interactions were kept"


ITEM_PARSERS = [name for name in PARSERS if PARSERS[name].items]


@st.composite
def item_changes(draw: st.DrawFn, parser: str) -> list[Corruption]:
    """One or two disagreements of the parser's items / names / links files."""
    files = PARSERS[parser].items
    keys = draw(st.lists(st.sampled_from(sorted(files)), min_size=1, max_size=2, unique=True))
    return [Corruption(key, "disagreeing_items", 0, 0, 0, draw(disagreements(files[key]))) for key in keys]


@pytest.mark.fuzz
@fuzz_settings(0.16)
@given(data=st.data())
@pytest.mark.parametrize("parser", ITEM_PARSERS)
def test_fuzz_disagreeing_items_files(parser: str, data: st.DataObject) -> None:
    changes = data.draw(item_changes(parser), label="changes")
    contents = corrupt(PARSERS[parser].files, changes)
    result = run_parser(parser, changes, DataConfig(name=parser), label=f"{parser} (items files)")
    if parser in REQUIRED_ITEMS:
        check_cover(parser, contents, result)
    if isinstance(result, RecDataset):
        check_items(parser, contents, result)
    else:
        assert parser in REQUIRED_ITEMS, f"an items file that disagrees is legal for {parser}: {result}"


# ---- deterministic cases: the exact line ---------------------------------------------------------------------


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
    assert file_key(error.path, tmp_path) == key and error.line is None
    assert key[1] in str(error)


LINK_FILES = [
    ("lastfm-kgcn", LASTFM_LINKS),
    ("ml100k", ("ml-100k", "u.item")),
    ("tsv", ("toy-tsv", "links.tsv")),
    ("recbole", ("toy", "toy.link")),
    ("recbole-split", ("toy-bench", "toy.link")),
    ("lastfm-dbpedia", ("lastfm-dbpedia", "mappings.tsv")),
    (ML1M, (ML1M, "i2kg_map.txt")),
]


@pytest.mark.parametrize(("parser", "key"), LINK_FILES, ids=[parser for parser, _ in LINK_FILES])
def test_item_linked_to_two_entities_names_file_and_line(parser: str, key: FileKey, tmp_path: Path) -> None:
    """One item id on two rows that link to different entities: refused at the second row of that file.

    The last line of the changed file is the copy of row 1 (``disagree`` appends copies after the kept rows).
    """
    contents = corrupt(PARSERS[parser].files, same_new_id_twice(key, ITEM_FILES[parser][key]))
    lines = (contents[key] or b"").rstrip(b"\n").split(b"\n")
    error = load_error(parser, contents, tmp_path)
    assert (Path(error.path).name, error.line) == (key[1], len(lines))
    assert "item '100000' is already linked to entity" in str(error)


def test_u_item_duplicate_says_which_titles_linked_it(tmp_path: Path) -> None:
    contents = corrupt(ML100K_FILES, same_new_id_twice(("ml-100k", "u.item"), ITEM_FILES["ml100k"][("ml-100k", "u.item")]))
    error = load_error("ml100k", contents, tmp_path)
    assert str(error).endswith(
        "u.item:6: item '100000' is already linked to entity '0', cannot also link it to '1' "
        "(through title 'GoldenEye (1995)'; line 5 has 'Toy Story (1995)')"
    )


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
HEADER_FILES |= {name for _, name in ML1M_DBPEDIA_FILES if not name.endswith(".gz")}  # ml1m-dbpedia: all but the split


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
    files, expected = PARSERS[parser].files, PARSERS[parser].stats
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


def test_tsv_bad_rating_and_unknown_link_name_their_lines(tmp_path: Path) -> None:
    contents = replace_line(TSV_FILES, ("toy-tsv", "interactions.tsv"), 3, b"u1\ti2\tabc\t101")
    error = load_error("tsv", contents, tmp_path)
    assert (Path(error.path).name, error.line) == ("interactions.tsv", 3) and "'abc'" in str(error)
    error = load_error("tsv", replace_line(TSV_FILES, ("toy-tsv", "links.tsv"), 4, b"i3\te9"), tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("links.tsv", 4) and "'e9'" in str(error)
    error = load_error("tsv", replace_line(TSV_FILES, ("toy-tsv", "triples.csv"), 2, b'e1,"genre,g1'), tmp_path / "c")
    assert (Path(error.path).name, error.line) == ("triples.csv", 2)


def test_kgat_bad_item_and_short_triple_name_their_lines(tmp_path: Path) -> None:
    error = load_error("kgat", replace_line(KGAT_FILES, ("toy-kgat", "train.txt"), 2, b"1 1 x3"), tmp_path)
    assert (Path(error.path).name, error.line) == ("train.txt", 2) and "'x3'" in str(error)
    error = load_error("kgat", replace_line(KGAT_FILES, ("toy-kgat", "kg_final.txt"), 3, b"2 1"), tmp_path / "b")
    assert (Path(error.path).name, error.line) == ("kg_final.txt", 3)
    huge = f"0 0 {10**30}".encode()
    error = load_error("kgat", replace_line(KGAT_FILES, ("toy-kgat", "kg_final.txt"), 1, huge), tmp_path / "c")
    assert (Path(error.path).name, error.line) == ("kg_final.txt", 1)


def test_recbole_bad_header_huge_timestamp_and_invalid_utf8(tmp_path: Path) -> None:
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


# ---- deterministic cases: mixed encodings, odd ids, disagreeing items files (regressions of the long hunt) -----


@pytest.mark.parametrize(
    ("line", "encoding", "expected"),
    [
        ("12\tM\u00fcller\thttp://x", "latin-1", "byte 0xfc is not valid utf-8 text"),
        ("12\t\u20ac uro\thttp://x", "cp1252", "byte 0x80 is not valid utf-8 text"),
        ("12\tCarpathian Forest\thttp://x", "utf-16-le", "NUL character in the text; is the file (or this line)"),
    ],
)
def test_line_in_another_encoding_names_that_line(line: str, encoding: str, expected: str, tmp_path: Path) -> None:
    contents = replace_line(KGCN_FILES, (LASTFM, "hetrec_artists.dat"), 4, line.encode(encoding))
    error = load_error(LASTFM, contents, tmp_path)
    assert (Path(error.path).name, error.line) == ("hetrec_artists.dat", 4) and expected in str(error)


def test_utf8_title_in_latin1_u_item_loads_as_latin1(tmp_path: Path) -> None:
    """u.item is documented Latin-1: UTF-8 bytes there are legal Latin-1 text (the title reads as mojibake)."""
    item = "2|M\u00fcller (1995)|01-Jan-1995||http://x|0|1|0|0".encode()
    contents = replace_line(ML100K_FILES, ("ml-100k", "u.item"), 2, item)
    dataset = movielens.load(write_files(tmp_path, contents), DataConfig())
    assert dataset.items.name(dataset.items.index("2")) == "M\u00c3\u00bcller (1995)"


def test_byte_order_mark_inside_a_file_names_its_line(tmp_path: Path) -> None:
    contents = replace_line(TSV_FILES, ("toy-tsv", "interactions.tsv"), 4, b"\xef\xbb\xbfu2\ti1\t4\t102")
    error = load_error("tsv", contents, tmp_path)
    assert (Path(error.path).name, error.line) == ("interactions.tsv", 4) and "byte order mark" in str(error)


def test_superscript_and_5000_digit_string_ids_load(tmp_path: Path) -> None:
    """Natural ordering of raw ids used int() on "²" (a digit it refuses) and on ids beyond 4300 digits."""
    long_id = "9" * 5000
    contents = replace_line(TSV_FILES, ("toy-tsv", "interactions.tsv"), 2, f"u1\u00b2\t{long_id}\t5\t100".encode())
    dataset = call("tsv", Path(write_files(tmp_path, contents)["toy-tsv"]).parent, DataConfig(name="tsv"))
    check_dataset(dataset)
    assert "u1\u00b2" in dataset.users.raw_ids.tolist() and dataset.items.raw_ids.tolist()[0] == long_id


def test_5000_digit_integer_id_names_its_line(tmp_path: Path) -> None:
    error = load_error(LASTFM, replace_line(KGCN_FILES, LISTENS, 3, b"9" * 5000 + b"\t11\t50"), tmp_path)
    assert (Path(error.path).name, error.line) == ("user_artists.dat", 3)
    assert "does not fit in a 64-bit integer" in str(error) and "(5000 characters)" in str(error)
    assert len(str(error)) < len(str(error.path)) + 120


def test_integer_id_with_many_leading_zeros_is_that_integer(tmp_path: Path) -> None:
    contents = replace_line(KGCN_FILES, LISTENS, 3, b"0" * 5000 + b"1\t11\t50")
    dataset = kgcn.load(write_files(tmp_path, contents), DataConfig())
    assert sorted(dataset.users.raw_ids.tolist()) == ["1", "2", "3"] and len(dataset.interactions) == 5


def test_u_item_without_a_rated_movie_names_the_rating_line(tmp_path: Path) -> None:
    """u.item is the catalogue every rating must be in: dropping movie 3 fails at u.data line 4 (2 3 5)."""
    contents = clean(ML100K_FILES)
    contents[("ml-100k", "u.item")] = b"\n".join(
        line for line in ML100K_FILES[("ml-100k", "u.item")][0].split(b"\n") if not line.startswith(b"3|")
    )
    error = load_error("ml100k", contents, tmp_path)
    assert (Path(error.path).name, error.line) == ("u.data", 4) and "item '3' is not listed in u.item" in str(error)


def test_items_files_listing_unknown_items(tmp_path: Path) -> None:
    """Names of unknown items are ignored; a catalogue (KGAT item_list.txt, RecBole .item) adds its items."""
    contents = clean(TSV_FILES)
    contents[("toy-tsv", "item_names.tsv")] = b"i1\tToy Story (1995)\ni9\tNot rated\n"
    tsv = call("tsv", Path(write_files(tmp_path / "a", contents)["toy-tsv"]).parent, DataConfig(name="tsv"))
    assert tsv.items.raw_ids.tolist() == ["i1", "i2", "i3"] and tsv.items.names.tolist() == ["Toy Story (1995)", "", ""]
    contents = clean(KGAT_FILES)
    contents[("toy-kgat", "item_list.txt")] = KGAT_FILES[("toy-kgat", "item_list.txt")][0] + b"B77 77\n"
    kgat = call("kgat", Path(write_files(tmp_path / "b", contents)["toy-kgat"]).parent, DataConfig(name="kgat"))
    assert kgat.n_items == 7 and kgat.items.name(kgat.items.index("77")) == "B77"
    assert kgat.item_entity[kgat.items.index("77")] == -1  # not a KG entity: unlinked


# ---- deterministic cases for lastfm-dbpedia ------------------------------------------------------------------

LDB = "lastfm-dbpedia"
LDB_MAPPINGS = (LDB, "mappings.tsv")
LDB_GENRE = (LDB, "graphs/dbo:genre.edgelist")


def test_lastfm_dbpedia_tiny_names_drops_and_shared_entity(tmp_path: Path) -> None:
    from kgrec.data.graph import CollaborativeKG

    dataset = lastfm_dbpedia.load(write_files(tmp_path / "a", clean(LASTFM_DBPEDIA_FILES)), DataConfig())
    items, entities = dataset.items, dataset.entities
    assert [items.name(items.index(i)) for i in ("10", "14")] == ["Sigur R\u00f3s", "Sigur R\u00f3s & Amiina"]
    sigur = entities.index("Sigur_R%C3%B3s")
    assert entities.name(sigur) == "Sigur R\u00f3s" and entities.name(entities.index("Muse_(band)")) == "Muse (band)"
    assert dataset.item_entity[items.index("10")] == dataset.item_entity[items.index("14")] == sigur
    assert "Adele__1" not in entities.raw_ids.tolist() and not any("://" in r for r in entities.raw_ids.tolist())
    assert dataset.relations.names.tolist()[:2] == ["associated band", "associated musical artist"]
    assert dataset.relations.name(dataset.relations.index("recordLabel")) == "record label"
    assert dataset.info["dropped_triples"] == 2 and dataset.info["dropped_blank_node_triples"] == 1
    assert dataset.info["dropped_web_address_triples"] == 1 and dataset.interactions.rating.tolist()[0] == 100.0
    # both artists of one entity get its KG edges in the collaborative KG
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    genre = dataset.relations.index("genre") + 1
    post_rock = graph.entity_nodes.set_index("entity").loc[entities.index("Post-rock"), "node"]
    heads = graph.data.edge_index[0, (graph.data.edge_type == genre) & (graph.data.edge_index[1] == int(post_rock))]
    assert sorted(graph.node_name(int(n)) for n in heads) == ["Bj\u00f6rk", "Sigur R\u00f3s", "Sigur R\u00f3s & Amiina"]
    unlinked = lastfm_dbpedia.load(write_files(tmp_path / "b", clean(LASTFM_DBPEDIA_FILES)), DataConfig(keep_unlinked_items=True))
    assert (unlinked.n_items, len(unlinked.interactions), unlinked.stats().linked_items) == (5, 7, 4)
    assert unlinked.items.name(unlinked.items.index("13")) == "item 13"


def test_lastfm_dbpedia_blank_node_artist_stays_an_unlinked_item(tmp_path: Path) -> None:
    """An artist mapped to a blank node (5 in the real mappings.tsv) is an item without a KG link."""
    contents = replace_line(LASTFM_DBPEDIA_FILES, LDB_MAPPINGS, 3, b"12\tCaptain Chaos\t" + DBP + b"Chris_Clavin__Captain_Chaos__1")
    dataset = lastfm_dbpedia.load(write_files(tmp_path, contents), DataConfig())
    check_dataset(dataset)
    assert dataset.item_entity[dataset.items.index("12")] == -1 and dataset.items.name(dataset.items.index("12")) == "Captain Chaos"
    assert dataset.info["items_without_readable_entity"] == 1 and dataset.stats().linked_items == 3


@pytest.mark.parametrize(
    ("key", "line", "text", "reason"),
    [
        (LDB_MAPPINGS, 2, b"11\tMuse\t" + DBP + b"Muse_%FF(band)", "percent-escape that is not valid UTF-8"),
        (LDB_GENRE, 3, DBP + b"Bj%C3%B6rk " + DBP + b"Post%E2%80rock", "percent-escape that is not valid UTF-8"),
        (LDB_GENRE, 2, DBP + b"Muse_(band) " + DBP, "has no name"),
        (LDB_GENRE, 1, DBP + b"Sigur_R%C3%B3s\t" + DBP + b"Post-rock", "found 1 field(s)"),
        (LDB_MAPPINGS, 4, b"11\tMuse\t" + DBP + b"Muse", "item '11' is already linked to entity 'Muse_(band)'"),
    ],
    ids=["bad-escape-in-mapping", "bad-escape-in-graph", "empty-resource-name", "tab-in-edge-list", "two-uris"],
)
def test_lastfm_dbpedia_bad_lines_are_named(key: FileKey, line: int, text: bytes, reason: str, tmp_path: Path) -> None:
    error = load_error(LDB, replace_line(LASTFM_DBPEDIA_FILES, key, line, text), tmp_path)
    assert (file_key(error.path, tmp_path), error.line) == (key, line) and reason in str(error)


def test_lastfm_dbpedia_names_encoded_twice_are_decoded(tmp_path: Path) -> None:
    """``Shir%25C5%258D_Hamaguchi`` (in the real graphs) reads "Shirō Hamaguchi"; "100%25_(band)" stays "100% (band)"."""
    pairs = [("Muse_(band)", "Shir%25C5%258D_Hamaguchi"), ("Muse_(band)", "100%25_(band)"), ("Muse_(band)", "50%25_off")]
    contents = clean(LASTFM_DBPEDIA_FILES)
    contents[(LDB, "graphs/dbo:bandMember.edgelist")] = dbpedia_edges(*pairs)[0]
    dataset = lastfm_dbpedia.load(write_files(tmp_path, contents), DataConfig())
    names = [dataset.entities.name(dataset.entities.index(tail)) for _, tail in pairs]
    assert names == ["Shir\u014d Hamaguchi", "100% (band)", "50% off"]


def test_lastfm_dbpedia_no_mapped_artist_listened(tmp_path: Path) -> None:
    contents = clean(LASTFM_DBPEDIA_FILES)
    contents[LDB_MAPPINGS] = b"20\tNobody\t" + DBP + b"Muse_(band)\n"
    error = load_error(LDB, contents, tmp_path)
    assert file_key(error.path, tmp_path) == (LDB, "user_artists.dat") and "mappings.tsv" in str(error)
