"""The fully named OMDB movie subgraph (``sub_*.csv``): ratings plus acted_by / directed_by / has_genre.

Items are the rated movies; other movies, people and genres are named KG entities. Repeated (user, movie)
rows are collapsed to their highest rating; positives are ratings >= the threshold (default 4).
Every movie a rating or an edge refers to must be listed in ``sub_movie.csv`` (else a DatasetError at the
referring line); listed movies nobody rated are KG entities only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from kgrec.data.dataset import RecDataset
from kgrec.data.formats.common import keep_positives, require_known
from kgrec.data.options import DataConfig
from kgrec.data.readers import parse_floats, read_table, require_nonempty

FOLDER = "moviekg-omdb"
DEFAULT_THRESHOLD = 4.0
FILES = (
    "sub_user_watched_movies.csv",
    "sub_movie.csv",
    "sub_actor.csv",
    "sub_director.csv",
    "sub_people.csv",
    "sub_genre.csv",
    "sub_actor_act_movie.csv",
    "sub_director_direct_movie.csv",
    "sub_movie_withgenre_genre.csv",
)
# relation name -> (file, column of the person / genre, column of the movie)
RELATIONS = {
    "acted_by": ("sub_actor_act_movie.csv", ["people_id", "movie_id"]),
    "directed_by": ("sub_director_direct_movie.csv", ["people_id", "movie_id"]),
    "has_genre": ("sub_movie_withgenre_genre.csv", ["movie_id", "genre_id"]),
}


def _read_csv(folder: Path, name: str, columns: list[str]) -> pd.DataFrame:
    path = folder / name
    frame = read_table(path, columns, sep=",", header=True, quoted=True)
    require_nonempty(frame, columns[:1], path)
    for column in columns:
        frame[column] = frame[column].str.strip()
    return frame


def _names(frame: pd.DataFrame, id_column: str, name_column: str) -> dict[str, str]:
    """First non-empty name per id (the subgraph lists some movies and genres under several names)."""
    named = frame[frame[name_column] != ""].drop_duplicates(id_column)
    return dict(zip(named[id_column], named[name_column]))


def load(dirs: Mapping[str, Path], config: DataConfig) -> RecDataset:
    """Read the named subgraph; every entity id must be declared in its names file."""
    folder = dirs[FOLDER]
    ratings_path = folder / "sub_user_watched_movies.csv"
    ratings = _read_csv(folder, "sub_user_watched_movies.csv", ["user_id", "rate", "movie_id"])
    require_nonempty(ratings, ["movie_id"], ratings_path)
    ratings["rating"] = parse_floats(ratings, "rate", ratings_path, "rating")
    movies = _read_csv(folder, "sub_movie.csv", ["movie_id", "name"])
    people = pd.concat(
        [_read_csv(folder, name, ["people_id", "name", "birth_date"]) for name in ("sub_director.csv", "sub_actor.csv", "sub_people.csv")]
    )
    genres = _read_csv(folder, "sub_genre.csv", ["genre_id", "name_y"])
    require_known(ratings, "movie_id", set(movies["movie_id"]), ratings_path, "a movie of sub_movie.csv")

    triples = []
    for relation, (name, columns) in RELATIONS.items():
        edges = _read_csv(folder, name, columns)
        require_nonempty(edges, columns, folder / name)
        require_known(edges, "movie_id", set(movies["movie_id"]), folder / name, "a movie of sub_movie.csv")
        if "people_id" in edges:
            require_known(edges, "people_id", set(people["people_id"]), folder / name, "a person of sub_*.csv")
        other = "people_id" if "people_id" in edges else "genre_id"
        triples.append(pd.DataFrame({"head": edges["movie_id"], "relation": relation, "tail": edges[other]}))

    rated_movies = ratings["movie_id"].unique().tolist()
    threshold = DEFAULT_THRESHOLD if config.threshold is None else config.threshold
    positives = keep_positives(ratings.rename(columns={"user_id": "user", "movie_id": "item"}), threshold, ratings_path)
    movie_names = _names(movies, "movie_id", "name")
    return RecDataset.from_frames(
        "moviekg-omdb",
        positives[["user", "item", "rating"]],
        pd.concat(triples, ignore_index=True),
        pd.DataFrame({"item": rated_movies, "entity": rated_movies}),
        item_catalogue=rated_movies,
        item_names=movie_names,
        entity_names={**movie_names, **_names(people, "people_id", "name"), **_names(genres, "genre_id", "name_y")},
        info={"positives": f"rating >= {threshold:g}" if threshold > 0 else "every rating", "threshold": threshold},
    )
