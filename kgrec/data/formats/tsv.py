"""Generic delimited files: a directory with conventional file names, or one interactions file.

Each file is ``<role>.tsv`` (tab-separated) or ``<role>.csv`` (comma-separated, CSV quoting allowed):

* ``interactions`` -- header required, naming ``user``, ``item`` and optionally ``rating`` / ``timestamp``
  in any order (case-insensitive). Ids are strings; ratings must be finite numbers; timestamps integers
  (a fractional timestamp is floored). Positives: rows with ``rating >= threshold``; the default threshold
  for this format is 0 (every row is a positive); without a rating column every row is a positive.
* ``triples`` (``head relation tail``), ``links`` (``item entity``), ``item_names`` and ``entity_names``
  (``id name``) -- header optional: the first row is skipped only if it is exactly those column names.
  Every linked entity must occur in the triples. **Without a links file, every item whose raw id is also
  a KG entity is linked to that entity** (the KGAT / KGCN convention of shared ids). These files need not
  agree with the interactions: a link or a name of an id that is not an item is ignored, an item without a
  link is unlinked and one without a name is shown by its id.
* ``train``, ``valid`` (optional), ``test`` -- a predefined split, same columns as ``interactions``. When
  train and test exist the interactions are their union (in that order) and ``interactions`` is not read;
  valid and test may be header-only.

Every item is kept, linked or not (``keep_unlinked_items`` applies to registered datasets only).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from kgrec.data.dataset import RecDataset
from kgrec.data.formats.common import (
    identity_links,
    positives_note,
    read_header,
    read_positives,
    require_known,
    require_single_entity,
    typed_interactions,
)
from kgrec.data.options import DataConfig
from kgrec.data.readers import LINE_COLUMN, read_table, require_nonempty
from kgrec.errors import DatasetError

SEPARATORS = {".tsv": "\t", ".csv": ","}
INTERACTION_COLUMNS = ("user", "item", "rating", "timestamp")
EXPECTED_HEADER = "user, item, rating (optional), timestamp (optional), in any order"


@dataclass(frozen=True)
class TsvFiles:
    """The files of a delimited dataset; ``interactions`` may be None when ``train`` and ``test`` are given."""

    interactions: Path | None
    triples: Path | None = None
    links: Path | None = None
    item_names: Path | None = None
    entity_names: Path | None = None
    train: Path | None = None
    valid: Path | None = None
    test: Path | None = None

    @classmethod
    def discover(cls, directory: Path) -> TsvFiles:
        """Find ``<role>.tsv`` / ``<role>.csv`` for every role; both extensions for one role is an error."""
        directory = Path(directory)
        if not directory.is_dir():
            raise DatasetError("expected a directory of .tsv / .csv files", directory)
        files = cls(**{f.name: _find(directory, f.name) for f in fields(cls)})
        if files.interactions is None and not (files.train or files.valid or files.test):
            missing = directory / "interactions.tsv"
            raise DatasetError("file not found (nor interactions.csv, nor train and test files)", missing)
        return files


def _find(directory: Path, role: str) -> Path | None:
    """``<role>.tsv`` or ``<role>.csv`` in ``directory`` (None if neither; both is ambiguous, an error)."""
    found = [directory / f"{role}{ext}" for ext in SEPARATORS if (directory / f"{role}{ext}").is_file()]
    if len(found) > 1:
        raise DatasetError(f"{found[0].name} exists too; keep only one of the two", found[1])
    return found[0] if found else None


def _dialect(path: Path) -> tuple[str, bool]:
    """(separator, CSV quoting) from the extension: .tsv is tab-separated, .csv comma-separated and quoted."""
    sep = SEPARATORS.get(path.suffix.lower())
    if sep is None:
        raise DatasetError(f"unknown extension {path.suffix!r}; expected .tsv (tab) or .csv (comma)", path)
    return sep, sep == ","


def read_interactions(path: Path, allow_empty: bool = False) -> pd.DataFrame:
    """An interactions file with a header naming its columns; unknown or missing columns are errors at line 1."""
    sep, quoted = _dialect(path)
    header = [name.lower() for name in read_header(path, sep, quoted)]
    unknown = [name for name in header if name not in INTERACTION_COLUMNS]
    if len(set(header)) < len(header):
        raise DatasetError(f"the header repeats a column name ({', '.join(header)})", path, 1)
    if unknown:
        raise DatasetError(f"unknown column {unknown[0]!r} in the header; expected columns {EXPECTED_HEADER}", path, 1)
    missing = [name for name in ("user", "item") if name not in header]
    if missing:
        raise DatasetError(f"the header has no {missing[0]!r} column; expected columns {EXPECTED_HEADER}", path, 1)
    frame = read_table(path, header, sep=sep, header=True, quoted=quoted, allow_empty=allow_empty)
    return typed_interactions(frame, path, {name: name for name in header})


def read_columns(path: Path, columns: list[str], required: list[str]) -> pd.DataFrame:
    """A file of ``columns`` whose first row is skipped only if it is exactly the column names; values stripped."""
    sep, quoted = _dialect(path)
    frame = read_table(path, columns, sep=sep, quoted=quoted)
    for column in columns:
        frame[column] = frame[column].str.strip()
    first = frame.iloc[0]
    if first[LINE_COLUMN] == 1 and [str(first[c]).lower() for c in columns] == columns:
        frame = frame.iloc[1:]
        if frame.empty:
            raise DatasetError(f"file has a header but no data rows; expected {', '.join(columns)}", path, 2)
    require_nonempty(frame, required, path)
    return frame


def _names(path: Path | None) -> dict[str, str]:
    """id -> display name from an optional ``id name`` file."""
    if path is None:
        return {}
    names = read_columns(path, ["id", "name"], ["id"])
    return dict(zip(names["id"], names["name"]))


def load_files(files: TsvFiles, config: DataConfig, name: str) -> RecDataset:
    """Build a dataset named ``name`` from explicitly named files (see the module docstring for the rules)."""
    threshold = config.threshold or 0.0
    parts = [files.train, files.valid, files.test]
    interactions, labels = read_positives(files.interactions, parts, read_interactions, threshold)
    triples = pd.DataFrame(columns=["head", "relation", "tail"], dtype=object)
    if files.triples is not None:
        triples = read_columns(files.triples, ["head", "relation", "tail"], ["head", "relation", "tail"])
    if files.links is not None:
        links = read_columns(files.links, ["item", "entity"], ["item", "entity"])
        entities = set(triples["head"]) | set(triples["tail"])
        require_known(links, "entity", entities, files.links, "an entity of the knowledge graph (triples file)")
        require_single_entity(links, files.links)
    else:
        links = identity_links(interactions["item"], triples)
    return RecDataset.from_frames(
        name,
        interactions.drop(columns=[LINE_COLUMN]),
        triples[["head", "relation", "tail"]],
        links[["item", "entity"]],
        item_names=_names(files.item_names),
        entity_names=_names(files.entity_names),
        split_labels=labels,
        info={
            "format": "tsv",
            "positives": positives_note(interactions, threshold),
            "threshold": threshold,
            "links": "links file" if files.links is not None else "items whose id is a KG entity",
        },
    )


def load(path: Path, config: DataConfig) -> RecDataset:
    """Load a directory of conventional files (named after the directory) or one interactions file (its stem)."""
    path = Path(path)
    if path.is_dir():
        return load_files(TsvFiles.discover(path), config, path.resolve().name)
    if path.is_file():
        return load_files(TsvFiles(path), config, path.stem)
    raise DatasetError("no such file or directory", path)
