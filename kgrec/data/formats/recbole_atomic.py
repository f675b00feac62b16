"""RecBole atomic files (``<name>.inter`` / ``.kg`` / ``.link`` / ``.item``), and export to them.

* Every file is tab-separated with a ``field:type`` header (types token, token_seq, float, float_seq).
* ``.inter``: the user field (``user_id`` or ``uid``) and item field (``item_id``, ``business_id``,
  ``artist_id``, ``track_id``, ``book_id`` or ``movie_id``) are required; ``rating`` / ``stars`` / ``score`` and
  ``timestamp`` / ``date`` are used when present (a fractional timestamp is floored); other fields are
  ignored. Positives: ``rating >= threshold``, default threshold 0 (every row).
* ``.kg`` (``head_id relation_id tail_id``) and ``.link`` (``item_id entity_id``) are optional. A linked
  entity need not occur in ``.kg`` (as in RecBole, the link file declares it); a link of an id that is
  neither in ``.inter`` nor in ``.item`` is ignored (its entity is still an entity).
* ``.item``: every item listed is part of the item catalogue, even without interactions; its name is the
  first of the fields ``name``, ``title``, ``movie_title`` of type token or token_seq.
* ``.ent`` (kgrec's extension, ignored by RecBole): ``entity_id:token name:token_seq`` entity names.
* ``<name>.train.inter`` / ``.valid.inter`` / ``.test.inter`` (RecBole's ``benchmark_filename``): a
  predefined split; when train and test exist, the interactions are their union and ``<name>.inter`` is
  not read.

``<name>`` is the directory name, else the stem of the directory's only dataset of ``.inter`` files; it is
also the dataset name. :func:`export` writes all of these so that loading them back gives the same stats,
raw ids, item / entity names and split. Not exported: user and relation names, users without interactions,
entities in neither a triple nor a link. Tabs and line breaks inside names become spaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.atomic import atomic_directory
from kgrec.data.dataset import PART_NAMES, IdMap, RecDataset
from kgrec.data.formats.common import (
    positives_note,
    read_header,
    read_positives,
    require_single_entity,
    typed_interactions,
)
from kgrec.data.options import DataConfig
from kgrec.data.readers import LINE_COLUMN, read_table, require_nonempty
from kgrec.errors import DatasetError

TYPES = ("token", "token_seq", "float", "float_seq")
USER_FIELDS = ("user_id", "uid")
ITEM_FIELDS = ("item_id", "business_id", "artist_id", "track_id", "book_id", "movie_id")
RATING_FIELDS = ("rating", "stars", "score")
TIME_FIELDS = ("timestamp", "date")
NAME_FIELDS = ("name", "title", "movie_title")
SPLIT_SUFFIX = re.compile(r"\.(train|valid|test)$")


def read_atomic(path: Path, allow_empty: bool = False) -> tuple[dict[str, str], pd.DataFrame]:
    """An atomic file: (field -> type, the rows as strings in columns named by field)."""
    types: dict[str, str] = {}
    for token in read_header(path):
        field, colon, kind = (part.strip() for part in token.partition(":"))
        if not colon or not field:
            raise DatasetError(f"header field {token!r} is not 'name:type' (e.g. 'user_id:token')", path, 1)
        if kind not in TYPES:
            raise DatasetError(f"header field {token!r} has unknown type {kind!r}; types: {', '.join(TYPES)}", path, 1)
        if field in types:
            raise DatasetError(f"header names field {field!r} twice", path, 1)
        types[field] = kind
    return types, read_table(path, list(types), header=True, allow_empty=allow_empty)


def pick_field(
    types: Mapping[str, str], aliases: Sequence[str], path: Path, required: bool = True, kinds: Sequence[str] = TYPES
) -> str | None:
    """The first of ``aliases`` among the header's fields (of one of ``kinds``); missing + required is an error."""
    found = next((alias for alias in aliases if types.get(alias) in kinds), None)
    if found is None and required:
        raise DatasetError(f"the header has no field {' / '.join(aliases)}", path, 1)
    return found


