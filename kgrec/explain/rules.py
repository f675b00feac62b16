"""Relation-pattern rules between co-liked items: "users who liked j also like i when j →P→ i".

A *pattern* P is a tuple of CKG relation ids (KG relations and their inverses, never ``interact`` or
``interact⁻¹``) read from item j to item i; intermediate nodes may be any non-user node (entity or item).
For each pattern, with ``M_P`` the I × I 0/1 matrix of ordered item pairs (j ≠ i) linked by at least one
walk with that relation sequence and ``C`` the I × I co-like matrix of the training interactions:

    connected  = |M_P|                    support    = |M_P ∘ C|
    confidence = support / connected      head_cov   = support / |C|
    lift       = confidence / base_rate,  base_rate  = |C| / (I · (I − 1))

Measures follow AMIE (Galárraga et al., WWW 2013) with the rule head "co-liked(j, i)". A *rule with a
constant* (AMIE's instantiated rule) fixes the middle node e of a two-relation pattern: ``M_{P,e}`` links
the items j →r₁→ e with the items e →r₂→ i ("both in *Category:Heist films*"); its measures are the same.

Lift compares with a random pair; but co-liked pairs are mostly pairs of popular items, so any rule whose
pairs are popular has a high lift. Each rule is therefore also compared with its own pairs' popularity: the
items are cut into :data:`POPULARITY_STRATA` quantiles of training popularity, ``rate[a, b]`` is the share of
ordered pairs from strata a × b that are co-liked, and

    expected        = Σ_{(j, i) ∈ M_P} rate[stratum(j), stratum(i)]
    popularity_lift = support / expected,  p_value = P(Poisson(expected) ≥ support)

A rule is *better than chance* (told by explanations, :class:`BetterThanChance`) when its support, lift and
popularity lift are high enough and its p-value low enough. Mining expands
patterns one relation at a time with sparse products of per-relation adjacency matrices and expands only
prefixes whose reached nodes have an edge of the next relation, so the cost scales with the walks that
exist, not with |relations|^max_len. Only training interactions enter ``C``: mining never sees valid or test.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from scipy.stats import poisson

from kgrec.atomic import atomic_write_text
from kgrec.data.dataset import Interactions
from kgrec.data.readers import read_text
from kgrec.data.relations import RelationNames
from kgrec.errors import ConfigError, DatasetError, UnknownIdError
from kgrec.explain.types import Rule, RuleKey
from kgrec.fields import brief_repr

if TYPE_CHECKING:  # annotations only: this module needs no torch
    from kgrec.config import ExplainConfig
    from kgrec.data.graph import CollaborativeKG

log = logging.getLogger(__name__)

FORMAT = "kgrec-rules"
VERSION = 2  # 2: rules with constants, popularity lift and p-value; a version-1 file is mined again
PATTERN_SEPARATOR = " → "

#: Quantiles of training popularity the items are cut into for the popularity-matched chance of a co-like.
POPULARITY_STRATA = 20


class OutdatedRulesError(DatasetError):
    """A rules file of an earlier version, without the measures explanations now need (mine it again)."""


# ---- what is better than chance --------------------------------------------------------------------------
@dataclass(frozen=True)
class BetterThanChance:
    """The bar a rule must clear to be told: support ≥ ``min_support``, lift ≥ ``min_lift``, popularity lift ≥
    ``min_popularity_lift`` and p-value ≤ ``max_p_value`` (a rule whose popularity measures are None, built in
    code rather than mined, is judged on support and lift alone)."""

    min_support: int = 5
    min_lift: float = 1.5
    min_popularity_lift: float = 1.3
    max_p_value: float = 0.01

    @classmethod
    def of(cls, config: ExplainConfig | Mapping[str, Any]) -> BetterThanChance:
        """The bar of an explain config (or of its fields as a mapping, e.g. a run's saved config)."""
        values = config if isinstance(config, Mapping) else vars(config)
        return cls(int(values["min_support"]), float(values["min_lift"]), float(values["min_popularity_lift"]),
                   float(values["max_p_value"]))

    def admits(self, rule: Rule) -> bool:
        """Whether ``rule`` clears the bar."""
        return (
            rule.support >= self.min_support
            and rule.lift >= self.min_lift
            and (rule.popularity_lift is None or rule.popularity_lift >= self.min_popularity_lift)
            and (rule.p_value is None or rule.p_value <= self.max_p_value)
        )

    def describe(self) -> str:
        """The bar in words, for reports: "support ≥ 5, lift ≥ 1.5, popularity lift ≥ 1.3 and p ≤ 0.01"."""
        return (f"support ≥ {self.min_support}, lift ≥ {self.min_lift:g}, popularity lift ≥ "
                f"{self.min_popularity_lift:g} and p ≤ {self.max_p_value:g}")


# ---- the rule set ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleSet:
    """Mined rules, best first, with the counts their measures were computed from.

    ``n_coliked`` is the number of ordered item pairs co-liked in training by at least ``min_colikes`` users,
    ``base_rate`` = n_coliked / (I · (I − 1)) the chance that a random ordered pair is co-liked (the
    denominator of ``lift``).
    ``relation_names`` (the graph's, by relation id) make saved files readable and let :meth:`load`
    refuse rules mined on a graph with other relation ids. ``rules`` are the pattern rules, ``constants``
    the rules with a constant (only those better than chance are kept: there are thousands of candidates and
    they serve only to be told); ``constant_names`` the constants' display names, for readers without the
    graph (the report).
    """

    rules: tuple[Rule, ...]
    n_items: int
    n_coliked: int
    base_rate: float
    relation_names: tuple[str, ...] = ()
    min_colikes: int = 1
    constants: tuple[Rule, ...] = ()
    constant_names: Mapping[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rules)

    def by_pattern(self) -> dict[tuple[int, ...], Rule]:
        """The pattern rules keyed by pattern, e.g. to look up the rule a path's ``kg_pattern`` instantiates."""
        return {rule.pattern: rule for rule in self.rules}

    def tellable(self, bar: BetterThanChance) -> dict[RuleKey, Rule]:
        """The rules better than chance (pattern rules and rules with a constant), keyed by
        :attr:`Rule.key`: the only rules an explanation tells."""
        return {rule.key: rule for rule in (*self.rules, *self.constants) if bar.admits(rule)}

    def pattern_names(self, pattern: Sequence[int]) -> tuple[str, ...]:
        """The relation names of ``pattern`` (ids shown as ``#r`` when names are unknown)."""
        return tuple(self.relation_names[r] if 0 <= r < len(self.relation_names) else f"#{r}" for r in pattern)

    def label(self, pattern: Sequence[int], constant: int | None = None) -> str:
        """A readable pattern, e.g. ``directed_by → directed_by⁻¹`` (same director); with a constant its
        name in the middle: ``directed_by → Michael Mann → directed_by⁻¹``."""
        names = self.pattern_names(pattern)
        if constant is None:
            return PATTERN_SEPARATOR.join(names)
        return PATTERN_SEPARATOR.join((names[0], self.constant_names.get(constant, f"node {constant}"), *names[1:]))

    # ---- persistence -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; each rule also carries its relation names (ignored by :meth:`from_dict`)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "n_items": self.n_items,
            "n_coliked": self.n_coliked,
            "base_rate": self.base_rate,
            "min_colikes": self.min_colikes,
            "relation_names": list(self.relation_names),
            "rules": [
                {**rule.to_dict(), "pattern_names": list(self.pattern_names(rule.pattern))} for rule in self.rules
            ],
            "constant_rules": [
                {**rule.to_dict(), "pattern_names": list(self.pattern_names(rule.pattern)),
                 "constant_name": self.constant_names.get(rule.constant, "")} for rule in self.constants
            ],
        }

    def save(self, path: str | PathLike[str]) -> None:
        """Write the rules as JSON, atomically (a reader never sees a half-written file)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | PathLike[str], graph: CollaborativeKG | None = None) -> RuleSet:
        """Read rules written by :meth:`save`.

        A missing, corrupt or foreign file raises :class:`DatasetError` naming it (and the line of a JSON
        syntax error), a file of an earlier version :class:`OutdatedRulesError`; with ``graph``, so do rules
        mined on a graph with other relations or another number of items.
        """
        document = _read_json(path)
        if isinstance(document, dict) and document.get("format") == FORMAT and document.get("version") == 1:
            raise OutdatedRulesError(f"rules file of version 1, without popularity lifts (version {VERSION} "
                                     "needed): delete it to mine the rules again", path)
        try:
            rules = cls._from_dict(document)
        except (KeyError, TypeError, ValueError) as error:
            reason = f"{type(error).__name__}: {error}"
            raise DatasetError(f"not a kgrec rules file of version {VERSION} ({reason})", path) from None
        if graph is not None:
            problem = rules.incompatibility(graph)
            if problem:
                raise DatasetError(problem, path)
        return rules

    @classmethod
    def _from_dict(cls, document: Any) -> RuleSet:
        """The rule set of a parsed file; any missing or mistyped field is a KeyError, TypeError or ValueError."""
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"expected a JSON object with format {FORMAT!r}")
        if document.get("version") != VERSION:
            raise ValueError(f"unsupported version {brief_repr(document.get('version'))}")
        names = tuple(_as_list(document["relation_names"], "relation_names"))
        if not all(isinstance(name, str) for name in names):
            raise ValueError("relation_names must be strings")
        rules = tuple(_rule(entry, names) for entry in _as_list(document["rules"], "rules"))
        constant_entries = _as_list(document["constant_rules"], "constant_rules")
        constants = tuple(_rule(entry, names) for entry in constant_entries)
        if any(rule.constant is None or len(rule.pattern) != 2 for rule in constants):
            raise ValueError("a constant rule needs a two-relation pattern and a constant node id")
        if any(rule.constant is not None for rule in rules):
            raise ValueError("a rule with a constant listed among the pattern rules")
        constant_names = {}
        for rule, entry in zip(constants, constant_entries):
            if not isinstance(entry.get("constant_name", ""), str):
                raise TypeError(f"constant_name must be a string, got {brief_repr(entry.get('constant_name'))}")
            constant_names[rule.constant] = entry.get("constant_name", "")
        return cls(
            constants=constants,
            constant_names=constant_names,
            rules=rules,
            n_items=_as_count(document["n_items"], "n_items"),
            n_coliked=_as_count(document["n_coliked"], "n_coliked"),
            base_rate=_as_float(document["base_rate"], "base_rate"),
            relation_names=names,
            min_colikes=max(1, _as_count(document.get("min_colikes", 1), "min_colikes")),
        )

    def incompatibility(self, graph: CollaborativeKG) -> str | None:
        """Why these rules cannot be applied to ``graph`` (other relations or item count, a pattern with
        relation ids that are not KG relations of the graph), or None."""
        if self.n_items != graph.n_items:
            return f"rules were mined over {self.n_items} items, the graph has {graph.n_items}"
        if self.relation_names and tuple(self.relation_names) != tuple(graph.relation_names):
            return "rules were mined on a graph with other relation ids (relation names differ)"
        allowed = set(graph.kg_relations())
        bad = next((rule.pattern for rule in (*self.rules, *self.constants) if not set(rule.pattern) <= allowed), None)
        if bad is not None:
            return f"rule pattern {list(bad)} uses relation ids that are not KG relations of the graph"
        outside = next((rule.constant for rule in self.constants if not graph.n_users <= rule.constant < graph.num_nodes), None)
        if outside is not None:
            return f"rule constant {outside} is not an item or entity node of the graph"
        return None


def _rule(entry: Any, names: tuple[str, ...]) -> Rule:
    """One rule of a rules file, every field checked; ``pattern_names`` (written for readers) is ignored."""
    if not isinstance(entry, dict):
        raise TypeError(f"a rule must be a JSON object, got {brief_repr(entry)}")
    pattern = tuple(_as_count(r, "a pattern's relation id") for r in _as_list(entry["pattern"], "pattern"))
    if not pattern or (names and not set(pattern) <= set(RelationNames(names).kg_relations())):
        raise ValueError(f"pattern {list(pattern)} is empty or has ids that are not KG relations")
    precision, constant = entry.get("test_precision"), entry.get("constant")
    return Rule(
        pattern=pattern,
        support=_as_count(entry["support"], "support"),
        connected=_as_count(entry["connected"], "connected"),
        confidence=_as_float(entry["confidence"], "confidence"),
        head_coverage=_as_float(entry["head_coverage"], "head_coverage"),
        lift=_as_float(entry["lift"], "lift"),
        test_precision=None if precision is None else _as_float(precision, "test_precision"),
        constant=None if constant is None else _as_count(constant, "constant"),
        popularity_lift=None if entry["popularity_lift"] is None else _as_float(entry["popularity_lift"], "popularity_lift"),
        p_value=None if entry["p_value"] is None else _as_float(entry["p_value"], "p_value"),
    )


def _read_json(path: str | PathLike[str]) -> Any:
    """A JSON document; a missing, undecodable or malformed file is a DatasetError naming it and the line."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetError(f"not valid JSON ({error.msg}, column {error.colno})", path, error.lineno) from None
    except (ValueError, RecursionError) as error:  # a number of over 4300 digits, nesting beyond the stack
        raise DatasetError(f"not a readable JSON rules file ({error})", path) from None


