"""Dataset registry: a name -> where its raw files live (folders, URLs, checksums) and which parser reads them."""

from __future__ import annotations

from pathlib import Path

from kgrec.data import catalog  # noqa: F401  (registers the built-in datasets)
from kgrec.data.spec import REGISTRY, DatasetSpec, DataSource, Loader, register
from kgrec.errors import ConfigError

__all__ = ["DataSource", "DatasetSpec", "Loader", "dataset_reference", "get_spec", "list_specs", "register"]


def get_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name``; ConfigError listing the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; registered datasets: {', '.join(sorted(REGISTRY))}") from None


def list_specs() -> list[DatasetSpec]:
    """All registered datasets, by name."""
    return [REGISTRY[name] for name in sorted(REGISTRY)]


def dataset_reference(dataset: str | Path) -> str:
    """A registered name as it is; a folder of files as its absolute path, so the run loads from anywhere."""
    if str(dataset) in {spec.name for spec in list_specs()}:
        return str(dataset)
    path = Path(dataset)
    return str(path.resolve()) if path.exists() else str(dataset)
