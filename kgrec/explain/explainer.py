"""Rule-guided explanation: among an item's paths, the one that instantiates the most confident mined rule,
weighted with the model's path score.

The choice is explicit: a path p matching rule R scores
``confidence(R) ** rule_weight * (weight(p) / max weight) ** (1 - rule_weight)``; a path that matches no
rule scores 0 unless no path matches any rule, in which case the strongest path is told without a rule.
``rule_weight = 1`` picks by rule confidence alone, ``0`` by the model's path weight alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from kgrec.config import ExplainConfig
from kgrec.data.graph import CollaborativeKG
from kgrec.explain.paths import PathFinder
from kgrec.explain.phrases import PhraseTable
from kgrec.explain.render import explanation_text
from kgrec.explain.rules import RuleSet
from kgrec.explain.types import Explanation, Path, Rule
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
    """The mined rule the path instantiates: its relations after the first (interact) edge."""
    return rules.get(path.kg_pattern)


def choose_path(paths: Sequence[Path], rules: dict[tuple[int, ...], Rule], rule_weight: float) -> tuple[int | None, Rule | None]:
    """Index of the path to tell and its rule (see the module docstring for the combination)."""
    if not paths:
        return None, None
    best_weight = max(p.weight for p in paths) or 1.0
    best, best_score, best_rule = 0, 0.0, None
    for index, path in enumerate(paths):
        rule = rule_of(path, rules)
        if rule is None:
            continue
        score = rule.confidence**rule_weight * (path.weight / best_weight) ** (1.0 - rule_weight)
        if score > best_score:
            best, best_score, best_rule = index, score, rule
    if best_rule is None:
        return 0, None
    return best, best_rule


@dataclass
class Explainer:
    """Turns (user, recommended items) into :class:`Explanation` objects with paths, rule and sentence."""

    graph: CollaborativeKG
    finder: PathFinder
    rules: RuleSet
    phrases: PhraseTable
    config: ExplainConfig

    @classmethod
    def build(cls, model: RankingModel, graph: CollaborativeKG, rules: RuleSet, phrases: PhraseTable, config: ExplainConfig) -> Explainer:
        finder = PathFinder(graph, model_edge_weights(model, graph), config.max_len, config.max_paths, config.collaborative)
        return cls(graph, finder, rules, phrases, config)

    def explain_items(self, user: int, items: Sequence[int], scores: Sequence[float], ranks: Sequence[int], max_len: int | None = None) -> list[Explanation]:
        """Explanations of ``items`` (with their scores and 1-based ranks) for ``user``."""
        found = self.finder.paths_for_items(user, list(items), max_len)
        by_pattern = self.rules.by_pattern()
        explanations = []
        for item, score, rank in zip(items, scores, ranks):
            paths = [p for p in found.get(int(item), []) if p.weight > 0]  # drop edges the model ignores
            chosen, rule = choose_path(paths, by_pattern, self.config.rule_weight)
            kept = paths[: self.config.top_paths]
            if chosen is not None and chosen >= len(kept):  # the rule path ranks lower by weight: keep it too
                kept, chosen = [*kept, paths[chosen]], len(kept)
            explanation = Explanation(int(user), int(item), float(score), int(rank), tuple(kept), chosen, rule)
            explanations.append(replace(explanation, text=explanation_text(explanation, self.graph, self.phrases)))
        return explanations

