"""The small files of a run directory: ``config.yaml`` (with the kgrec version that wrote it) and ``dataset.json``
(the dataset's fingerprint), read and checked without importing torch, so that a mistyped or foreign run is
reported at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from kgrec.atomic import atomic_write_text
from kgrec.config import RunConfig, brief_repr, read_yaml_mapping, run_config_from_dict, run_config_to_dict
from kgrec.data.dataset import RecDataset
from kgrec.errors import IncompatibleRunError, RunError
from kgrec.version import __version__

RUN_CONFIG = "config.yaml"
DATASET_CARD = "dataset.json"


def run_file(run_dir: str | Path, name: str, writer: str) -> Path:
    """``run_dir / name``, checked to exist: RunError naming the directory or the file (``writer`` is the
    command that writes such run directories, for the message)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        reason = "no such run directory" if not run_dir.exists() else "a file, not a run directory"
        raise RunError(f"{run_dir}: {reason}")
    path = run_dir / name
    if not path.is_file():
        raise RunError(f"{path}: file not found; not a run directory written by `{writer}`")
    return path


def write_run_config(run_dir: Path, config: RunConfig) -> None:
    """``config.yaml``: the run's config, headed by the kgrec version that wrote it."""
    document = {"kgrec_version": __version__, **run_config_to_dict(config)}
    atomic_write_text(run_dir / RUN_CONFIG, yaml.safe_dump(document, sort_keys=False))


def saved_run_config(run_dir: str | Path) -> RunConfig:
    """The config saved in a run directory by ``kgrec train`` (or ``kgrec run``), checked to be written by this
    kgrec version: RunError, IncompatibleRunError or ConfigError naming the file otherwise.

    It reads one small file and imports nothing heavy, so a mistyped or foreign run is reported at once."""
    path = run_file(run_dir, RUN_CONFIG, "kgrec train")
    document = dict(read_yaml_mapping(path))
    version = document.pop("kgrec_version", None)
    if version is None:
        hint = " (a `kgrec kge train` run: use `kgrec kge evaluate`)" if "kge" in document else ""
        raise RunError(f"{path}: no kgrec_version; not a run directory written by `kgrec train`{hint}")
    if version != __version__:
        shown = version if isinstance(version, str) else brief_repr(version)
        raise IncompatibleRunError(f"{path}: written by kgrec {shown}, this is kgrec {__version__}; retrain the run")
    return run_config_from_dict(document, str(path))


def dataset_fingerprint(dataset: RecDataset) -> dict[str, Any]:
    """Name and sizes of the dataset a run was trained on, checked again when the run is loaded."""
    stats = dataset.stats()
    keys = ("name", "users", "items", "interactions", "entities", "relations", "triples")
    return {key: getattr(stats, key) for key in keys}


def write_dataset_card(run_dir: Path, dataset: RecDataset) -> None:
    """``dataset.json``: the fingerprint of the dataset the run is trained on."""
    atomic_write_text(run_dir / DATASET_CARD, json.dumps(dataset_fingerprint(dataset), indent=2) + "\n")


def read_dataset_card(path: Path) -> dict[str, Any] | None:
    """The dataset fingerprint saved with a run (None for runs written before cards existed)."""
    if not path.exists():
        return None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunError(f"{path}: cannot read the dataset card ({error})") from None
    if not isinstance(card, dict):
        raise RunError(f"{path}: expected a JSON object with the dataset's name and sizes")
    return card


def check_dataset_card(expected: dict[str, Any], dataset: RecDataset, path: Path) -> None:
    """IncompatibleRunError when the dataset loaded now is not the one the run was trained on."""
    found = dataset_fingerprint(dataset)
    if expected != found:
        differs = next(key for key in {**expected, **found} if expected.get(key) != found.get(key))
        raise IncompatibleRunError(
            f"{path}: the run was trained on {expected.get('name')!r} with {differs} = {expected.get(differs)}, "
            f"but the dataset found now has {found.get(differs)}; a different dataset or version of it"
        )