def _as_list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{name} must be a JSON array, got {brief_repr(value)}")
    return value


def _as_float(value: Any, name: str) -> float:
    """A finite float (JSON allows NaN, Infinity and integers too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a finite number, got {brief_repr(value)}")
    number = float(value) if isinstance(value, float) or abs(value) < 2**1000 else math.inf
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {brief_repr(value)}")
    return number


def _as_count(value: Any, name: str) -> int:
    """A non-negative integer (written as an integer, or as an integral float such as 3.0)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {brief_repr(value)}")
    return value


# ---- matrices --------------------------------------------------------------------------------------------
def coliked_matrix(graph: CollaborativeKG, train: Interactions, min_users: int = 1) -> sp.csr_matrix:
    """I × I bool: ``C[j, i]`` when at least ``min_users`` users have both j and i (j ≠ i) among ``train``
    interactions."""
    counts = colike_counts(graph, train)
    counts.data = counts.data >= min_users
    counts.eliminate_zeros()
    return counts.astype(bool)


def colike_counts(graph: CollaborativeKG, train: Interactions) -> sp.csr_matrix:
    """I × I float32: how many users have both j and i (j ≠ i) among ``train`` interactions."""
    liked = user_item_matrix(train, graph.n_users, graph.n_items)
    return _without_diagonal((liked.T @ liked).tocsr())


