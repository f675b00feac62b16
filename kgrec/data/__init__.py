"""Datasets: sources and checksums, parsers, the RecDataset, splits and the collaborative KG."""

from kgrec.data.dataset import DatasetStats, IdMap, Interactions, RecDataset
from kgrec.data.load import load_dataset
from kgrec.data.split import Split, load_split, split

__all__ = [
    "CollaborativeKG",
    "DatasetStats",
    "IdMap",
    "Interactions",
    "RecDataset",
    "Split",
    "load_dataset",
    "load_split",
    "split",
]


def __getattr__(name: str):
    """Import the graph module (and torch) only when the collaborative KG is first asked for."""
    if name == "CollaborativeKG":
        from kgrec.data.graph import CollaborativeKG

        return CollaborativeKG
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
