"""The data of an explanation: paths, rules and the explanation itself, serialisable to JSON.

Everything is in the collaborative KG's id space (node ids, relation ids, item ids); names are added by
the renderers (:mod:`kgrec.explain.render`), never stored here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

#: The relation and entity analyses of :mod:`kgrec.explain.association`, and the folder of a run directory
#: they are written to (``<kind>.json``, ``<kind>.png``); the report reads it without importing torch.
KINDS = ("relations", "entities")
INSPECT_DIR = "inspect"

#: A rule's identity in a rule set: (pattern, constant node id or None).
RuleKey = tuple[tuple[int, ...], int | None]


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
    ``constant``: for a rule with a constant (AMIE's "instantiated" rule), the node id every linking walk
    passes through (a two-relation pattern's middle node: "both in *Category:Heist films*"); None for a
    pattern rule. ``popularity_lift`` = support / the co-liked pairs expected among the same pairs if only the
    two items' popularity mattered, and ``p_value`` the chance of at least ``support`` of them under that
    expectation (Poisson; :mod:`kgrec.explain.rules`); None when not measured.
    ``test_precision``: share of the rule's predictions that are test positives (None until measured).
    """

    pattern: tuple[int, ...]
    support: int
    connected: int
    confidence: float
    head_coverage: float
    lift: float
    test_precision: float | None = None
    constant: int | None = None
    popularity_lift: float | None = None
    p_value: float | None = None

    @property
    def key(self) -> RuleKey:
        """What identifies the rule in a rule set: its pattern and its constant (None for a pattern rule)."""
        return self.pattern, self.constant

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # asdict would deep-copy every measure
        values["pattern"] = list(self.pattern)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Rule:
        values = dict(values)
        values["pattern"] = tuple(int(r) for r in values["pattern"])
        return cls(**values)


@dataclass(frozen=True)
class Explanation:
    """Why ``item`` is recommended to ``user``: its heaviest ``paths``, the told evidence among them and the
    ``rule`` it instantiates.

    ``user`` / ``item`` are dataset ids; ``rank`` is 1-based. ``told`` indexes the paths the text tells (the
    told evidence: every instance of the told rule from the user's history, or the co-like paths through one
    history item), heaviest first; ``chosen`` is its first (None when nothing is told). ``rule`` is None when
    no mined rule applies. ``reason`` says what is told: ``rule`` (a knowledge-graph rule), ``co-like`` (other
    users' interactions only), ``path`` (a path that instantiates no rule), ``none`` (no path) or ``popular``
    (``fallback``: a popularity recommendation for a user without training history). ``told_share`` is the
    share of the item's path weight the told evidence carries (:mod:`kgrec.explain.measures`; None when
    nothing is told). ``method`` names what produced the
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
    told: tuple[int, ...] = ()
    reason: str = ""
    told_share: float | None = None

    def __post_init__(self) -> None:
        if self.chosen is not None and not self.told:  # one told path (explanations built before grouping)
            object.__setattr__(self, "told", (self.chosen,))
        if self.told and self.chosen != self.told[0]:
            raise ValueError(f"chosen ({self.chosen}) must be the first told path ({self.told[0]})")
        if any(not 0 <= t < len(self.paths) for t in self.told):
            raise ValueError(f"told path indexes {list(self.told)} out of range for {len(self.paths)} paths")
        if not self.reason:
            object.__setattr__(self, "reason", _default_reason(self))
        if self.reason not in REASONS:
            raise ValueError(f"reason must be one of {', '.join(REASONS)}, got {self.reason!r}")

    @property
    def path(self) -> Path | None:
        """The lead path of the told evidence (the heaviest told path)."""
        return None if self.chosen is None else self.paths[self.chosen]

    @property
    def told_paths(self) -> tuple[Path, ...]:
        """The told evidence: every told path, heaviest first (empty when nothing is told)."""
        return tuple(self.paths[t] for t in self.told)

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
            "told": list(self.told),
            "reason": self.reason,
            "told_weight_share": self.told_share,
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
            told=tuple(int(t) for t in values.get("told", ())),
            reason=str(values.get("reason", "")),
            told_share=None if values.get("told_weight_share") is None else float(values["told_weight_share"]),
        )


#: What an explanation tells (``Explanation.reason``).
REASONS = ("rule", "co-like", "path", "none", "popular")


def _default_reason(explanation: Explanation) -> str:
    """The reason of an explanation built without one: from its fallback flag, rule and told path."""
    if explanation.fallback:
        return "popular"
    if explanation.rule is not None:
        return "rule"
    return "path" if explanation.chosen is not None else "none"
