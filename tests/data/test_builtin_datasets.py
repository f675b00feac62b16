"""The registered datasets on the real mirrored files: the counts their READMEs publish."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.config import SplitConfig
from kgrec.data.graph import CollaborativeKG
from kgrec.data.load import load_dataset
from kgrec.data.split import load_split, split
from kgrec.errors import DatasetError
from tests.conftest import (
    BENCHMARK_SPLIT,
    SHARED_DATASETS,
    require_benchmark_split,
    require_shared,
    require_shared_path,
)


@pytest.fixture(autouse=True)
def only_the_mirror(monkeypatch, tmp_path) -> None:
    """Read from ../shared/datasets only, never download."""
    monkeypatch.setenv("KGREC_DATA_DIR", str(SHARED_DATASETS))
    monkeypatch.setenv("KGREC_CACHE_DIR", str(tmp_path / "cache"))


def test_lastfm_counts_match_the_readme() -> None:
    require_shared("lastfm-kgcn")
    stats = load_dataset("lastfm-kgcn", download=False).stats()
    assert (stats.users, stats.items, stats.interactions) == (1872, 3846, 21173)
    assert (stats.entities, stats.relations, stats.triples, stats.linked_items) == (9366, 60, 15518, 3846)
    assert stats.per_relation["film.actor.film"] == 4623 and stats.per_relation["music.artist.origin"] == 2536


def test_lastfm_names_and_all_artists_option() -> None:
    require_shared("lastfm-kgcn")
    dataset = load_dataset("lastfm-kgcn", download=False)
    assert dataset.items.name(dataset.items.index("2")) == "Diary of Dreams"
    assert dataset.entities.name(dataset.entities.index("9000")) == "entity 9000"
    everything = load_dataset("lastfm-kgcn", download=False, keep_unlinked_items=True).stats()
    assert (everything.users, everything.items, everything.interactions, everything.linked_items) == (1892, 17632, 92834, 3846)


def test_ml100k_counts_and_title_links() -> None:
    require_shared("ml-100k", "ml1m-satori-kg")
    stats = load_dataset("ml100k", download=False, threshold=0).stats()
    assert (stats.users, stats.items, stats.interactions, stats.linked_items) == (943, 1682, 100000, 962)
    assert stats.per_relation["film.film.director"] == 2581 and stats.has_timestamps
    default = load_dataset("ml100k", download=False)
    assert len(default.interactions) == 55375 and default.interactions.rating.min() == 4.0
    toy_story = default.items.index("1")
    assert default.items.name(toy_story) == "Toy Story (1995)" and default.item_entity[toy_story] >= 0
    genres = default.relations.index("has_genre")
    tails = default.triples[(default.triples[:, 0] == default.item_entity[toy_story]) & (default.triples[:, 1] == genres), 2]
    assert sorted(default.entities.name(int(t)) for t in tails) == ["Animation", "Children's", "Comedy"]


def test_ml100k_threshold_that_leaves_nothing() -> None:
    require_shared("ml-100k", "ml1m-satori-kg")
    with pytest.raises(DatasetError, match="threshold 6 leaves no positive") as error:
        load_dataset("ml100k", download=False, threshold=6)
    assert error.value.path.endswith("u.data")


def test_moviekg_omdb_counts_and_names() -> None:
    require_shared("moviekg-omdb")
    dataset = load_dataset("moviekg-omdb", download=False)
    stats = dataset.stats()
    assert (stats.users, stats.items, stats.interactions) == (510, 92, 2487)
    assert stats.per_relation == {"acted_by": 3732, "directed_by": 249, "has_genre": 2285}
    assert dataset.items.name(dataset.items.index("1")) == "Cowboy Bebop"
    assert dataset.entities.name(dataset.entities.index("p_16767")) == "Aki Kaurismäki"
    assert int((dataset.entities.names != "").sum()) == stats.entities - 1  # one genre id has no name row
    assert len(load_dataset("moviekg-omdb", download=False, threshold=0).interactions) == 3910


def test_ratio_split_reproduces_the_published_benchmark_split() -> None:
    require_shared("lastfm-kgcn")
    require_benchmark_split()
    dataset = load_dataset("lastfm-kgcn", download=False, min_user_interactions=5)
    parts = split(dataset, SplitConfig(scheme="ratio", seed=2026))
    for name, part in parts.parts().items():
        published = pd.read_csv(BENCHMARK_SPLIT / f"{name}.tsv", sep="\t", header=None, dtype=str)
        ours = set(zip(dataset.users.raw_ids[part.user], dataset.items.raw_ids[part.item]))
        assert ours == set(map(tuple, published.values.tolist())), name


def test_published_split_loads_and_builds_the_graph() -> None:
    require_shared("lastfm-kgcn")
    require_benchmark_split()
    dataset = load_dataset("lastfm-kgcn", download=False)
    parts = load_split(BENCHMARK_SPLIT, dataset)
    assert (len(parts.train), len(parts.valid), len(parts.test)) == (14622, 2172, 4202)
    graph = CollaborativeKG.build(dataset, parts.train)
    assert graph.num_nodes == 1872 + 3846 + (9366 - 3846)
    assert graph.data.edge_index.size(1) == 2 * (14622 + 15518)
    interact = graph.data.edge_type == 0
    assert int(interact.sum()) == 14622
    assert np.all(graph.data.edge_index[1, interact].numpy() >= 1872)


LASTFM_DBPEDIA_SPLIT = SHARED_DATASETS.parent / "benchmarks" / "lastfm-dbpedia-split-2026"
LASTFM_DBPEDIA_PER_RELATION = {  # the README's per-file counts less the triples with a blank node or web address
    "genre": 26064 - 2, "associatedBand": 20954 - 19, "associatedMusicalArtist": 20953 - 19, "hometown": 12386 - 3,
    "bandMember": 7587 - 15, "formerBandMember": 7482 - 3, "birthPlace": 5581 - 7, "instrument": 4411 - 8,
    "occupation": 3246 - 264, "recordLabel": 2257 - 4,
}


def test_lastfm_dbpedia_counts_names_shared_entities_and_split() -> None:
    """The README's counts after the drops, readable names, two artists on one entity, the published split."""
    require_shared("lastfm-dbpedia")
    dataset = load_dataset("lastfm-dbpedia", download=False)
    stats = dataset.stats()
    assert (stats.users, stats.items, stats.interactions) == (1883, 10180, 79064)
    assert (stats.entities, stats.relations, stats.triples, stats.linked_items) == (37933, 10, 110577, 10175)
    assert stats.per_relation == LASTFM_DBPEDIA_PER_RELATION and 110921 - 344 == 110577
    assert {key: dataset.info[key] for key in ("dropped_triples", "dropped_blank_node_triples",
                                              "dropped_web_address_triples", "items_without_readable_entity")} == {
        "dropped_triples": 344, "dropped_blank_node_triples": 273, "dropped_web_address_triples": 71,
        "items_without_readable_entity": 5,  # artists mapped to a blank node (e.g. Chris_Clavin__Captain_Chaos__1)
    }
    entities, items = dataset.entities, dataset.items
    assert entities.name(entities.index("Sigur_Rós")) == "Sigur Rós"
    muse = items.index("190")
    assert items.name(muse) == "Muse" and entities.name(int(dataset.item_entity[muse])) == "Muse (band)"
    assert entities.name(entities.index("Shir%25C5%258D_Hamaguchi")) == "Shirō Hamaguchi"  # encoded twice
    assert dataset.relations.name(dataset.relations.index("formerBandMember")) == "former band member"
    # "Deadmau5 & Wolfgang Gartner" (16734) and "deadmau5" (1401) share http://dbpedia.org/resource/Deadmau5
    deadmau5 = entities.index("Deadmau5")
    assert dataset.item_entity[items.index("16734")] == dataset.item_entity[items.index("1401")] == deadmau5
    names = pd.Series(entities.names)
    assert (names != "").all() and not names.str.contains(r"_|http|%[0-9A-Fa-f]{2}|__\d+$").any()
    assert sorted(names[names.str.contains("%", regex=False)]) == ["100% (band)", "100% Records"]  # real percents

    filtered = load_dataset("lastfm-dbpedia", download=False, min_user_interactions=5)
    assert (filtered.stats().users, filtered.stats().interactions) == (1875, 79044)
    assert len(np.unique(filtered.interactions.item)) == 10176
    require_shared_path(LASTFM_DBPEDIA_SPLIT, "Copy shared/benchmarks/lastfm-dbpedia-split-2026 (train/valid/test.tsv)")
    parts = load_split(LASTFM_DBPEDIA_SPLIT, filtered)  # every pair must be in the dataset
    assert (len(parts.train), len(parts.valid), len(parts.test)) == (55305, 7912, 15827)
    ours = split(filtered, SplitConfig(scheme="ratio", seed=2026))  # the README's rule, reproduced pair for pair
    for name, part in ours.parts().items():
        published = pd.read_csv(LASTFM_DBPEDIA_SPLIT / f"{name}.tsv", sep="\t", header=None, dtype=str)
        pairs = set(zip(filtered.users.raw_ids[part.user], filtered.items.raw_ids[part.item]))
        assert pairs == set(map(tuple, published.values.tolist())), name