#: The automatic co-like threshold keeps the base co-like rate at most this: a co-liked pair is news.
MAX_BASE_RATE = 0.05


def colike_threshold(counts: sp.csr_matrix, n_items: int, max_rate: float = MAX_BASE_RATE) -> int:
    """The smallest number of users τ ≥ 1 for which at most ``max_rate`` of the ordered item pairs are
    co-liked by τ or more users.

    On sparse data (lastfm-dbpedia: 0.9 % of pairs share a listener) τ = 1, "co-liked" in its plain sense;
    on dense data (MovieLens-1M: 78 % of pairs share a rater) one shared user says nothing, and every rule's
    lift would be close to 1.
    """
    allowed = int(max_rate * n_items * (n_items - 1))
    values = np.sort(counts.data)[::-1]
    return 1 if len(values) <= allowed else int(values[allowed]) + 1


def pattern_matrix(graph: CollaborativeKG, pattern: Sequence[int]) -> sp.csr_matrix:
    """I × I float32 0/1: ``M[j, i] = 1`` when a walk j → i (j ≠ i) follows the relations of ``pattern``."""
    pattern = _check_pattern(graph, pattern)
    return _Walks(graph, set(pattern)).items_matrix(pattern)


class _Walks:
    """Per-relation 0/1 adjacency over the non-user nodes (items first, local id = node − U)."""

    def __init__(self, graph: CollaborativeKG, relations: Iterable[int] | None = None) -> None:
        self.n_items, self.n_users = graph.n_items, graph.n_users
        self.size = graph.num_nodes - graph.n_users
        edge_type = graph.data.edge_type.cpu().numpy()
        src, dst = (graph.data.edge_index.cpu().numpy() - graph.n_users)
        wanted = sorted(graph.kg_relations() if relations is None else set(relations))
        order = np.argsort(edge_type, kind="stable")
        bounds = np.searchsorted(edge_type[order], np.arange(graph.num_relations + 1))
        self.adjacency: dict[int, sp.csr_matrix] = {}
        for r in wanted:
            rows = order[bounds[r] : bounds[r + 1]]
            if len(rows):
                ones = np.ones(len(rows), dtype=np.float32)
                self.adjacency[r] = sp.csr_matrix((ones, (src[rows], dst[rows])), shape=(self.size, self.size))

    def items_matrix(self, pattern: Sequence[int]) -> sp.csr_matrix:
        """The I × I pattern matrix, one sparse product per relation."""
        empty = sp.csr_matrix((self.n_items, self.n_items), dtype=np.float32)
        if any(r not in self.adjacency for r in pattern):
            return empty
        reach = self.adjacency[pattern[0]][: self.n_items]
        for r in pattern[1:]:
            reach = _binary(reach @ self.adjacency[r])
        return _without_diagonal(_binary(reach[:, : self.n_items].tocsr()))


