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
from tests.conftest import BENCHMARK_SPLIT, SHARED_DATASETS, require_benchmark_split, require_shared


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