ML1M_DBPEDIA_PER_RELATION = {  # the README counts the 205,521 rows: here de-duplicated, 4 blank-node triples out
    "related_to_wikipage": 131207, "belong_to_category": 40499, "starred_by_actor": 9393,
    "produced_by_prodcompany": 4229, "composed_by_composer": 1998, "produced_by_producer": 1602,
    "cinematography_by_cinematographer": 1481, "edited_by_editor": 1153, "wrote_by_writter": 845,
    "directed_by_director": 367, "produced_in_country": 311,
}


def test_ml1m_dbpedia_counts_split_and_names() -> None:
    """One load (about 5 s): the README's counts, its per-user time split, and readable DBpedia names."""
    require_shared("ml1m-dbpedia")
    dataset = load_dataset("ml1m-dbpedia", download=False)
    stats = dataset.stats()
    assert (stats.users, stats.items, stats.interactions, stats.linked_items) == (6040, 2983, 932293, 2982)
    assert (stats.relations, stats.triples) == (11, 205521 - 12432 - 4)
    # the README's 13,754 entities in triples, less the blank node of movie 3570, plus 6 movies without triples
    assert stats.entities == 13754 - 1 + 6
    assert stats.per_relation == ML1M_DBPEDIA_PER_RELATION and stats.has_timestamps and not stats.has_ratings
    info = dataset.info
    assert (info["kg_rows"], info["duplicate_triples"], info["dropped_entities"], info["dropped_triples"]) == (
        205521, 12432, 1, 4
    )
    assert info["items_without_readable_entity"] == 1 and dataset.item_entity[dataset.items.index("3570")] == -1

    parts = split(dataset, SplitConfig(scheme="predefined"))
    assert (len(parts.train), len(parts.valid), len(parts.test)) == (556989, 190063, 185241)
    train = pd.DataFrame({"user": parts.train.user, "time": parts.train.timestamp}).groupby("user")["time"].max()
    test = pd.DataFrame({"user": parts.test.user, "time": parts.test.timestamp}).groupby("user")["time"].min()
    assert (train.reindex(test.index) <= test).all()  # ties within a second happen, so "not later than"

    matrix = dataset.items.index("2571")
    assert dataset.items.name(matrix) == "Matrix, The (1999)"
    assert dataset.users.name(dataset.users.index("1")) == "user 1 (F, Under 18)"
    directed_by = dataset.relations.index("directed_by_director")
    assert dataset.relations.name(directed_by) == "directed by"
    pinocchio = dataset.item_entity[dataset.items.index("596")]
    assert dataset.entities.name(int(pinocchio)) == "Pinocchio (1940 film)"  # a disambiguation stays
    rows = (dataset.triples[:, 0] == pinocchio) & (dataset.triples[:, 1] == directed_by)
    directors = {dataset.entities.name(int(t)) for t in dataset.triples[rows, 2]}
    assert directors == {"Wilfred Jackson", "Jack Kinney", "Hamilton Luske"}
    face_off = dataset.entities.index("8399")  # e_map.txt's name column says "Off": the URI is read instead
    assert dataset.entities.name(face_off) == "Face/Off"
    assert dataset.entities.name(dataset.entities.index("13")) == '"Crocodile" Dundee II'  # %22 decoded
    names = pd.Series(dataset.entities.names)
    assert not names.str.contains(r"_|http|%[0-9A-Fa-f]{2}").any()  # no underscore, address or undecoded escape
    # a literal % is only in the two names that really have one ("...a 100% rating...", "...a 0% rating...")
    assert names[names.str.contains("%", regex=False)].str.contains(r"\b1?00?% rating").all()
    assert (names != "").all()
