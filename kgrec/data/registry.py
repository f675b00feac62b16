"""Dataset registry: a name -> where its raw files live (folders, URLs, checksums) and which parser reads them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kgrec.config import DataConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.sources import RemoteFile
from kgrec.errors import ConfigError

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


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset to the registry (a later registration of the same name replaces the earlier one)."""
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name``; ConfigError listing the known names otherwise."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; registered datasets: {', '.join(sorted(_REGISTRY))}") from None


def list_specs() -> list[DatasetSpec]:
    """All registered datasets, by name."""
    _load_builtin()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def _load_builtin() -> None:
    import kgrec.data.catalog  # noqa: F401  (registers the built-in datasets on first use)
