"""What a registered dataset is (:class:`DatasetSpec`) and the table of them; :mod:`kgrec.data.catalog` fills it
with the built-in datasets and :mod:`kgrec.data.registry` looks names up in it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kgrec.data.dataset import RecDataset
from kgrec.data.options import DataConfig
from kgrec.data.sources import RemoteFile

Loader = Callable[[Mapping[str, Path], DataConfig], RecDataset]


@dataclass(frozen=True)
class DataSource:
    """One dataset folder (as mirrored under a data directory) and the files kgrec needs from it."""

    folder: str
    files: tuple[RemoteFile, ...]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its sources, the parser that reads them and a one-line description."""

    name: str
    description: str
    sources: tuple[DataSource, ...]
    loader: Loader
    licence: str = ""


REGISTRY: dict[str, DatasetSpec] = {}  # name -> spec; read through kgrec.data.registry


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset to the registry (a later registration of the same name replaces the earlier one)."""
    REGISTRY[spec.name] = spec
    return spec
