"""The bounds of the service's query parameters and the ``remove`` syntax of the counterfactual endpoint.

``remove`` is a repeatable query parameter; each value names what to leave out of the model's propagation:

- ``history:<item>`` — every edge between the user and that item of their training history (raw id or name);
- ``relation:<name>`` — every edge of that relation and of its inverse (``has_genre`` or ``has_genre⁻¹``);
- ``path:<k>`` — every edge of path ``k`` of the item's explanation (0-based, the index of ``paths`` that
  ``told`` and ``chosen`` use in the recommendations endpoint's answer);
- ``told`` — every edge of the explanation's told paths (what the deletion test deletes);
- ``edge:<a>-<b>`` — the edges between CKG nodes ``a`` and ``b`` (the ids in a path's ``nodes``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kgrec.errors import KgrecError

MAX_K = 1000  # longest recommendation list (also at most the number of items)
MIN_PATH_LEN, MAX_PATH_LEN = 2, 6  # path lengths in edges, as explain.max_len allows (2: user → liked item → item)
MAX_TOP = 1000  # most paths or rules in one answer
MAX_REMOVALS = 50  # most ``remove`` entries in one counterfactual
MAX_URL = 4096  # longest path + query string, in bytes

KINDS = ("history", "relation", "path", "told", "edge")


class ParameterError(KgrecError):
    """A query parameter's value is outside what the endpoint accepts; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True)
class Removal:
    """One parsed ``remove`` entry: its ``kind`` (one of :data:`KINDS`) and ``value`` ("" for ``told``)."""

    kind: str
    value: str

    @property
    def entry(self) -> str:
        """The entry as written back: ``kind:value`` (``told`` alone)."""
        return f"{self.kind}:{self.value}" if self.kind != "told" else "told"


def parse_removal(text: str) -> Removal:
    """One ``remove`` value as a :class:`Removal`; ParameterError naming it and the accepted forms otherwise."""
    kind, colon, value = text.partition(":")
    kind, value = kind.strip(), value.strip()
    if kind == "told" and not value:
        return Removal("told", "")
    if kind not in KINDS or kind == "told" or not colon or not value:
        raise ParameterError("remove", f"expected history:<item>, relation:<name>, path:<k>, told or edge:<node>-<node>, got {text!r}")
    if kind == "path":
        index_of(value, text)
    if kind == "edge":
        edge_nodes(value, text)
    return Removal(kind, value)


def index_of(value: str, text: str) -> int:
    """The path index of ``path:<k>``: a non-negative integer."""
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        raise ParameterError("remove", f"path:<k> needs a path index 0, 1, 2, ..., got {text!r}")
    return int(value)


def edge_nodes(value: str, text: str) -> tuple[int, int]:
    """The two node ids of ``edge:<a>-<b>``: non-negative integers."""
    a, dash, b = value.partition("-")
    if not dash or not all(n.isascii() and n.isdigit() and len(n) <= 12 for n in (a, b)):
        raise ParameterError("remove", f"edge:<a>-<b> needs two node ids such as edge:81-510, got {text!r}")
    return int(a), int(b)
