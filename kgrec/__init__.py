"""kgrec: explainable recommendation over knowledge graphs.

>>> import kgrec
>>> dataset = kgrec.load_dataset("lastfm-kgcn")
>>> parts = kgrec.split(dataset, seed=2026)
>>> graph = kgrec.CollaborativeKG.build(dataset, parts.train)
"""

from kgrec.config import DataConfig, SplitConfig
from kgrec.data import IdMap, Interactions, RecDataset, Split, load_dataset, load_split, split
from kgrec.errors import ConfigError, DatasetError, DownloadError, KgrecError, UnknownIdError

__version__ = "0.1.0"

__all__ = [
    "CollaborativeKG",
    "ConfigError",
    "DataConfig",
    "DatasetError",
    "DownloadError",
    "IdMap",
    "Interactions",
    "KgrecError",
    "RecDataset",
    "Split",
    "SplitConfig",
    "UnknownIdError",
    "load_dataset",
    "load_split",
    "split",
]


def __getattr__(name: str):
    """``kgrec.CollaborativeKG`` is imported lazily (with torch) by :mod:`kgrec.data`."""
    if name == "CollaborativeKG":
        from kgrec import data

        return data.CollaborativeKG
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
