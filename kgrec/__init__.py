"""kgrec: explainable recommendation over knowledge graphs.

>>> import kgrec
>>> dataset = kgrec.load_dataset("lastfm-kgcn")
>>> parts = kgrec.split(dataset, seed=2026)
>>> graph = kgrec.CollaborativeKG.build(dataset, parts.train)
>>> rec = kgrec.train(dataset, overrides=["train.epochs=20"])           # a fitted Recommender
>>> rec.recommend("2", k=5, explain=True)[0].text
"""

from kgrec.config import DataConfig, SplitConfig
from kgrec.data import IdMap, Interactions, RecDataset, Split, load_dataset, load_split, split
from kgrec.errors import (
    ConfigError,
    DatasetError,
    DownloadError,
    IncompatibleRunError,
    KgrecError,
    RunError,
    UnknownIdError,
    UnknownItemError,
    UnknownUserError,
)
from kgrec.explain.types import Explanation
from kgrec.version import __version__ as __version__

__all__ = [
    "CollaborativeKG",
    "ConfigError",
    "DataConfig",
    "DatasetError",
    "DownloadError",
    "Explanation",
    "IncompatibleRunError",
    "IdMap",
    "Interactions",
    "KgrecError",
    "RecDataset",
    "Recommender",
    "RunError",
    "Split",
    "SplitConfig",
    "UnknownIdError",
    "UnknownItemError",
    "UnknownUserError",
    "load_dataset",
    "run_pipeline",
    "train",
    "load_split",
    "split",
]


def __getattr__(name: str):
    """Names that need torch (``CollaborativeKG``, ``Recommender``, ``train``, ``run_pipeline``) are imported
    lazily, so that ``import kgrec`` (and the ``kgrec`` command) stays fast."""
    if name == "CollaborativeKG":
        from kgrec.data.graph import CollaborativeKG

        return CollaborativeKG
    if name == "Recommender":
        from kgrec.recommender import Recommender

        return Recommender
    if name == "train":
        from kgrec.api import train

        return train
    if name == "run_pipeline":
        from kgrec.pipeline import run_pipeline

        return run_pipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
