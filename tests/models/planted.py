"""A small dataset with planted structure: users like the items of their own cluster, the KG knows clusters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import RecDataset


def planted_dataset(n_clusters: int = 4, users_per_cluster: int = 12, items_per_cluster: int = 10, seed: int = 0) -> RecDataset:
    """Each user interacts with 5 random items of its cluster plus, rarely, one popular item of another.

    Item i of cluster c is linked to entity ``e<i>`` with a triple ``e<i> in_cluster c<c>``, so the KG
    alone tells which items belong together; the most popular items overall are spread over clusters,
    so popularity cannot recover a user's cluster.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for cluster in range(n_clusters):
        items = [f"i{cluster * items_per_cluster + k}" for k in range(items_per_cluster)]
        for u in range(users_per_cluster):
            user = f"u{cluster * users_per_cluster + u}"
            rows += [(user, item) for item in rng.choice(items, size=5, replace=False)]
            if rng.random() < 0.3:
                rows.append((user, f"i{rng.integers(n_clusters * items_per_cluster)}"))
    n_items = n_clusters * items_per_cluster
    triples = pd.DataFrame(
        {"head": [f"e{i}" for i in range(n_items)], "relation": "in_cluster", "tail": [f"c{i // items_per_cluster}" for i in range(n_items)]}
    )
    links = pd.DataFrame({"item": [f"i{i}" for i in range(n_items)], "entity": [f"e{i}" for i in range(n_items)]})
    frame = pd.DataFrame(rows, columns=["user", "item"])
    return RecDataset.from_frames("planted", frame, triples, links)


def planted_split_graph(seed: int = 1):
    """The planted dataset, its seeded ratio split, and the training graph: (dataset, split, graph)."""
    from kgrec.config import SplitConfig
    from kgrec.data.graph import CollaborativeKG
    from kgrec.data.split import split

    dataset = planted_dataset()
    parts = split(dataset, SplitConfig(seed=seed))
    return dataset, parts, CollaborativeKG.build(dataset, parts.train)


def write_planted_files(directory: Path, dataset: RecDataset | None = None) -> Path:
    """The planted dataset as a user's files: interactions.tsv (with header), triples.tsv, links.tsv."""
    dataset = planted_dataset() if dataset is None else dataset
    directory.mkdir(parents=True, exist_ok=True)
    frame = dataset.interactions.to_frame()
    pd.DataFrame({"user": dataset.users.raw_ids[frame.user], "item": dataset.items.raw_ids[frame.item]}).to_csv(
        directory / "interactions.tsv", sep="\t", index=False
    )
    triples = dataset.triples
    pd.DataFrame(
        {
            "head": dataset.entities.raw_ids[triples[:, 0]],
            "relation": dataset.relations.raw_ids[triples[:, 1]],
            "tail": dataset.entities.raw_ids[triples[:, 2]],
        }
    ).to_csv(directory / "triples.tsv", sep="\t", index=False, header=False)
    linked = dataset.item_entity >= 0
    pd.DataFrame({"item": dataset.items.raw_ids[linked], "entity": dataset.entities.raw_ids[dataset.item_entity[linked]]}).to_csv(
        directory / "links.tsv", sep="\t", index=False, header=False
    )
    return directory
