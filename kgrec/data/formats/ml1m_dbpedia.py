"""MovieLens-1M with a named DBpedia KG, as preprocessed for KG path-reasoning recommenders (PGPR / CAFE / UCPR
replicability study, PEARLM; the ``data/ml1m/preprocessed`` folder of the pearlm repository).

* Positives: ``mapping/train.txt.gz``, ``valid.txt.gz``, ``test.txt.gz`` (gzip; no header;
  ``user_new_id item_new_id 1 unix_time``), every row a positive. They are the dataset's own per-user time
  split and become its predefined split (``split_labels``: 0 train, 1 valid, 2 test). No file may be
  empty, every valid / test user needs a training row, and a (user, movie) pair may be in one file only.
  The ``1`` must be a number and is not kept; the timestamps are.
* Ids: ``mapping/user_mapping.txt`` and ``mapping/product_mapping.txt`` (header ``rating_id new_id``) map
  the split's new ids back to MovieLens ids, which are the raw user / item ids. A new id of the split files
  that is not mapped is an error at its line; a new id mapped to two different MovieLens ids is an error at
  the second mapping line (two new ids of one MovieLens id are allowed). Items are the movies of the
  positives.
* Names: ``products.txt`` (header ``pid name provider_id genre pop_item pop_provider``) gives the movie
  titles (a listed movie that is not an item is ignored, an item it does not list is shown by its id);
  ``users.txt`` (header ``uid gender age``) names users "user 12 (F, 25-34)".
* KG: ``kg_final.txt`` (header ``entity_head relation entity_tail``; ids of ``e_map.txt`` and ``r_map.txt``,
  unknown ids are an error at their line), de-duplicated. ``e_map.txt`` (header ``eid name entity``) gives
  each entity's DBpedia resource; its display name comes from the URI (``display_name``: percent-decoded,
  ``_`` as spaces, a disambiguation such as "(1995 film)" kept) because the ``name`` column is cut at a
  ``/`` ("Off" for ``Face/Off``). Entities that are not readable resources (``is_readable_resource``:
  blank nodes, web addresses) are dropped with their triples; a movie linked to one stays an item without
  a KG link (one in the real data: ``The_Last_September__The_Last_September__1``, with its 4 triples).
  ``info`` counts the KG rows, the duplicates, and the dropped entities, triples and links. ``r_map.txt`` (header
  ``id kb_relation name``): a relation's raw id is its name (``directed_by_director``), with a readable
  display name ("directed by"). A relation id listed twice with different names is an error.
* Links: ``i2kg_map.txt`` (header ``eid pid name entity``) links a movie (MovieLens id) to its KG entity;
  an entity not in ``e_map.txt`` is an error at its line, a movie linked to two entities too (on any row);
  links of movies that are not items are then ignored.

Every file's first non-blank line must be its header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import PART_NAMES, RecDataset
from kgrec.data.formats.common import int_ids, require_known, require_single_entity, split_positives
from kgrec.data.formats.dbpedia import display_names, is_readable_resource
from kgrec.data.options import DataConfig
from kgrec.data.readers import LINE_COLUMN, parse_floats, parse_ints, read_table, require_nonempty, shown
from kgrec.errors import DatasetError

FOLDER = "ml1m-dbpedia"
SPLIT_FILES = tuple(f"mapping/{name}.txt.gz" for name in PART_NAMES)
USER_MAPPING = "mapping/user_mapping.txt"
PRODUCT_MAPPING = "mapping/product_mapping.txt"
FILES = (
    *SPLIT_FILES,
    USER_MAPPING,
    PRODUCT_MAPPING,
    "i2kg_map.txt",
    "kg_final.txt",
    "e_map.txt",
    "r_map.txt",
    "products.txt",
    "users.txt",
)
# r_map.txt names -> how a person reads the relation (head: the movie)
RELATION_NAMES = {
    "cinematography_by_cinematographer": "cinematography by",
    "produced_by_prodcompany": "production company",
    "composed_by_composer": "music composed by",
    "belong_to_category": "category",
    "starred_by_actor": "starring",
    "produced_in_country": "produced in country",
    "edited_by_editor": "edited by",
    "produced_by_producer": "produced by",
    "wrote_by_writter": "written by",
    "directed_by_director": "directed by",
    "related_to_wikipage": "related to (wiki link)",
}


def read_with_header(path: Path, columns: Sequence[str], allow_empty: bool = False) -> pd.DataFrame:
    """A tab-separated file whose first non-blank line is exactly ``columns``; the data rows after it."""
    names = " ".join(columns)
    frame = read_table(path, columns, expected=f"{len(columns)} tab-separated columns ({names})")
    header = [frame[column].iloc[0].strip() for column in columns]
    if header != list(columns):
        found = shown("\t".join(frame[column].iloc[0] for column in columns), 60)
        raise DatasetError(
            f"expected the header line '{names}' (tab-separated), found {found}", path, int(frame[LINE_COLUMN].iloc[0])
        )
    rows = frame.iloc[1:].reset_index(drop=True)
    if rows.empty and not allow_empty:
        raise DatasetError(f"has a header line but no data rows; expected rows of {names}", path)
    return rows


def read_mapping(path: Path) -> dict[str, str]:
    """``rating_id new_id`` rows: new id -> MovieLens id; a new id mapped to two MovieLens ids is an error."""
    rows = int_ids(read_with_header(path, ["rating_id", "new_id"]), ["rating_id", "new_id"], path)
    return unique_map(rows, "new_id", "rating_id", path, "mapped to MovieLens id")


def unique_map(rows: pd.DataFrame, key: str, value: str, path: Path, what: str) -> dict[str, str]:
    """``rows[key] -> rows[value]``; a key repeated with another value is an error at that line."""
    distinct = rows.drop_duplicates([key, value])
    again = np.flatnonzero(distinct[key].duplicated().to_numpy())
    if len(again):
        row = distinct.iloc[int(again[0])]
        first = distinct.loc[distinct[key] == row[key]].iloc[0]
        raise DatasetError(
            f"{key} {row[key]!r} is already {what} {first[value]!r} (line {int(first[LINE_COLUMN])}), "
            f"cannot also be {what} {row[value]!r}",
            path,
            int(row[LINE_COLUMN]),
        )
    return dict(zip(distinct[key], distinct[value]))


def read_part(path: Path, users: Mapping[str, str], items: Mapping[str, str]) -> pd.DataFrame:
    """One split file as (user, item, timestamp) rows on MovieLens ids, with its line numbers."""
    columns = ["user", "item", "rating", "timestamp"]
    shape = "4 tab-separated columns (user_new_id, item_new_id, 1, unix_time)"
    frame = int_ids(read_table(path, columns, expected=shape), ["user", "item"], path)
    parse_floats(frame, "rating", path, "the rating column (1)")
    timestamps = parse_ints(frame, "timestamp", path, "timestamp")
    require_known(frame, "user", users.keys(), path, f"a user new_id of {USER_MAPPING}")
    require_known(frame, "item", items.keys(), path, f"a movie new_id of {PRODUCT_MAPPING}")
    return pd.DataFrame(
        {
            "user": frame["user"].map(users).to_numpy(dtype=object),
            "item": frame["item"].map(items).to_numpy(dtype=object),
            "timestamp": timestamps,
            LINE_COLUMN: frame[LINE_COLUMN].to_numpy(),
        }
    )


def read_entities(path: Path) -> pd.DataFrame:
    """``e_map.txt``: eid, the resource URI and its display name; an eid with two URIs is an error."""
    rows = int_ids(read_with_header(path, ["eid", "name", "entity"]), ["eid"], path)
    require_nonempty(rows, ["entity"], path)
    rows["entity"] = rows["entity"].str.strip()
    unique_map(rows, "eid", "entity", path, "the entity")
    rows = rows.drop_duplicates("eid")
    names = display_names(rows, "entity", path)
    return rows.assign(display=rows["entity"].map(names), readable=[is_readable_resource(uri) for uri in rows["entity"]])


def read_relations(path: Path) -> dict[str, str]:
    """``r_map.txt``: relation id -> relation name (the raw relation id); an id with two names is an error."""
    rows = int_ids(read_with_header(path, ["id", "kb_relation", "name"]), ["id"], path)
    require_nonempty(rows, ["name"], path)
    rows["name"] = rows["name"].str.strip()
    return unique_map(rows, "id", "name", path, "the relation")


def read_kg(path: Path, entities: set[str], relations: Mapping[str, str]) -> pd.DataFrame:
    """``kg_final.txt`` as head, relation (name), tail rows; every id must be in e_map.txt / r_map.txt."""
    columns = ["entity_head", "relation", "entity_tail"]
    rows = int_ids(read_with_header(path, columns), columns, path)
    for column in ("entity_head", "entity_tail"):
        require_known(rows, column, entities, path, "an entity of e_map.txt")
    require_known(rows, "relation", relations.keys(), path, "a relation of r_map.txt")
    return pd.DataFrame(
        {"head": rows["entity_head"], "relation": rows["relation"].map(relations), "tail": rows["entity_tail"]}
    )


def read_links(path: Path, entities: set[str], items: set[str]) -> pd.DataFrame:
    """``i2kg_map.txt`` as (item, entity) rows of the given items; the entity must be in e_map.txt."""
    rows = int_ids(read_with_header(path, ["eid", "pid", "name", "entity"]), ["eid", "pid"], path)
    require_known(rows, "eid", entities, path, "an entity of e_map.txt")
    links = pd.DataFrame({"item": rows["pid"], "entity": rows["eid"], LINE_COLUMN: rows[LINE_COLUMN]})
    require_single_entity(links, path)
    return links[links["item"].isin(items)]


def user_name(uid: str, gender: str, age: str) -> str:
    about = ", ".join(part for part in (gender.strip(), age.strip()) if part)
    return f"user {uid} ({about})" if about else ""


def load(dirs: Mapping[str, Path], config: DataConfig) -> RecDataset:
    """Read the folder; the split files give the positives and their predefined split. ``config.threshold``
    has no effect (every row is a positive)."""
    folder = dirs[FOLDER]
    users = read_mapping(folder / USER_MAPPING)
    movies = read_mapping(folder / PRODUCT_MAPPING)
    parts = {label: (folder / name, read_part(folder / name, users, movies)) for label, name in enumerate(SPLIT_FILES)}
    positives, labels = split_positives(parts, 0.0)
    items = set(positives["item"])

    entities = read_entities(folder / "e_map.txt")
    relations = read_relations(folder / "r_map.txt")
    known = set(entities["eid"])
    triples = read_kg(folder / "kg_final.txt", known, relations)
    links = read_links(folder / "i2kg_map.txt", known, items)

    products_path = folder / "products.txt"
    products = read_with_header(products_path, ["pid", "name", "provider_id", "genre", "pop_item", "pop_provider"])
    products = int_ids(products, ["pid"], products_path).assign(name=lambda f: f["name"].str.strip())
    products = products[products["name"] != ""].drop_duplicates("pid")
    titles = dict(zip(products["pid"], products["name"]))
    users_path = folder / "users.txt"
    people = int_ids(read_with_header(users_path, ["uid", "gender", "age"]), ["uid"], users_path).drop_duplicates("uid")
    user_names = {uid: user_name(uid, g, a) for uid, g, a in people[["uid", "gender", "age"]].itertuples(index=False)}

    unreadable = set(entities.loc[~entities["readable"], "eid"])
    rows = len(triples)
    triples = triples.drop_duplicates()
    touching = triples["head"].isin(unreadable) | triples["tail"].isin(unreadable)
    unlinked = links["entity"].isin(unreadable)
    dropped = unreadable & (set(triples["head"]) | set(triples["tail"]) | set(links["entity"]))
    kept_links, kept_triples = links[~unlinked], triples[~touching]
    return RecDataset.from_frames(
        FOLDER,
        positives[["user", "item", "timestamp"]],
        kept_triples,
        kept_links[["item", "entity"]],
        item_names=titles,
        user_names=user_names,
        entity_names=dict(zip(entities["eid"], entities["display"])),
        relation_names={name: RELATION_NAMES.get(name, name.replace("_", " ")) for name in relations.values()},
        split_labels=labels,
        info={
            "positives": "every row of the split files",
            "split": "predefined per-user time split (mapping/train, valid, test)",
            "kg_rows": rows,
            "duplicate_triples": rows - len(triples),
            "dropped_entities": len(dropped),
            "dropped_triples": int(touching.sum()),
            "items_without_readable_entity": int(unlinked.sum()),
        },
    )
