"""``load_dataset``: a registered name or a path in a generic format -> a filtered RecDataset."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kgrec.data.dataset import RecDataset
from kgrec.data.formats import kgat, recbole_atomic, tsv
from kgrec.data.options import DataConfig
from kgrec.data.registry import get_spec, list_specs
from kgrec.data.sources import locate_dataset
from kgrec.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

PathLoader = Callable[[Path, DataConfig], RecDataset]


def generic_formats() -> dict[str, PathLoader]:
    """Formats a user can bring: name -> parser of a file or directory."""
    return {"tsv": tsv.load, "kgat": kgat.load, "recbole": recbole_atomic.load}


def detect_format(path: Path) -> str:
    """Guess a generic format from a directory's files (RecBole ``.inter``, KGAT ``kg_final.txt``, else tsv)."""
    if path.is_dir():
        if any(path.glob("*.inter")):
            return "recbole"
        if (path / "kg_final.txt").exists():
            return "kgat"
    return "tsv"


def load_dataset(name: str | Path | DataConfig = "lastfm-kgcn", **options: Any) -> RecDataset:
    """Load a registered dataset by name, or a user's files by path, then apply the configured filters.

    >>> dataset = load_dataset("lastfm-kgcn")
    >>> dataset.stats().interactions
    21173
    >>> ml = load_dataset("ml100k", threshold=0)
    """
    config = name if isinstance(name, DataConfig) else DataConfig(name=str(name))
    if options:
        try:
            config = dataclasses.replace(config, **options)
        except TypeError:
            valid = ", ".join(f.name for f in dataclasses.fields(DataConfig))
            raise ConfigError(f"unknown dataset option in {sorted(options)}; valid options: {valid}") from None
    dataset = _read(config)
    if config.min_user_interactions or config.min_item_interactions:
        dataset = dataset.filter(config.min_user_interactions, config.min_item_interactions, config.iterative_filter)
    if len(dataset.interactions) == 0:
        raise DatasetError(f"dataset {config.name!r} has no interactions left after filtering")
    return dataset


def _read(config: DataConfig) -> RecDataset:
    registered = {spec.name for spec in list_specs()}
    if config.format is not None or (config.name not in registered and Path(config.name).exists()):
        formats = generic_formats()
        path = Path(config.name)
        name = config.format or detect_format(path)
        if name not in formats:
            raise ConfigError(f"unknown format {name!r}; formats: {', '.join(formats)}")
        if not path.exists():
            raise DatasetError("no such file or directory", path)
        return formats[name](path, config)
    spec = get_spec(config.name)
    dirs = {
        source.folder: locate_dataset(
            source.folder, source.files, download=config.download, verify_checksums=config.verify_checksums
        )
        for source in spec.sources
    }
    log.info("loading %s from %s", spec.name, ", ".join(str(d) for d in dirs.values()))
    dataset = spec.loader(dirs, config)
    return dataclasses.replace(dataset, info={**dataset.info, "source": "; ".join(str(d) for d in dirs.values())})
