"""MovieLens 100K (u.data / u.item / u.user / u.genre) with a KG of its genres and the MKR Satori KG.

Movies are linked to Satori entities by exact title match of ``u.item`` against ML-1M ``movies.dat``
(962 movies). Linked movies get their Satori triples plus ``has_genre`` triples from the ``u.item`` genre
flags; unlinked movies stay items without KG edges.

``u.item`` (Latin-1) is the item catalogue: every movie it lists is an item, rated or not, and a rating of
a movie it does not list is a DatasetError at that line of ``u.data`` (likewise users and ``u.user``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import RecDataset
from kgrec.data.formats.common import int_ids, keep_positives, require_known, require_single_entity
from kgrec.data.formats.kgcn import read_links, read_triples
from kgrec.data.options import DataConfig
from kgrec.data.readers import parse_floats, parse_ints, read_table
from kgrec.errors import DatasetError

FOLDER = "ml-100k"
SATORI_FOLDER = "ml1m-satori-kg"
DEFAULT_THRESHOLD = 4.0
GENRE_RELATION = "has_genre"


def read_genres(path: Path) -> pd.DataFrame:
    """``u.genre``: ``name|index`` rows, indices 0..n-1 giving the order of u.item's genre flags."""
    genres = read_table(path, ["name", "index"], sep="|", encoding="latin-1")
    genres["index"] = parse_ints(genres, "index", path, "genre index")
    if sorted(genres["index"]) != list(range(len(genres))):
        raise DatasetError(f"genre indices must be 0..{len(genres) - 1}, found {sorted(genres['index'])}", path)
    return genres.sort_values("index")


def read_items(path: Path, n_genres: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``u.item``: id, title, dates, URL and one 0/1 flag per genre; returns the items and the flag matrix."""
    flags = [f"g{k}" for k in range(n_genres)]
    columns = ["item", "title", "release", "video_release", "url", *flags]
    items = int_ids(read_table(path, columns, sep="|", encoding="latin-1"), ["item"], path)
    matrix = np.stack([parse_ints(items, flag, path, "genre flag (0 or 1)") for flag in flags], axis=1)
    bad = np.flatnonzero(~np.isin(matrix, (0, 1)).all(axis=1))
    if len(bad):
        raise DatasetError("genre flags must be 0 or 1", path, int(items["__line__"].iloc[bad[0]]))
    return items, matrix


def read_satori_titles(path: Path) -> dict[str, str]:
    """ML-1M ``movies.dat`` (``id::title::genres``, Latin-1): title -> ML-1M movie id."""
    movies = int_ids(read_table(path, ["id", "title", "genres"], sep="::", encoding="latin-1"), ["id"], path)
    return dict(zip(movies["title"], movies["id"]))


def load(dirs: Mapping[str, Path], config: DataConfig) -> RecDataset:
    """Positives are ratings >= ``config.threshold`` (default 4; 0 keeps every rating)."""
    folder, satori = dirs[FOLDER], dirs[SATORI_FOLDER]
    ratings_path = folder / "u.data"
    ratings = read_table(ratings_path, ["user", "item", "rating", "timestamp"])
    ratings = int_ids(ratings, ["user", "item"], ratings_path)
    ratings["rating"] = parse_floats(ratings, "rating", ratings_path)
    ratings["timestamp"] = parse_ints(ratings, "timestamp", ratings_path, "timestamp")
    users_path = folder / "u.user"
    users = int_ids(read_table(users_path, ["user", "age", "gender", "occupation", "zip"], sep="|"), ["user"], users_path)
    genres = read_genres(folder / "u.genre")
    items, flags = read_items(folder / "u.item", len(genres))
    _require_listed(ratings, "user", set(users["user"]), ratings_path, "u.user")
    _require_listed(ratings, "item", set(items["item"]), ratings_path, "u.item")

    kg = read_triples(satori / "kg.txt")
    links = read_links(satori / "item_index2entity_id.txt", kg)
    ml1m_by_title = read_satori_titles(satori / "movies.dat")
    entity_by_ml1m = dict(zip(links["item"], links["entity"]))
    item_entity = items["title"].map(ml1m_by_title).map(entity_by_ml1m)
    linked = items.assign(entity=item_entity)[item_entity.notna()]
    require_single_entity(linked, folder / "u.item", via="title")

    genre_names = genres["name"].str.strip().to_numpy()
    movie_row, genre_col = np.nonzero(flags[item_entity.notna().to_numpy()])
    keep = genre_names[genre_col] != "unknown"
    genre_triples = pd.DataFrame(
        {
            "head": linked["entity"].to_numpy()[movie_row[keep]],
            "relation": GENRE_RELATION,
            "tail": ["genre:" + name for name in genre_names[genre_col[keep]]],
        }
    )
    threshold = DEFAULT_THRESHOLD if config.threshold is None else config.threshold
    positives = keep_positives(ratings, threshold, ratings_path)
    return RecDataset.from_frames(
        "ml100k",
        positives[["user", "item", "rating", "timestamp"]],
        pd.concat([kg[["head", "relation", "tail"]], genre_triples], ignore_index=True),
        linked[["item", "entity"]],
        item_catalogue=items["item"].tolist(),
        item_names=dict(zip(items["item"], items["title"].str.strip())),
        entity_names={"genre:" + name: name for name in genre_names},
        user_names={u: f"user {u} ({o}, {a} {g})" for u, a, g, o in users[["user", "age", "gender", "occupation"]].itertuples(index=False)},
        info={"positives": f"rating >= {threshold:g}" if threshold > 0 else "every rating", "threshold": threshold},
    )


def _require_listed(frame: pd.DataFrame, column: str, known: set[str], path: Path, listing: str) -> None:
    require_known(frame, column, known, path, f"listed in {listing}")
