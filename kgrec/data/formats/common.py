"""Checks shared by the parsers: rating thresholds and references to ids that must exist."""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import PART_NAMES
from kgrec.data.readers import LINE_COLUMN, parse_floats, parse_ints, read_text, require_nonempty
from kgrec.errors import DatasetError


def keep_positives(frame: pd.DataFrame, threshold: float, path: str | PathLike[str]) -> pd.DataFrame:
    """Rows with ``rating >= threshold`` (all rows when the threshold is 0); an empty result is an error."""
    if threshold <= 0:
        return frame
    kept = frame[frame["rating"] >= threshold]
    if kept.empty:
        top = frame["rating"].max() if len(frame) else float("nan")
        raise DatasetError(
            f"rating threshold {threshold:g} leaves no positive interactions (highest rating is {top:g}); "
            "lower the threshold or use 0 for all ratings",
            path,
        )
    return kept


def require_known(
    frame: pd.DataFrame, column: str, known: Collection[str], path: str | PathLike[str], what: str
) -> None:
    """Every value of ``frame[column]`` must be in ``known``; else a DatasetError at the first offending line."""
    unknown = ~frame[column].isin(known)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DatasetError(
            f"{column} {frame[column].iloc[row]!r} is not {what}", path, int(frame[LINE_COLUMN].iloc[row])
        )


def str_isin(values: pd.Series, allowed: pd.Series | np.ndarray) -> pd.Series:
    """``values.isin(allowed)`` for string ids, on Python strings: pandas' arrow-backed ``isin`` makes an arrow
    scalar of every allowed value, six times slower on lastfm-dbpedia's 18,000 artist ids."""
    return values.astype(object).isin(np.asarray(allowed, dtype=object))


def int_ids(frame: pd.DataFrame, columns: list[str], path: str | PathLike[str]) -> pd.DataFrame:
    """Validate that ``columns`` hold integer ids and normalise them to canonical strings ("007" -> "7")."""
    frame = frame.copy()
    for column in columns:
        frame[column] = parse_ints(frame, column, path, f"{column} id").astype(str)
    return frame


# ---- shared by the generic formats (tsv, kgat, recbole_atomic) -------------------------------------------

PART_COLUMN = "__part__"


