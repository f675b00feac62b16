"""Configuration: frozen dataclasses per stage, built from YAML or dicts with every key and type checked."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from kgrec.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class DataConfig:
    """Which dataset to load and how to turn its raw files into positives.

    ``name`` is a registered dataset (``kgrec data list``) or, with ``format``, a path to a user's files.
    ``threshold`` = None takes the dataset's default; 0 keeps every rating as a positive.
    """

    name: str = "lastfm-kgcn"
    format: str | None = None
    threshold: float | None = None
    keep_unlinked_items: bool = False
    min_user_interactions: int = 0
    min_item_interactions: int = 0
    iterative_filter: bool = False
    download: bool = True
    verify_checksums: bool = True


@dataclass(frozen=True)
class SplitConfig:
    """How interactions are divided into train / valid / test.

    ``scheme``: ``ratio`` (per user), ``loo`` (leave-one-out), ``temporal`` (global time cut) or
    ``predefined`` (the dataset's own split, or the TSV files in ``split_dir``).
    """

    scheme: str = "ratio"
    ratios: tuple[float, float, float] = (0.7, 0.1, 0.2)
    seed: int = 2026
    split_dir: str | None = None


def from_dict(cls: type[T], values: Mapping[str, Any] | None, where: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and values of the wrong type."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    converted = {key: _convert(value, hints[key], f"{where}.{key}") for key, value in values.items()}
    return cls(**converted)


def from_yaml(cls: type[T], path: str | Path, section: str | None = None) -> T:
    """Load ``cls`` from a YAML file (optionally one top-level ``section`` of it)."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if section is not None:
        document = document.get(section) or {}
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path}: expected a mapping of keys to values")
    return from_dict(cls, document, where=f"{path}" + (f":{section}" if section else ""))


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-YAML-serialisable dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{where}: unexpected value {value!r}")
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, where) for v, a in zip(value, args))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value
