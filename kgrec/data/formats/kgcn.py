"""KGCN's Last.FM layout: user_artists.dat, kg.txt, item_index2entity_id.txt, plus HetRec artist names.

The items are the listened artists (only those linked in item_index2entity_id.txt unless
``keep_unlinked_items``). The other files need not agree with the listens: a link or a name
(``hetrec_artists.dat``) of an artist nobody listened to is ignored, and a listened artist without a name
is shown by its id.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from kgrec.data.dataset import RecDataset
from kgrec.data.formats.common import int_ids, keep_positives, require_known, require_single_entity
from kgrec.data.options import DataConfig
from kgrec.data.readers import parse_floats, read_table, require_nonempty
from kgrec.errors import DatasetError

FOLDER = "lastfm-kgcn"


def read_triples(path: Path) -> pd.DataFrame:
    """A ``head<TAB>relation<TAB>tail`` file without header (KGCN / MKR ``kg.txt``), integer entity ids."""
    triples = read_table(path, ["head", "relation", "tail"])
    require_nonempty(triples, ["relation"], path)
    return int_ids(triples, ["head", "tail"], path).assign(relation=triples["relation"].str.strip())


def read_links(path: Path, triples: pd.DataFrame) -> pd.DataFrame:
    """An ``item<TAB>entity`` file without header; every entity must occur in the KG."""
    links = int_ids(read_table(path, ["item", "entity"]), ["item", "entity"], path)
    require_known(links, "entity", set(triples["head"]) | set(triples["tail"]), path, "an entity of the knowledge graph")
    require_single_entity(links, path)
    return links


def load(dirs: Mapping[str, Path], config: DataConfig) -> RecDataset:
    """Every listened (user, artist) pair is a positive (KGCN's convention); only KG-linked artists are
    items unless ``config.keep_unlinked_items``. The listening count is kept as the rating column."""
    folder = dirs[FOLDER]
    listens_path = folder / "user_artists.dat"
    listens = int_ids(read_table(listens_path, ["user", "item", "weight"], header=True), ["user", "item"], listens_path)
    listens["rating"] = parse_floats(listens, "weight", listens_path, "listening count")
    triples = read_triples(folder / "kg.txt")
    links = read_links(folder / "item_index2entity_id.txt", triples)
    artists_path = folder / "hetrec_artists.dat"
    artists = read_table(artists_path, ["id", "name", "url", "picture"], header=True, optional=2)
    artists = int_ids(artists, ["id"], artists_path)
    if not config.keep_unlinked_items:
        listens = listens[listens["item"].isin(set(links["item"]))]
        if listens.empty:
            raise DatasetError(
                "no listened artist is linked to a KG entity in item_index2entity_id.txt "
                "(set keep_unlinked_items to keep unlinked artists)",
                listens_path,
            )
    listens = keep_positives(listens, config.threshold or 0.0, listens_path)
    return RecDataset.from_frames(
        "lastfm-kgcn",
        listens[["user", "item", "rating"]],
        triples[["head", "relation", "tail"]],
        links[["item", "entity"]],
        item_names=dict(zip(artists["id"], artists["name"].str.strip())),
        info={"positives": "every listened (user, artist) pair", "rating": "listening count"},
    )
