"""The data of an explanation: paths, rules and the explanation itself, serialisable to JSON.

Everything is in the collaborative KG's id space (node ids, relation ids, item ids); names are added by
the renderers (:mod:`kgrec.explain.render`), never stored here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The relation and entity analyses of :mod:`kgrec.explain.association`, and the folder of a run directory
#: they are written to (``<kind>.json``, ``<kind>.png``); the report reads it without importing torch.
KINDS = ("relations", "entities")
INSPECT_DIR = "inspect"


@dataclass(frozen=True)
class Path:
    """A walk user → … → item in the CKG: ``nodes`` (len L+1), ``relations`` (len L), model ``weight``.

    ``weight`` is the product of the model's propagation weights along the edges: in a linear
    propagation a walk carries its source embedding into the target scaled by exactly that product.
    """

    nodes: tuple[int, ...]
    relations: tuple[int, ...]
    weight: float

    def __post_init__(self) -> None:
        if len(self.nodes) != len(self.relations) + 1:
            raise ValueError(f"a path of {len(self.relations)} relations needs {len(self.relations) + 1} nodes, got {len(self.nodes)}")

    @property
    def length(self) -> int:
        return len(self.relations)

    @property
    def kg_pattern(self) -> tuple[int, ...]:
        """The relations after the first (interact) edge: the pattern a rule over items would match."""
        return self.relations[1:]

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": list(self.nodes), "relations": list(self.relations), "weight": self.weight}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Path:
        return cls(tuple(int(n) for n in values["nodes"]), tuple(int(r) for r in values["relations"]), float(values["weight"]))


@dataclass(frozen=True)
class Rule:
    """"Users who liked j also like i when j and i are connected by ``pattern``" with AMIE's measures.

    ``pattern``: KG relation ids (inverses included) from j to i. ``connected``: ordered item pairs (j ≠ i)
    linked by the pattern; ``support``: those co-liked in training; ``confidence`` = support / connected;
    ``head_coverage`` = support / all co-liked pairs; ``lift`` = confidence / base co-like rate.
    ``test_precision``: share of the rule's predictions that are test positives (None until measured).
    """

    pattern: tuple[int, ...]
    support: int
    connected: int
    confidence: float
    head_coverage: float
    lift: float
    test_precision: float | None = None

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["pattern"] = list(self.pattern)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Rule:
        values = dict(values)
        values["pattern"] = tuple(int(r) for r in values["pattern"])
        return cls(**values)


@dataclass(frozen=True)
class Explanation:
    """Why ``item`` is recommended to ``user``: its top ``paths`` and the ``rule`` the chosen path instantiates.

    ``user`` / ``item`` are dataset ids; ``rank`` is 1-based; ``chosen`` indexes the path the text tells
    (None when the item has no path); ``rule`` is None when no mined rule applies; ``fallback`` marks a
    popularity recommendation for a user without training history. ``method`` names what produced the
    explanation: ``paths`` (the path/rule explainer) or a sensitivity method of
    :mod:`kgrec.explain.sensitivity` (``saliency``, ``ig``, ``gnnexplainer``, ``attention``, ``random``),
    whose raw edge scores are in ``extra["edge_scores"]``.
    """

    user: int
    item: int
    score: float
    rank: int
    paths: tuple[Path, ...] = ()
    chosen: int | None = None
    rule: Rule | None = None
    text: str = ""
    fallback: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    method: str = "paths"

    @property
    def path(self) -> Path | None:
        """The path the explanation is about."""
        return None if self.chosen is None else self.paths[self.chosen]

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "item": self.item,
            "score": self.score,
            "rank": self.rank,
            "paths": [p.to_dict() for p in self.paths],
            "chosen": self.chosen,
            "rule": None if self.rule is None else self.rule.to_dict(),
            "text": self.text,
            "fallback": self.fallback,
            "extra": dict(self.extra),
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Explanation:
        return cls(
            user=int(values["user"]),
            item=int(values["item"]),
            score=float(values["score"]),
            rank=int(values["rank"]),
            paths=tuple(Path.from_dict(p) for p in values.get("paths", [])),
            chosen=values.get("chosen"),
            rule=None if values.get("rule") is None else Rule.from_dict(values["rule"]),
            text=values.get("text", ""),
            fallback=bool(values.get("fallback", False)),
            extra=dict(values.get("extra", {})),
            method=str(values.get("method", "paths")),
        )