def read_header(path: Path, sep: str = "\t", quoted: bool = False) -> list[str]:
    """The stripped column names on a file's first line; an empty, blank or repeated name is an error at line 1.

    Only the first line is decoded, so a large file is not read twice before :func:`read_table`.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.readline()
    except OSError:
        read_text(path)  # raises the matching DatasetError (missing file, directory, unreadable)
        raise
    try:
        first = raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise DatasetError(f"byte 0x{raw[error.start]:02x} is not valid utf-8 text", path, 1) from None
    if not first.strip():
        raise DatasetError("expected a header line naming the columns, found an empty line", path, 1)
    if "\r" in first:
        raise DatasetError("stray carriage return (CR) inside the header line", path, 1)
    try:
        raw_fields = next(csv.reader([first], delimiter=sep, strict=True)) if quoted else first.split(sep)
    except csv.Error as error:
        raise DatasetError(f"malformed CSV header ({error})", path, 1) from None
    fields = [f.strip() for f in raw_fields]
    for position, field in enumerate(fields):
        if not field:
            raise DatasetError(f"header column {position + 1} has no name", path, 1)
        if field in fields[:position]:
            raise DatasetError(f"header names column {field!r} twice", path, 1)
    return fields


def parse_timestamps(frame: pd.DataFrame, column: str, path: str | PathLike[str]) -> np.ndarray:
    """Column as int64: integers exactly, other finite numbers (RecBole's ``float`` type) floored."""
    numbers = parse_floats(frame, column, path, "timestamp")
    huge = np.flatnonzero(np.abs(numbers) >= 2.0**63)
    if len(huge):
        row = int(huge[0])
        raise DatasetError(
            f"timestamp {frame[column].iloc[row].strip()!r} is out of range", path, int(frame[LINE_COLUMN].iloc[row])
        )
    values = frame[column].str.strip()
    integral = values.str.fullmatch(r"[+-]?\d+").to_numpy()
    out = np.floor(numbers).astype(np.int64)
    out[integral] = values[integral].astype(np.int64).to_numpy()
    return out


def typed_interactions(frame: pd.DataFrame, path: str | PathLike[str], columns: Mapping[str, str]) -> pd.DataFrame:
    """kgrec's interaction columns from a file's: stripped non-empty ids, finite ratings, integer timestamps.

    ``columns`` maps ``user``, ``item`` and optionally ``rating`` / ``timestamp`` to the frame's column names.
    """
    require_nonempty(frame, [columns["user"], columns["item"]], path)
    out = pd.DataFrame({"user": frame[columns["user"]].str.strip(), "item": frame[columns["item"]].str.strip()})
    if "rating" in columns:
        out["rating"] = parse_floats(frame, columns["rating"], path, "rating")
    if "timestamp" in columns:
        out["timestamp"] = parse_timestamps(frame, columns["timestamp"], path)
    out[LINE_COLUMN] = frame[LINE_COLUMN].to_numpy()
    return out


def identity_links(items: Iterable[str], triples: pd.DataFrame) -> pd.DataFrame:
    """Link each item whose raw id is also a KG entity to that entity (KGAT / KGCN style: item i is entity i)."""
    entities = set(triples["head"]) | set(triples["tail"])
    linked = [item for item in dict.fromkeys(items) if item in entities]
    return pd.DataFrame({"item": pd.Series(linked, dtype=object), "entity": pd.Series(linked, dtype=object)})


def require_single_entity(links: pd.DataFrame, path: str | PathLike[str], via: str | None = None) -> None:
    """An item may be linked to one entity only; a second, different entity is an error at its line.

    ``via`` names a column of ``links`` through which the item was linked (ml100k: its title); the message
    then gives that column's value on both lines, so the reader sees why the two links differ.
    """
    distinct = links.drop_duplicates(["item", "entity"])
    again = np.flatnonzero(distinct["item"].duplicated().to_numpy())
    if len(again):
        row = distinct.iloc[int(again[0])]
        first = distinct.loc[distinct["item"] == row["item"]].iloc[0]
        how = "" if via is None else f" (through {via} {row[via]!r}; line {int(first[LINE_COLUMN])} has {first[via]!r})"
        raise DatasetError(
            f"item {row['item']!r} is already linked to entity {first['entity']!r}, "
            f"cannot also link it to {row['entity']!r}{how}",
            path,
            int(row[LINE_COLUMN]),
        )


def has_split(parts: Sequence[Path | None]) -> bool:
    """Whether the (train, valid, test) files form a predefined split: train and test are both needed."""
    given = [path for path in parts if path is not None]
    if not given:
        return False
    if parts[0] is not None and parts[2] is not None:
        return True
    missing = " and ".join(name for name, path in zip(PART_NAMES, parts) if path is None and name != "valid")
    raise DatasetError(f"there is no {missing} file beside this one; a predefined split needs train and test", given[0])


def join_parts(parts: Mapping[int, tuple[Path, pd.DataFrame]]) -> pd.DataFrame:
    """Concatenate the train (0), valid (1) and test (2) frames with their label in ``PART_COLUMN``.

    All parts must have the same columns; a (user, item) pair in two parts is an error at its second line.
    """
    train_path, train = parts[0]
    if train.empty:
        raise DatasetError("has no (user, item) pairs; the training part needs at least one", train_path)
    for path, frame in parts.values():
        if list(frame.columns) != list(train.columns):
            names = lambda f: ", ".join(c for c in f.columns if c != LINE_COLUMN)  # noqa: E731
            raise DatasetError(f"has columns ({names(frame)}) but {train_path.name} has ({names(train)})", path, 1)
    joined = pd.concat(
        [frame.assign(**{PART_COLUMN: label}) for label, (_, frame) in sorted(parts.items()) if len(frame)],
        ignore_index=True,
    )
    first = joined.groupby(["user", "item"], sort=False)[PART_COLUMN].transform("first")
    clash = np.flatnonzero((joined[PART_COLUMN] != first).to_numpy())
    if len(clash):
        row = joined.iloc[int(clash[0])]
        earlier = parts[int(first.iloc[int(clash[0])])][0].name
        raise DatasetError(
            f"pair (user {row['user']!r}, item {row['item']!r}) is already in {earlier}; "
            "a pair may be in one part only",
            parts[int(row[PART_COLUMN])][0],
            int(row[LINE_COLUMN]),
        )
    return joined


def split_positives(
    parts: Mapping[int, tuple[Path, pd.DataFrame]], threshold: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """The positives of a predefined split and their labels (0 train, 1 valid, 2 test), checked.

    Checks run on the rows that stay positive: every valid / test user needs a positive training interaction.
    """
    joined = join_parts(parts)
    if "rating" in joined:
        joined = keep_positives(joined, threshold, parts[0][0])
    trained = set(joined.loc[joined[PART_COLUMN] == 0, "user"])
    orphan = np.flatnonzero(~joined["user"].isin(trained).to_numpy())
    if len(orphan):
        row = joined.iloc[int(orphan[0])]
        raise DatasetError(
            f"user {row['user']!r} has no positive interaction in {parts[0][0].name}; "
            "every valid / test user needs one",
            parts[int(row[PART_COLUMN])][0],
            int(row[LINE_COLUMN]),
        )
    labels = joined[PART_COLUMN].to_numpy(dtype=np.int8)
    return joined.drop(columns=[PART_COLUMN]).reset_index(drop=True), labels


def read_positives(
    single: Path | None,
    parts: Sequence[Path | None],
    read: Callable[[Path, bool], pd.DataFrame],
    threshold: float,
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The positives of a generic dataset and their split labels (None without a predefined split).

    With train and test files the interactions are the union of the parts (``single`` is not read); else
    they are the ``single`` file. ``read(path, allow_empty)`` parses one file into interaction columns.
    """
    if has_split(parts):
        frames = {label: (path, read(path, label > 0)) for label, path in enumerate(parts) if path is not None}
        return split_positives(frames, threshold)
    if single is None:
        raise DatasetError("no interactions file given, and no train and test files")
    frame = read(single, False)
    return (keep_positives(frame, threshold, single) if "rating" in frame else frame), None


def positives_note(interactions: pd.DataFrame, threshold: float) -> str:
    """How positives were chosen, for ``RecDataset.info``."""
    return f"rating >= {threshold:g}" if "rating" in interactions and threshold > 0 else "every row"
