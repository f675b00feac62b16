"""The collaborative KG's relation-id conventions, in one place (no torch: rules files and the report use them too).

Relation ids: ``0`` = ``interact`` (user -> item), ``1..R`` = the dataset's KG relations, then the inverses
in the same order: ``R+1`` = ``interact⁻¹`` and ``R+1+r`` = inverse of ``r``; ``inverse(r) = (r + R + 1) mod
2(R+1)``. :class:`~kgrec.data.graph.CollaborativeKG` has these methods; :class:`RelationNames` gives them to
a bare list of relation names (a rules file's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

INTERACT = "interact"
INVERSE_SUFFIX = "⁻¹"
INTERACT_ID = 0

Ids = TypeVar("Ids")  # an int, a NumPy array or a torch tensor of relation ids


class RelationIds:
    """The relation-id conventions of a graph whose ``relation_names`` are ``[interact, r1 … rR, interact⁻¹,
    r1⁻¹ … rR⁻¹]``. The id methods accept an int, a NumPy array or a torch tensor of ids."""

    relation_names: tuple[str, ...]

    @property
    def num_relations(self) -> int:
        """All relation ids, inverses included: 2 × (KG relations + 1)."""
        return len(self.relation_names)

    @property
    def num_forward_relations(self) -> int:
        """Relation ids that are not inverses: ``interact`` and the KG relations (R + 1)."""
        return self.num_relations // 2

    @property
    def interact(self) -> int:
        """The id of ``interact`` (user -> item)."""
        return INTERACT_ID

    @property
    def interact_inverse(self) -> int:
        """The id of ``interact⁻¹`` (item -> user)."""
        return self.inverse(INTERACT_ID)

    def inverse(self, relation: Ids) -> Ids:
        """The id of the inverse of ``relation``."""
        return (relation + self.num_forward_relations) % self.num_relations

    def forward(self, relation: Ids) -> Ids:
        """The forward id of ``relation``: r and its inverse are one relation."""
        return relation % self.num_forward_relations

    def is_interact(self, relation: Ids) -> Any:
        """Whether ``relation`` is ``interact`` or its inverse (elementwise for arrays and tensors)."""
        return (relation == INTERACT_ID) | (relation == self.interact_inverse)

    def kg_relations(self) -> list[int]:
        """The relation ids a rule pattern may use: every relation and inverse except ``interact`` / ``interact⁻¹``."""
        return [r for r in range(self.num_relations) if not self.is_interact(r)]

    def relation_display_name(self, raw: str) -> str:
        """The dataset's readable name of the raw relation ``raw`` ("related to (wiki link)" for
        ``related_to_wikipage``), or "" when none is known (a bare list of names knows none)."""
        return ""


class RelationNames(RelationIds):
    """The conventions over a plain sequence of relation names (e.g. a rules file's)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.relation_names = tuple(names)