def _check_pattern(graph: CollaborativeKG, pattern: Sequence[int]) -> tuple[int, ...]:
    pattern = tuple(int(r) for r in pattern)
    allowed = set(graph.kg_relations())
    if not pattern or any(r not in allowed for r in pattern):
        raise ConfigError(
            f"pattern {list(pattern)}: expected one or more KG relation ids from {sorted(allowed)} "
            f"(not interact {graph.interact} or its inverse {graph.interact_inverse})"
        )
    return pattern


def user_item_matrix(interactions: Interactions, n_users: int, n_items: int) -> sp.csr_matrix:
    """U × I float32 0/1 indicator of the (user, item) pairs."""
    ones = np.ones(len(interactions), dtype=np.float32)
    matrix = sp.csr_matrix((ones, (interactions.user, interactions.item)), shape=(n_users, n_items))
    return _binary(matrix)


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    """The same sparsity pattern with every stored value 1 (reachability, not walk counts).

    Works in place on a CSR argument: call it on fresh products and slices only.
    """
    matrix = matrix.tocsr()
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.data = np.ones(len(matrix.data), dtype=np.float32)
    return matrix


def _without_diagonal(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """``matrix`` with its diagonal entries removed (pairs j ≠ i only)."""
    matrix = matrix.tocsr()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    keep = matrix.indices != rows
    if keep.all():
        return matrix
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=matrix.shape[0]))])
    return sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