def read_inter(path: Path, allow_empty: bool = False) -> pd.DataFrame:
    """A ``.inter`` file as user, item, [rating], [timestamp] columns."""
    types, frame = read_atomic(path, allow_empty)
    columns = {"user": pick_field(types, USER_FIELDS, path), "item": pick_field(types, ITEM_FIELDS, path)}
    for key, aliases in (("rating", RATING_FIELDS), ("timestamp", TIME_FIELDS)):
        if (field := pick_field(types, aliases, path, required=False)) is not None:
            columns[key] = field
    return typed_interactions(frame, path, columns)  # type: ignore[arg-type]


def read_ids(path: Path, columns: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Required id fields (kgrec name -> accepted field names) as stripped, non-empty string columns."""
    types, frame = read_atomic(path)
    fields = {key: pick_field(types, aliases, path) for key, aliases in columns.items()}
    require_nonempty(frame, list(fields.values()), path)  # type: ignore[arg-type]
    out = pd.DataFrame({key: frame[field].str.strip() for key, field in fields.items()})
    out[LINE_COLUMN] = frame[LINE_COLUMN]
    return out


def read_names(path: Path, id_fields: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(every id listed, id -> name) of an ``.item`` / ``.ent`` file; names taken verbatim."""
    types, frame = read_atomic(path)
    id_field = pick_field(types, id_fields, path)
    name_field = pick_field(types, NAME_FIELDS, path, required=False, kinds=("token", "token_seq"))
    require_nonempty(frame, [id_field], path)  # type: ignore[list-item]
    ids = frame[id_field].str.strip().tolist()
    return ids, dict(zip(ids, frame[name_field])) if name_field else {}


def locate(path: Path) -> tuple[Path, str]:
    """The directory and ``<name>`` of an atomic dataset given its directory or one of its ``.inter`` files."""
    path = Path(path)
    if path.is_file():
        return path.parent, SPLIT_SUFFIX.sub("", path.name.removesuffix(".inter"))
    if not path.is_dir():
        raise DatasetError("no such file or directory", path)
    names = sorted({SPLIT_SUFFIX.sub("", inter.stem) for inter in path.glob("*.inter")})
    directory_name = path.resolve().name
    if directory_name in names or not names:
        return path, directory_name  # without any .inter file, reading <name>.inter reports it missing
    if len(names) == 1:
        return path, names[0]
    raise DatasetError(f"found several datasets ({', '.join(names)}); pass the .inter file of one", path)


def load(path: Path, config: DataConfig) -> RecDataset:
    """Load ``<name>.*`` atomic files from a directory (or the directory of a given ``.inter`` file)."""
    directory, name = locate(path)
    optional = {ext: file if (file := directory / f"{name}{ext}").is_file() else None
                for ext in (".kg", ".link", ".item", ".ent", *(f".{part}.inter" for part in PART_NAMES))}
    threshold = config.threshold or 0.0
    parts = [optional[f".{part}.inter"] for part in PART_NAMES]
    interactions, labels = read_positives(directory / f"{name}.inter", parts, read_inter, threshold)
    triples = pd.DataFrame(columns=["head", "relation", "tail"], dtype=object)
    if optional[".kg"]:
        triples = read_ids(optional[".kg"], {"head": ["head_id"], "relation": ["relation_id"], "tail": ["tail_id"]})
    links = pd.DataFrame(columns=["item", "entity"], dtype=object)
    if optional[".link"]:
        links = read_ids(optional[".link"], {"item": ITEM_FIELDS, "entity": ["entity_id"]})
        require_single_entity(links, optional[".link"])
    catalogue, item_names = read_names(optional[".item"], ITEM_FIELDS) if optional[".item"] else ([], {})
    entity_names = read_names(optional[".ent"], ["entity_id"])[1] if optional[".ent"] else {}
    return RecDataset.from_frames(
        name,
        interactions.drop(columns=[LINE_COLUMN]),
        triples[["head", "relation", "tail"]],
        links[["item", "entity"]],
        item_catalogue=catalogue,
        item_names=item_names,
        entity_names=entity_names,
        split_labels=labels,
        info={"format": "recbole", "positives": positives_note(interactions, threshold), "threshold": threshold},
    )


# ---- export --------------------------------------------------------------------------------------------------
Table = dict[str, np.ndarray | list[str]]


def _raw(ids: IdMap) -> np.ndarray:
    """Raw ids to write; one that would not survive a tab-separated file is an error."""
    raw = pd.Series(ids.raw_ids, dtype=object).astype(str)
    bad = (raw == "") | (raw != raw.str.strip()) | raw.str.contains(r"[\t\r\n]")
    if bad.any():
        raise DatasetError(f"cannot export {ids.kind} id {raw[bad].iloc[0]!r}: ids must be non-empty, without tabs, "
                           "line breaks or surrounding spaces")
    return raw.to_numpy(dtype=object)


def _names(names: np.ndarray) -> list[str]:
    """Display names with tabs and line breaks replaced by spaces (they would break the table)."""
    return [re.sub(r"[\t\r\n]", " ", str(name)) for name in names]


def tables(dataset: RecDataset, name: str) -> dict[str, Table]:
    """File name -> header field -> column of strings, for every atomic file that ``dataset`` needs."""
    users, items, entities, relations = map(_raw, (dataset.users, dataset.items, dataset.entities, dataset.relations))
    inter = dataset.interactions
    rows: Table = {"user_id:token": users[inter.user], "item_id:token": items[inter.item]}
    if inter.rating is not None:
        rows["rating:float"] = np.array([repr(float(r)) for r in inter.rating], dtype=object)  # shortest exact form
    if inter.timestamp is not None:
        rows["timestamp:float"] = np.array([str(int(t)) for t in inter.timestamp], dtype=object)
    out: dict[str, Table] = {f"{name}.inter": rows}
    if dataset.split_labels is not None:
        for label, part in enumerate(PART_NAMES):
            in_part = dataset.split_labels == label
            out[f"{name}.{part}.inter"] = {k: np.asarray(v)[in_part] for k, v in rows.items()}
    if len(dataset.triples):
        head, relation, tail = dataset.triples.T
        out[f"{name}.kg"] = {"head_id:token": entities[head], "relation_id:token": relations[relation],
                             "tail_id:token": entities[tail]}
    linked = np.flatnonzero(dataset.item_entity >= 0)
    if len(linked):
        out[f"{name}.link"] = {"item_id:token": items[linked], "entity_id:token": entities[dataset.item_entity[linked]]}
    out[f"{name}.item"] = {"item_id:token": items}  # every item, so catalogue items without interactions survive
    if dataset.items.has_names:
        out[f"{name}.item"]["name:token_seq"] = _names(dataset.items.names)
    if dataset.entities.has_names:
        named = np.flatnonzero(dataset.entities.names != "")
        out[f"{name}.ent"] = {
            "entity_id:token": entities[named], "name:token_seq": _names(dataset.entities.names[named])
        }
    return out


def export(dataset: RecDataset, out_dir: Path, name: str | None = None) -> Path:
    """Write ``dataset`` as atomic files ``<name>.*`` (default: the dataset name) into ``out_dir``.

    The directory is replaced atomically: it holds either the old content or every new file, never a part.
    """
    out_dir = Path(out_dir)
    files = tables(dataset, name or dataset.name)
    with atomic_directory(out_dir) as tmp:
        for file_name, columns in files.items():
            lines = ["\t".join(columns), *("\t".join(row) for row in zip(*columns.values()))]
            (tmp / file_name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out_dir
