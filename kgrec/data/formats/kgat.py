"""KGAT's directory layout (Wang et al., KDD 2019): ``train.txt``, ``test.txt``, ``kg_final.txt`` and id lists.

* ``train.txt`` / ``test.txt`` / optional ``valid.txt``: one line per user, ``user item1 item2 ...``
  (whitespace-separated integers; a user with no items is allowed). They give the predefined split
  (``split_labels``); every valid / test user needs a training item, and a pair may be in one file only.
* ``kg_final.txt``: ``head relation tail`` integers, one triple per line.
* In KGAT item ids ARE entity ids ``0..n_items-1``: every item that occurs as a KG entity is linked to the
  entity with the same id.
* Optional ``user_list.txt``, ``item_list.txt``, ``entity_list.txt``, ``relation_list.txt`` (header
  ``org_id remap_id [...]``): the original ids become display names (relation names for relations), and
  every item of ``item_list.txt`` is part of the item catalogue even without interactions.

Every (user, item) pair is a positive (implicit feedback); there are no ratings or timestamps.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import PART_NAMES, RecDataset
from kgrec.data.formats.common import identity_links, split_positives
from kgrec.data.options import DataConfig
from kgrec.data.readers import LINE_COLUMN, parse_ints, read_text
from kgrec.errors import DatasetError

LISTS = ("user", "item", "entity", "relation")


def read_tokens(path: Path, shape: str, allow_empty: bool = False) -> pd.DataFrame:
    """Whitespace-separated tokens of a text file: columns token, position (in its line) and line number.

    KGAT lines have a variable number of fields, so this replaces the fixed-column ``read_table``.
    """
    lines = pd.Series(re.split(r"\r?\n", read_text(path)), dtype=object)
    lines.index = np.arange(1, len(lines) + 1)
    lines = lines[lines.str.strip() != ""]
    if lines.empty:
        if not allow_empty:
            raise DatasetError(f"file has no data rows; expected {shape}", path, 1)
        return pd.DataFrame({"token": pd.Series(dtype=object), "position": pd.Series(dtype=np.int64),
                             LINE_COLUMN: pd.Series(dtype=np.int64)})
    tokens = lines.str.split().explode()
    frame = pd.DataFrame({"token": tokens.to_numpy(dtype=object), LINE_COLUMN: tokens.index.to_numpy(dtype=np.int64)})
    frame["position"] = frame.groupby(LINE_COLUMN).cumcount()
    return frame


def _ids(tokens: pd.DataFrame, path: Path, what: str) -> pd.DataFrame:
    """Tokens checked to be integers (DatasetError at the first bad line) and normalised ("007" -> "7")."""
    return tokens.assign(token=parse_ints(tokens, "token", path, what).astype(str))


def read_user_items(path: Path, allow_empty: bool = False) -> pd.DataFrame:
    """``user item1 item2 ...`` lines as (user, item) rows with their line numbers."""
    tokens = _ids(read_tokens(path, "lines 'user item1 item2 ...'", allow_empty), path, "user or item id")
    users = tokens[tokens["position"] == 0].set_index(LINE_COLUMN)["token"]
    items = tokens[tokens["position"] > 0]
    return pd.DataFrame(
        {"user": items[LINE_COLUMN].map(users).to_numpy(), "item": items["token"].to_numpy(),
         LINE_COLUMN: items[LINE_COLUMN].to_numpy()}
    )


def read_kg(path: Path) -> pd.DataFrame:
    """``head relation tail`` integer lines; a line with another number of fields is an error."""
    shape = "3 whitespace-separated integers (head relation tail)"
    tokens = read_tokens(path, shape)
    counts = tokens.groupby(LINE_COLUMN).size()
    bad = counts[counts != 3]
    if not bad.empty:
        raise DatasetError(f"found {int(bad.iloc[0])} field(s), expected {shape}", path, int(bad.index[0]))
    ids = _ids(tokens, path, "entity or relation id")["token"].to_numpy().reshape(-1, 3)
    return pd.DataFrame(ids, columns=["head", "relation", "tail"])


def read_list(path: Path) -> dict[str, str]:
    """An ``org_id remap_id [...]`` file (header optional): remap id -> original id (the display name)."""
    shape = "at least 2 whitespace-separated fields (org_id remap_id)"
    tokens = read_tokens(path, shape)
    if tokens["token"].iloc[0] == "org_id":
        tokens = tokens[tokens[LINE_COLUMN] != tokens[LINE_COLUMN].iloc[0]]
    counts = tokens.groupby(LINE_COLUMN).size()
    bad = counts[counts < 2]
    if not bad.empty:
        raise DatasetError(f"found {int(bad.iloc[0])} field(s), expected {shape}", path, int(bad.index[0]))
    original = tokens[tokens["position"] == 0]
    remap = _ids(tokens[tokens["position"] == 1], path, "remap_id")
    return dict(zip(remap["token"], original["token"]))


def load(path: Path, config: DataConfig) -> RecDataset:
    """Read a KGAT directory; the dataset is named after it. ``config.threshold`` has no effect (no ratings)."""
    directory = Path(path)
    if not directory.is_dir():
        raise DatasetError("expected a KGAT directory (train.txt, test.txt, kg_final.txt)", directory)
    parts = {
        label: (file, read_user_items(file, allow_empty=label > 0))
        for label, name in enumerate(PART_NAMES)
        if (file := directory / f"{name}.txt").exists() or name != "valid"
    }
    interactions, labels = split_positives(parts, 0.0)
    triples = read_kg(directory / "kg_final.txt")
    names = {kind: read_list(file) if (file := directory / f"{kind}_list.txt").exists() else {} for kind in LISTS}
    catalogue = list(names["item"])
    return RecDataset.from_frames(
        directory.resolve().name,
        interactions[["user", "item"]],
        triples,
        identity_links(catalogue + interactions["item"].tolist(), triples),
        item_catalogue=catalogue,
        user_names=names["user"],
        item_names=names["item"],
        entity_names=names["entity"],
        relation_names=names["relation"],
        split_labels=labels,
        info={"format": "kgat", "positives": "every (user, item) pair", "links": "item i is entity i"},
    )
