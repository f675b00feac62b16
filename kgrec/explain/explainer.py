"""Rule-guided explanation: the rule whose instances in the user's history the model weighs most, told once
with every history item it links to the recommended item.

For a recommended item i of user u the *rule evidence* of a rule R (a KG relation pattern) is every path
u → j →R→ i from a history item j (knowledge-graph edges only after the interaction, ≤ ``rule_max_len`` + 1
edges); that of a rule with a constant e, those of its pattern's paths that pass through e. Only rules better
than chance count (:class:`~kgrec.explain.rules.BetterThanChance`). Of the rules with evidence, the one
told maximises

    confidence(R) ** rule_weight * (W(R) / max W) ** (1 - rule_weight),   W(R) = Σ weight of R's evidence,

the rule's strength and the model's own path weights together (``rule_weight = 1``: by confidence alone,
``0``: by the model's weights alone), and the told evidence is all of R's paths. When no rule has
evidence the reason is co-liking: the paths u → j ← u′ → i through the history item j whose such paths
weigh most. When there is neither, the heaviest path is told without a rule.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from kgrec.config import ExplainConfig
from kgrec.data.graph import CollaborativeKG
from kgrec.explain.measures import weight_share
from kgrec.explain.paths import FoundPaths, PathFinder
from kgrec.explain.phrases import PhraseTable
from kgrec.explain.render import explanation_text
from kgrec.explain.rules import BetterThanChance, RuleSet
from kgrec.explain.types import Explanation, Path, Rule, RuleKey
from kgrec.models.base import RankingModel


def model_edge_weights(model: RankingModel, graph: CollaborativeKG) -> np.ndarray | None:
    """The model's propagation weight of every CKG edge (0 for edges the model does not propagate over).

    kgrec: its (attention-)normalised weights; LightGCN: 1/sqrt(deg·deg) over interact edges; models
    without a graph (BPR-MF, Pop): None, i.e. the paths get the CKG's uniform normalisation.
    """
    edges, edge_type = model.propagation_edges(), model.propagation_edge_type()
    if edges is None or edge_type is None:
        return None
    with torch.no_grad():
        weight = model.propagation_weights()
    weight = weight.cpu().numpy().astype(np.float64)
    model_keys, graph_keys = edge_keys(edges, edge_type, graph.num_nodes), edge_keys(graph.data.edge_index, graph.data.edge_type, graph.num_nodes)
    if np.array_equal(model_keys, graph_keys):
        return weight
    order = np.argsort(model_keys)
    position = np.searchsorted(model_keys[order], graph_keys).clip(max=len(order) - 1)
    found = model_keys[order][position] == graph_keys
    out = np.zeros(len(graph_keys), dtype=np.float64)
    out[found] = weight[order][position[found]]
    return out


def edge_keys(edge_index: Tensor, edge_type: Tensor, num_nodes: int) -> np.ndarray:
    """One integer per typed edge (relation, source, target): parallel relations stay distinct."""
    source, target = (edge_index.cpu().numpy().astype(np.int64))
    return (edge_type.cpu().numpy().astype(np.int64) * num_nodes + source) * num_nodes + target


def rule_of(path: Path, rules: dict[tuple[int, ...], Rule]) -> Rule | None:
    """The mined pattern rule the path instantiates: its relations after the first (interact) edge."""
    return rules.get(path.kg_pattern)


def rule_edges(graph: CollaborativeKG, rules: Collection[RuleKey]) -> np.ndarray:
    """Which CKG edges a path of the ``rules`` (keys of tellable rules) can use: every edge of a pattern rule's
    relations; of a rule r₁ → e → r₂ with a constant e, only the r₁ edges into e and the r₂ edges out of it (a
    category's other members' links, say, can instantiate no rule)."""
    source, target = graph.data.edge_index.cpu().numpy().astype(np.int64)
    relation, n = graph.data.edge_type.cpu().numpy().astype(np.int64), graph.num_nodes
    walked = np.isin(relation, [r for pattern, constant in rules if constant is None for r in pattern])
    into = [pattern[0] * n + constant for pattern, constant in rules if constant is not None]
    out_of = [pattern[1] * n + constant for pattern, constant in rules if constant is not None]
    return walked | np.isin(relation * n + target, into) | np.isin(relation * n + source, out_of)


@dataclass(frozen=True)
class Evidence:
    """What an explanation tells: the ``paths`` (heaviest first), the ``rule`` they instantiate and the
    ``reason`` (``rule``, ``co-like``, ``path`` or ``none``, as :attr:`Explanation.reason`)."""

    paths: tuple[Path, ...]
    rule: Rule | None
    reason: str


def _groups_in_order(keys: Iterable[Hashable]) -> tuple[np.ndarray, list[int]]:
    """Group of every key numbered by first appearance, and each group's first index: ``max`` over groups in
    that order keeps the first of equal ones, as over a dict (a few dozen keys: a dict beats ``np.unique``)."""
    ids: dict[Hashable, int] = {}
    first: list[int] = []
    group = []
    for index, key in enumerate(keys):
        if key not in ids:
            ids[key] = len(first)
            first.append(index)
        group.append(ids[key])
    return np.array(group, dtype=np.int64), first


def _told(found: FoundPaths, rows: np.ndarray) -> tuple[Path, ...]:
    """The paths of ``rows``, heaviest first (ties in the finder's order)."""
    return tuple(found.paths(rows[np.argsort(-found.weight[rows], kind="stable")]))


def _rule_candidates(
    kg: FoundPaths, rules: Mapping[RuleKey, Rule], constant_patterns: Collection[tuple[int, ...]]
) -> list[tuple[Rule, float, tuple[np.ndarray, int]]]:
    """Every tellable rule with evidence among the knowledge-graph paths ``kg``: (rule, its paths' weight, and
    (labels, label) such that its paths are the rows where labels == label); pattern rules first, in the order
    their paths appear, then rules with a constant, by pattern in that order and then by node id."""
    relations, lengths = kg.relations[:, 1:].tolist(), kg.length.tolist()
    group, first = _groups_in_order(map(tuple, relations))
    patterns = [tuple(relations[row][: lengths[row] - 1]) for row in first]
    weight = np.bincount(group, weights=kg.weight, minlength=len(patterns))
    found = [(rules[(pattern, None)], float(weight[g]), (group, g))
             for g, pattern in enumerate(patterns) if (pattern, None) in rules]
    eligible = np.array([pattern in constant_patterns for pattern in patterns])
    if not eligible.any():
        return found
    rows = np.flatnonzero(eligible[group])
    size = int(kg.nodes.max()) + 1
    keys, member = np.unique(group[rows] * size + kg.nodes[rows, 2], return_inverse=True)
    sums = np.bincount(member.reshape(-1), weights=kg.weight[rows])
    labels = np.full(len(kg), -1, dtype=np.int64)
    labels[rows] = member.reshape(-1)
    for index, key in enumerate(keys.tolist()):
        g, node = divmod(key, size)
        rule = rules.get((patterns[g], node))
        if rule is not None:
            found.append((rule, float(sums[index]), (labels, index)))
    return found


def choose_evidence(
    paths: FoundPaths, rule_paths: FoundPaths, rules: Mapping[RuleKey, Rule], rule_weight: float,
    interact_relations: Collection[int], constant_patterns: Collection[tuple[int, ...]] = (),
) -> Evidence:
    """The told evidence of one item (see the module docstring): ``paths`` are all its paths, ``rule_paths``
    its knowledge-graph paths, ``rules`` the tellable rules by :attr:`Rule.key`, ``constant_patterns`` the
    patterns of those with a constant; a path whose relations are all ``interact_relations`` (interact and its
    inverse) runs through other users' interactions only."""
    kg = rule_paths.positive()
    candidates = _rule_candidates(kg, rules, constant_patterns) if len(kg) else []
    if candidates:
        heaviest = max(weight for _, weight, _ in candidates)
        rule, _, (labels, label) = max(candidates, key=lambda candidate: (
            candidate[0].confidence ** rule_weight * (candidate[1] / heaviest) ** (1.0 - rule_weight),
            -len(candidate[0].pattern),
        ))
        return Evidence(_told(kg, np.flatnonzero(labels == label)), rule, "rule")
    positive = paths.positive()
    through_users = positive.relations < 0  # padding
    for relation in interact_relations:  # two relations: cheaper than np.isin
        through_users |= positive.relations == relation
    colike = through_users.all(axis=1)
    if colike.any():
        rows = np.flatnonzero(colike)
        group, _ = _groups_in_order(positive.nodes[rows, 1].tolist())
        best = int(np.argmax(np.bincount(group, weights=positive.weight[rows])))
        return Evidence(_told(positive, rows[group == best]), None, "co-like")
    if len(positive):
        return Evidence(_told(positive, np.array([np.argmax(positive.weight)])), None, "path")  # the first heaviest
    return Evidence((), None, "none")


@dataclass
class Explainer:
    """Turns (user, recommended items) into :class:`Explanation` objects with paths, rule and sentence.

    ``finder`` enumerates all paths (the share's denominator, the paths shown); ``rule_finder`` only the
    knowledge-graph paths a tellable rule can describe (no other user, ≤ ``rule_max_len`` + 1 edges, only
    relations of tellable rules), so a rule path is found however many co-like paths, or paths of
    relations no tellable rule has, outweigh it; ``rules`` are the tellable rules by :attr:`Rule.key`.
    """

    graph: CollaborativeKG
    finder: PathFinder
    rule_finder: PathFinder
    rules: dict[RuleKey, Rule]
    phrases: PhraseTable
    config: ExplainConfig

    @classmethod
    def build(cls, model: RankingModel, graph: CollaborativeKG, rules: RuleSet, phrases: PhraseTable, config: ExplainConfig) -> Explainer:
        weight = model_edge_weights(model, graph)
        tellable = rules.tellable(BetterThanChance.of(config))
        finder = PathFinder(graph, weight, config.max_len, config.max_paths, config.collaborative)
        rule_finder = PathFinder(graph, weight, max(2, min(config.max_len, config.rule_max_len + 1)), config.max_paths,
                                 collaborative=False, edges=rule_edges(graph, tellable))
        return cls(graph, finder, rule_finder, tellable, phrases, config)

    @cached_property
    def constant_patterns(self) -> frozenset[tuple[int, ...]]:
        """The patterns of the tellable rules with a constant."""
        return frozenset(pattern for pattern, constant in self.rules if constant is not None)

    def explain_items(self, user: int, items: Sequence[int], scores: Sequence[float], ranks: Sequence[int], max_len: int | None = None) -> list[Explanation]:
        """Explanations of ``items`` (with their scores and 1-based ranks) for ``user``."""
        found = self.finder.found_for_items(user, list(items), max_len)
        rule_len = min(self.rule_finder.max_len, self.finder.max_len if max_len is None else max_len)
        rule_found = self.rule_finder.found_for_items(user, list(items), rule_len)  # max_len ≥ 2: finder checked it
        interact = [self.graph.interact, self.graph.interact_inverse]
        explanations = []
        for item, score, rank in zip(items, scores, ranks):
            paths = found[int(item)].positive()  # drop edges the model ignores
            evidence = choose_evidence(paths, rule_found[int(item)], self.rules, self.config.rule_weight, interact,
                                       self.constant_patterns)
            # then the heaviest other paths: among the first len(told) + top_paths rows, as at most len(told) are told
            told, top = set(evidence.paths), self.config.top_paths
            heaviest = paths.paths(np.arange(min(len(paths), len(told) + top)))
            shown = [*evidence.paths, *[path for path in heaviest if path not in told][:top]]
            explanation = Explanation(
                int(user), int(item), float(score), int(rank), tuple(shown), 0 if evidence.paths else None, evidence.rule,
                told=tuple(range(len(evidence.paths))), reason=evidence.reason,
                told_share=weight_share(evidence.paths, paths) if evidence.paths else None,
            )
            explanations.append(replace(explanation, text=explanation_text(explanation, self.graph, self.phrases)))
        return explanations