def _indicator(sets: list[np.ndarray], size: int) -> sp.csr_matrix:
    """len(sets) × size 0/1 matrix: row k marks the ids in ``sets[k]``."""
    lengths = [len(s) for s in sets]
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.concatenate(sets).astype(np.int64) if sets else np.zeros(0, dtype=np.int64)
    return sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(sets), size))


# ---- chance -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PopularityNull:
    """The chance that an ordered pair of items is co-liked when only the two items' popularity matters.

    ``stratum[i]``: item i's popularity stratum (items sorted by training popularity, ties by id, cut into
    equal parts); ``rate[a, b]``: the share of ordered pairs (j ≠ i) with j in stratum a and i in stratum b
    that are co-liked.
    """

    stratum: np.ndarray
    rate: np.ndarray

    @classmethod
    def fit(cls, coliked: sp.csr_matrix, popularity: np.ndarray, strata: int = POPULARITY_STRATA) -> PopularityNull:
        """The null of the co-like matrix ``coliked`` (I × I) with items of ``popularity`` (training users)."""
        n_items = len(popularity)
        strata = max(1, min(strata, n_items))
        stratum = np.empty(n_items, dtype=np.int64)
        stratum[np.argsort(popularity, kind="stable")] = np.arange(n_items) * strata // max(n_items, 1)
        members = _membership(stratum, strata)
        sizes = np.bincount(stratum, minlength=strata).astype(np.float64)
        pairs = np.outer(sizes, sizes) - np.diag(sizes)
        colikes = (members.T @ coliked.astype(np.float64) @ members).toarray()
        return cls(stratum, np.divide(colikes, pairs, out=np.zeros_like(colikes), where=pairs > 0))

    @cached_property
    def members(self) -> sp.csr_matrix:
        """I × strata 0/1: row i marks item i's stratum."""
        return _membership(self.stratum, self.rate.shape[0])

    def expected(self, pairs: sp.spmatrix) -> float:
        """Expected co-liked pairs among the stored (j, i) entries of an I × I matrix."""
        pairs = pairs.tocoo()
        return float(self.rate[self.stratum[pairs.row], self.stratum[pairs.col]].sum())

    def expected_blocks(self, left: sp.csr_matrix, right: sp.csr_matrix) -> np.ndarray:
        """For each row k of two K × I 0/1 matrices: expected co-liked pairs (j, i), j ≠ i, with j in
        ``left[k]`` and i in ``right[k]``."""
        members = self.members
        by_stratum = ((left @ members) @ self.rate) * (right @ members).toarray()
        same_item = left.multiply(right).tocsr() @ np.diag(self.rate)[self.stratum]  # the pairs j = i
        return np.asarray(by_stratum.sum(axis=1)).ravel() - np.asarray(same_item).ravel()


def _membership(stratum: np.ndarray, strata: int) -> sp.csr_matrix:
    """len(stratum) × strata 0/1 matrix marking each item's stratum."""
    return sp.csr_matrix((np.ones(len(stratum)), (np.arange(len(stratum)), stratum)), shape=(len(stratum), strata))


