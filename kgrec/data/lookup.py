"""Find a user or item from what a person types: a raw id or a display name, with close-match hints."""

from __future__ import annotations

import difflib

import numpy as np

from kgrec.data.dataset import IdMap
from kgrec.errors import UnknownIdError


def resolve(ids: IdMap, query: str | int, error: type[UnknownIdError] = UnknownIdError) -> int:
    """The contiguous id of ``query``: first as a raw id, then as a display name (case-insensitive).

    Raises ``error`` naming the query and suggesting up to three close raw ids or names.
    """
    text = str(query).strip()
    position = int(ids.lookup([text])[0])
    if position >= 0:
        return position
    names = np.char.lower(ids.names.astype(str))
    matches = np.flatnonzero(names == text.lower()) if text else np.array([], dtype=np.int64)
    if len(matches):
        return int(matches[0])
    candidates = list(dict.fromkeys([str(r) for r in ids.raw_ids] + [str(n) for n in ids.names if n]))  # each once
    close = difflib.get_close_matches(text, candidates, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    message = f"unknown {ids.kind} {text!r}: not a raw {ids.kind} id or name of this dataset ({len(ids)} {ids.kind}s){hint}"
    raise error(message, query=text, matches=tuple(close))
