"""entity2rec's Last.FM layout: HetRec's user_artists.dat, mappings.tsv and ten DBpedia ``graphs/dbo:*.edgelist``.

* ``user_artists.dat``: HetRec's ``userID<TAB>artistID<TAB>weight`` with a header; the weight (listening
  count) is kept as the rating column.
* ``mappings.tsv``: ``artistID<TAB>name<TAB>dbpedia_uri`` without header. The items are the listened artists
  listed here (unless ``keep_unlinked_items``); the name is the item's display name. Several artist ids may
  share one URI (a collaboration mapped to its first artist): those items link to one entity. One artist id
  with two different URIs is an error at the second line.
* ``graphs/dbo:<property>.edgelist``: ``head_uri tail_uri`` separated by one space, no header; the relation
  is the property (``genre``), shown as words ("record label").

Entities are DBpedia resources, their raw id the resource name (``Sigur_R%C3%B3s``: the URI without
``http://dbpedia.org/resource/``, as written in the files) and their display name the decoded one ("Sigur
Rós", :func:`kgrec.data.formats.dbpedia.display_name`; a disambiguation such as "(band)" is kept). Blank
nodes (``Adele__1``) and web addresses are not readable resources: a triple with one as head or tail is
dropped (counted in ``RecDataset.info``), and an artist whose URI is one stays an item without a KG link.
A percent-escape that is not UTF-8 is an error at its line. Some names in the files are percent-encoded
twice (``Shir%25C5%258D``): when a decoded name still holds escapes that decode as UTF-8, they are decoded
too ("Shirō"); a literal ``%`` as in "100% (band)" stays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import RecDataset
from kgrec.data.formats.common import int_ids, keep_positives, require_single_entity, str_isin
from kgrec.data.formats.dbpedia import display_names, is_blank_node, is_readable_resource, per_value, resource_name
from kgrec.data.options import DataConfig
from kgrec.data.readers import LINE_COLUMN, parse_floats, read_table, require_nonempty
from kgrec.errors import DatasetError

FOLDER = "lastfm-dbpedia"
RELATIONS = (
    "associatedBand",
    "associatedMusicalArtist",
    "bandMember",
    "birthPlace",
    "formerBandMember",
    "genre",
    "hometown",
    "instrument",
    "occupation",
    "recordLabel",
)
GRAPHS = tuple(f"graphs/dbo:{relation}.edgelist" for relation in RELATIONS)
FILES = ("user_artists.dat", "mappings.tsv", *GRAPHS)

def relation_words(relation: str) -> str:
    """"record label" for ``recordLabel``: a camel-case property as lower-case words."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", relation).lower()


def unreadable_reason(uri: str) -> str:
    """Why ``uri`` (not a readable resource) is dropped: a blank node or a web address."""
    return "blank_node" if is_blank_node(uri) else "web_address"


def read_mappings(path: Path) -> pd.DataFrame:
    """``artistID<TAB>name<TAB>uri`` rows: item, name, uri, entity (raw id; None when not readable)."""
    frame = read_table(path, ["item", "name", "uri"], expected="3 tab-separated columns (artistID, name, dbpedia_uri)")
    require_nonempty(frame, ["uri"], path)
    frame = int_ids(frame, ["item"], path)
    frame["uri"] = frame["uri"].str.strip()
    frame["name"] = frame["name"].str.strip()
    readable = per_value(frame["uri"], is_readable_resource).to_numpy(dtype=bool)
    # two lines of one artist must agree on the URI (blank nodes and web addresses included)
    frame["entity"] = per_value(frame["uri"], resource_name)
    require_single_entity(frame, path)
    frame["entity"] = frame["entity"].where(readable, None)
    return frame


def read_graph(path: Path, relation: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """One ``head tail`` edge list as head, relation, tail (raw ids) of readable resources, and the counts of
    triples dropped because a head or tail is a blank node or a web address."""
    frame = read_table(path, ["head", "tail"], sep=" ", expected="2 space-separated columns (head_uri, tail_uri)")
    require_nonempty(frame, ["head", "tail"], path)
    heads, tails = frame["head"].str.strip(), frame["tail"].str.strip()
    readable_head = per_value(heads, is_readable_resource).to_numpy(dtype=bool)
    readable_tail = per_value(tails, is_readable_resource).to_numpy(dtype=bool)
    keep = readable_head & readable_tail
    dropped = {"blank_node": 0, "web_address": 0}
    for uri in np.where(~readable_head, heads, tails)[~keep]:
        dropped[unreadable_reason(str(uri))] += 1
    kept = pd.DataFrame(
        {
            "head": per_value(heads[keep], resource_name),
            "relation": relation,
            "tail": per_value(tails[keep], resource_name),
            LINE_COLUMN: frame[LINE_COLUMN][keep],
        }
    )
    return kept, dropped


def load(dirs: Mapping[str, Path], config: DataConfig) -> RecDataset:
    """Every listened (user, artist) pair whose artist is in mappings.tsv is a positive; only those artists
    are items unless ``config.keep_unlinked_items``. The listening count is kept as the rating column."""
    folder = dirs[FOLDER]
    listens_path = folder / "user_artists.dat"
    listens = int_ids(read_table(listens_path, ["user", "item", "weight"], header=True), ["user", "item"], listens_path)
    listens["rating"] = parse_floats(listens, "weight", listens_path, "listening count")
    mappings_path = folder / "mappings.tsv"
    mappings = read_mappings(mappings_path)
    entity_names: dict[str, str] = {}
    entity_names.update(display_names(mappings[mappings["entity"].notna()], "entity", mappings_path))

    triples, dropped = [], {"blank_node": 0, "web_address": 0}
    for relation, name in zip(RELATIONS, GRAPHS):
        path = folder / name
        kept, lost = read_graph(path, relation)
        for column in ("head", "tail"):
            entity_names.update(display_names(kept, column, path, named=entity_names))
        triples.append(kept)
        for reason, count in lost.items():
            dropped[reason] += count
    kg = pd.concat(triples, ignore_index=True)

    if not config.keep_unlinked_items:
        listens = listens[str_isin(listens["item"], mappings["item"])]
        if listens.empty:
            raise DatasetError(
                "no listened artist is listed in mappings.tsv (set keep_unlinked_items to keep unmapped artists)",
                listens_path,
            )
    listens = keep_positives(listens, config.threshold or 0.0, listens_path)
    was_listened = str_isin(mappings["item"], listens["item"].unique())
    links = mappings[mappings["entity"].notna() & was_listened]
    unreadable = mappings[mappings["entity"].isna() & was_listened]["item"].nunique()
    names = mappings.drop_duplicates("item")
    return RecDataset.from_frames(
        "lastfm-dbpedia",
        listens[["user", "item", "rating"]],
        kg[["head", "relation", "tail"]],
        links[["item", "entity"]],
        item_names=dict(zip(names["item"].tolist(), names["name"].tolist())),
        entity_names=entity_names,
        relation_names={relation: relation_words(relation) for relation in RELATIONS},
        info={
            "positives": "every listened (user, artist) pair of a mapped artist",
            "rating": "listening count",
            "dropped_triples": dropped["blank_node"] + dropped["web_address"],
            "dropped_blank_node_triples": dropped["blank_node"],
            "dropped_web_address_triples": dropped["web_address"],
            "items_without_readable_entity": int(unreadable),
        },
    )