def chance_measures(support: np.ndarray | int, expected: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """``popularity_lift`` = support / expected and ``p_value`` = P(Poisson(expected) ≥ support) (1 for no
    support; a lift of 0 where nothing is expected, which happens only without support)."""
    support = np.asarray(support, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    lift = np.divide(support, expected, out=np.zeros_like(support), where=expected > 0)
    p_value = np.where(support > 0, poisson.sf(support - 1, np.maximum(expected, 0.0)), 1.0)
    return lift, p_value


def item_popularity_counts(train: Interactions, n_items: int) -> np.ndarray:
    """How many training interactions each item has."""
    return np.bincount(np.asarray(train.item, dtype=np.int64), minlength=n_items)


# ---- mining ----------------------------------------------------------------------------------------------
def mine_rules(
    graph: CollaborativeKG,
    train: Interactions,
    max_len: int = 3,
    min_support: int = 5,
    min_confidence: float = 0.01,
    max_rules: int = 500,
    progress: bool = False,
    distinct: bool = True,
    min_colikes: int | None = 1,
    constants: BetterThanChance | None = None,
) -> RuleSet:
    """Mine every relation pattern of 1..``max_len`` KG edges between co-liked training items.

    With ``distinct`` a pattern that connects exactly the same item pairs as an earlier one (shorter, or
    first in relation order) is dropped: parallel relations would otherwise repeat one rule many times.

    Keeps patterns with support ≥ ``min_support`` and confidence ≥ ``min_confidence`` (and at least one
    connected pair), at most ``max_rules`` of them, sorted by confidence, then support (both descending),
    then pattern. ``train`` must be the training interactions the graph was built from. A pair counts as
    co-liked when at least ``min_colikes`` users like both (None: :func:`colike_threshold`). With
    ``constants`` (and ``max_len`` ≥ 2), also the rules with a constant that clear that bar and
    ``min_confidence`` (:func:`constant_rules`).
    """
    if max_len < 1:
        raise ConfigError(f"rule max_len must be at least 1, got {max_len}")
    if min_support < 0 or not 0.0 <= min_confidence <= 1.0 or max_rules < 0:
        raise ConfigError(
            f"rule thresholds: expected min_support ≥ 0, 0 ≤ min_confidence ≤ 1 and max_rules ≥ 0, "
            f"got {min_support}, {min_confidence}, {max_rules}"
        )
    n_items = graph.n_items
    counts = colike_counts(graph, train)
    threshold = colike_threshold(counts, n_items) if min_colikes is None else int(min_colikes)
    coliked = coliked_matrix(graph, train, threshold)
    n_coliked = int(coliked.nnz)
    pairs = n_items * (n_items - 1)
    base_rate = n_coliked / pairs if pairs else 0.0
    null = PopularityNull.fit(coliked, item_popularity_counts(train, n_items))
    walks = _Walks(graph)
    relations = sorted(walks.adjacency)

    found: list[Rule] = []
    seen: set[bytes] = set()  # pair sets already kept: parallel relations (Freebase's type.object.key and
    # type.object.subject_key, say) give patterns that connect exactly the same pairs; keep the first only

    def measure(pattern: tuple[int, ...], matrix: sp.csr_matrix) -> None:
        connected = int(matrix.nnz)
        if connected == 0 or connected < min_support:
            return
        matrix.sort_indices()
        fingerprint = hashlib.blake2b(matrix.indptr.tobytes() + matrix.indices.tobytes(), digest_size=16).digest()
        if distinct and fingerprint in seen:
            return
        support = int(matrix.multiply(coliked).count_nonzero())
        confidence = support / connected
        if support < min_support or confidence < min_confidence:
            return
        seen.add(fingerprint)
        popularity_lift, p_value = chance_measures(support, null.expected(matrix))
        found.append(
            Rule(
                pattern=pattern,
                support=support,
                connected=connected,
                confidence=confidence,
                head_coverage=support / n_coliked if n_coliked else 0.0,
                lift=confidence / base_rate if base_rate else 0.0,
                popularity_lift=float(popularity_lift),
                p_value=float(p_value),
            )
        )

    # level 1: prefixes are the relations' rows of item nodes (I × nodes)
    prefixes: dict[tuple[int, ...], sp.csr_matrix] = {}
    for r in relations:
        reach = walks.adjacency[r][:n_items]
        if reach.nnz:
            prefixes[(r,)] = reach
            measure((r,), _without_diagonal(reach[:, :n_items].tocsr()))
    n_candidates = len(relations)

    for length in range(2, max_len + 1):
        last = length == max_len
        # the next relation's matrix: full (nodes × nodes) to keep expanding, item columns at the last step
        steps = {r: (walks.adjacency[r][:, :n_items].tocsr() if last else walks.adjacency[r]) for r in relations}
        steps = {r: m for r, m in steps.items() if m.nnz}
        step_ids = sorted(steps)
        prefix_ids = sorted(prefixes)
        if not step_ids or not prefix_ids:
            break
        # which (prefix, relation) pairs meet: the prefix reaches a node the relation leaves from
        reached = _indicator([np.unique(prefixes[p].indices) for p in prefix_ids], walks.size)
        leaves = _indicator([np.flatnonzero(np.diff(steps[r].indptr)) for r in step_ids], walks.size)
        meets = (reached @ leaves.T).tocoo()
        candidates = sorted((prefix_ids[a], step_ids[b]) for a, b in zip(meets.row, meets.col))
        n_candidates += len(candidates)
        iterator: Iterable[tuple[tuple[int, ...], int]] = candidates
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(candidates, desc=f"rules of length {length}", unit="pattern", leave=False)
        expanded: dict[tuple[int, ...], sp.csr_matrix] = {}
        for prefix, r in iterator:
            reach = _binary(prefixes[prefix] @ steps[r])
            if reach.nnz == 0:
                continue
            pattern = (*prefix, r)
            measure(pattern, _without_diagonal(reach if last else reach[:, :n_items].tocsr()))
            if not last:
                expanded[pattern] = reach
        prefixes = expanded

    found.sort(key=lambda rule: (-rule.confidence, -rule.support, rule.pattern))
    log.info(
        "mined %d rules (%d kept) from %d candidate patterns; %d co-liked pairs, base rate %.4g",
        len(found), min(len(found), max_rules), n_candidates, n_coliked, base_rate,
    )
    with_constants = () if constants is None or max_len < 2 else constant_rules(
        walks, coliked, null, base_rate, constants, min_confidence, distinct, graph.node_has_name
    )
    if with_constants:
        log.info("kept %d rules with a constant", len(with_constants))
    return RuleSet(
        tuple(found[:max_rules]), n_items, n_coliked, base_rate, tuple(graph.relation_names), threshold,
        with_constants, {rule.constant: graph.node_name(rule.constant) for rule in with_constants},
    )


def constant_rules(
    walks: _Walks, coliked: sp.csr_matrix, null: PopularityNull, base_rate: float, bar: BetterThanChance,
    min_confidence: float = 0.0, distinct: bool = True, has_name: Callable[[int], bool] | None = None,
) -> tuple[Rule, ...]:
    """The rules j →r₁→ e →r₂→ i with the middle node e fixed that clear ``bar`` and ``min_confidence``,
    best first (confidence, then support, both descending, then pattern and constant). With ``has_name``
    (node id → whether the data names it) a node without a name is never a constant: such a rule would
    tell "entity 4057", nothing a person can check.

    For each relation pair the measures of every middle node at once: with ``A`` the nodes × items 0/1
    matrix of the items j →r₁→ e and ``B`` that of the items e →r₂→ i, support = rowsum((A C) ∘ B),
    connected = |A_e|·|B_e| − |A_e ∩ B_e|. With ``distinct`` a constant whose item pairs equal an earlier
    one's (parallel relations) is dropped.
    """
    n_items, n_coliked = walks.n_items, int(coliked.nnz)
    colikes = coliked.astype(np.float64).tocsr()
    relations = sorted(walks.adjacency)
    into = {r: _binary(walks.adjacency[r][:n_items].T) for r in relations}  # e → the items j →r→ e
    out_of = {r: _binary(walks.adjacency[r][:, :n_items]) for r in relations}  # e → the items e →r→ i
    found: list[Rule] = []
    seen: set[bytes] = set()
    for r1, r2 in ((a, b) for a in relations for b in relations):
        sizes_left, sizes_right = np.diff(into[r1].indptr), np.diff(out_of[r2].indptr)
        nodes = np.flatnonzero((sizes_left > 0) & (sizes_right > 0))
        if not len(nodes):
            continue
        left, right = into[r1][nodes], out_of[r2][nodes]
        support = np.asarray((left @ colikes).multiply(right).sum(axis=1)).ravel().round().astype(np.int64)
        same = np.asarray(left.multiply(right).sum(axis=1)).ravel().round().astype(np.int64)
        connected = sizes_left[nodes] * sizes_right[nodes] - same
        candidate = (support >= max(bar.min_support, 1)) & (support >= min_confidence * connected)
        candidate &= support >= bar.min_lift * base_rate * connected
        rows = np.flatnonzero(candidate)
        if not len(rows):
            continue
        popularity_lift, p_value = chance_measures(support[rows], null.expected_blocks(left[rows], right[rows]))
        for row, lift_p, p in zip(rows.tolist(), popularity_lift.tolist(), p_value.tolist()):
            if has_name is not None and not has_name(int(nodes[row]) + walks.n_users):
                continue
            confidence = support[row] / connected[row]
            rule = Rule(
                pattern=(r1, r2), support=int(support[row]), connected=int(connected[row]), confidence=confidence,
                head_coverage=support[row] / n_coliked, lift=confidence / base_rate, constant=int(nodes[row]) + walks.n_users,
                popularity_lift=lift_p, p_value=p,
            )
            if not bar.admits(rule):
                continue
            pairs = left[row].indices.tobytes() + b"|" + right[row].indices.tobytes()
            fingerprint = hashlib.blake2b(int(nodes[row]).to_bytes(8, "little") + pairs, digest_size=16).digest()
            if distinct and fingerprint in seen:
                continue
            seen.add(fingerprint)
            found.append(rule)
    found.sort(key=lambda rule: (-rule.confidence, -rule.support, rule.pattern, rule.constant))
    return tuple(found)


# ---- using rules -----------------------------------------------------------------------------------------
def load_or_mine_rules(path: Path | None, graph: CollaborativeKG, train: Interactions, config: ExplainConfig) -> RuleSet:
    """The rules of a run: read from ``path`` (a run's ``rules.json``) when it exists, else mined from ``train``
    with ``config``'s limits and saved there (not saved when ``path`` is None)."""
    if path is not None and path.exists():
        try:
            return RuleSet.load(path, graph)
        except OutdatedRulesError:
            log.warning("%s is a rules file of an earlier version: mining the rules again", path)
    rules = mine_rules(graph, train, config.rule_max_len, config.min_support, config.min_confidence, config.max_rules,
                       min_colikes=config.min_colikes, constants=BetterThanChance.of(config))
    if path is not None:
        rules.save(path)
    return rules


def _rule_matrices(rules: RuleSet, graph: CollaborativeKG) -> list[sp.csr_matrix]:
    problem = rules.incompatibility(graph)
    if problem:
        raise ConfigError(problem)
    walks = _Walks(graph, {r for rule in rules.rules for r in rule.pattern})
    return [walks.items_matrix(_check_pattern(graph, rule.pattern)) for rule in rules.rules]


def rule_precision(
    rules: RuleSet, graph: CollaborativeKG, train: Interactions, test: Interactions
) -> tuple[RuleSet, float]:
    """Each rule as a recommender, scored on ``test``: how often its predictions are test positives.

    For each test user u the rule predicts the items i ∉ train(u) with (x_u · M_P)[i] > 0 (x_u = u's
    training items). ``Rule.test_precision`` = hits / predictions (None when the rule predicts nothing).
    Returns the rules with that filled in and the micro-average over all rules' predictions (0.0 when no
    rule predicts anything).
    """
    liked = user_item_matrix(train, graph.n_users, graph.n_items)
    held = user_item_matrix(test, graph.n_users, graph.n_items)
    users = np.unique(np.asarray(test.user, dtype=np.int64))
    liked, held = liked[users], held[users]
    total_hits = total_predictions = 0
    measured = []
    for rule, matrix in zip(rules.rules, _rule_matrices(rules, graph)):
        predicted = _binary(liked @ matrix)
        predicted = predicted - predicted.multiply(liked)  # never predict a training item
        predicted.eliminate_zeros()
        n_predictions = int(predicted.nnz)
        hits = int(predicted.multiply(held).count_nonzero())
        total_hits += hits
        total_predictions += n_predictions
        measured.append(replace(rule, test_precision=hits / n_predictions if n_predictions else None))
    overall = total_hits / total_predictions if total_predictions else 0.0
    return replace(rules, rules=tuple(measured)), overall


def rule_features(
    rules: RuleSet, graph: CollaborativeKG, train: Interactions, users: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """[pairs × rules] float: for pair (u, i) and rule P, how many of u's training items j have j →P→ i.

    The interpretable inputs of a surrogate model: column k counts the rule-k reasons to recommend i to u.
    """
    users = np.asarray(users, dtype=np.int64).ravel()
    items = np.asarray(items, dtype=np.int64).ravel()
    if len(users) != len(items):
        raise ValueError(f"users and items differ in length ({len(users)} vs {len(items)})")
    for kind, ids, bound in (("user", users, graph.n_users), ("item", items, graph.n_items)):
        bad = ids[(ids < 0) | (ids >= bound)]
        if len(bad):
            raise UnknownIdError(f"unknown {kind} id {int(bad[0])} (the graph has {bound} {kind}s)")
    features = np.zeros((len(users), len(rules.rules)), dtype=np.float64)
    if len(users) == 0 or not rules.rules:
        return features
    row_users, row = np.unique(users, return_inverse=True)
    col_items, col = np.unique(items, return_inverse=True)
    liked = user_item_matrix(train, graph.n_users, graph.n_items)[row_users]
    for k, matrix in enumerate(_rule_matrices(rules, graph)):
        counts = (liked @ matrix[:, col_items]).tocsr()
        features[:, k] = np.asarray(counts[row, col]).ravel()
    return features


def rule_label(relation_names: Sequence[str], pattern: Sequence[int]) -> str:
    """A readable pattern from a graph's ``relation_names``, e.g. ``directed_by → directed_by⁻¹``."""
    return PATTERN_SEPARATOR.join(relation_names[r] for r in pattern)


__all__ = [
    "BetterThanChance",
    "OutdatedRulesError",
    "PopularityNull",
    "RuleSet",
    "chance_measures",
    "colike_counts",
    "colike_threshold",
    "coliked_matrix",
    "constant_rules",
    "load_or_mine_rules",
    "mine_rules",
    "pattern_matrix",
    "rule_features",
    "rule_label",
    "rule_precision",
]
