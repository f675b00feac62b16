"""A global, interpretable surrogate of the model: a shallow decision tree over rule-pattern features.

Each (user, item) pair is described by how many of the user's training items reach the item through each
mined rule's pattern, plus through the collaborative pattern (interact⁻¹, interact: items co-liked by some
user, the rule every recommender starts from); the tree learns whether the model puts the item in the
user's top-k. Its agreement
with the model on held-out users (accuracy, F1) says how much of the model's behaviour the rules explain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.tree import DecisionTreeClassifier, export_text

from kgrec.data.dataset import Interactions
from kgrec.data.graph import CollaborativeKG
from kgrec.explain.rules import RuleSet, coliked_matrix, rule_features, user_item_matrix


@dataclass(frozen=True)
class SurrogateReport:
    """Fidelity of the surrogate to the model on held-out users, and the tree as readable rules."""

    accuracy: float
    f1: float
    train_pairs: int
    test_pairs: int
    tree: str

    def to_dict(self) -> dict[str, float | int | str]:
        return {"accuracy": self.accuracy, "f1": self.f1, "train_pairs": self.train_pairs, "test_pairs": self.test_pairs, "tree": self.tree}


def fit_surrogate(
    rules: RuleSet,
    rule_names: list[str],
    graph: CollaborativeKG,
    train: Interactions,
    users: np.ndarray,
    top_items: np.ndarray,
    negative_items: np.ndarray,
    max_depth: int = 4,
    seed: int = 0,
) -> SurrogateReport:
    """Fit on 70 % of ``users`` and test on the rest.

    ``top_items`` [U, k]: each user's top-k (label 1); ``negative_items`` [U, k]: items outside it and outside
    the user's training items (label 0), so the classes are balanced.
    """
    k = top_items.shape[1]
    pair_users = np.repeat(users, 2 * k)
    pair_items = np.concatenate([top_items, negative_items], axis=1).reshape(-1)
    labels = np.tile(np.r_[np.ones(k), np.zeros(k)], len(users)).astype(int)
    features = np.column_stack([rule_features(rules, graph, train, pair_users, pair_items), coliked_counts(graph, train, pair_users, pair_items)])
    rng = np.random.default_rng(seed)
    held_out = set(rng.permutation(users)[: max(1, int(round(0.3 * len(users))))].tolist())
    test = np.fromiter((u in held_out for u in pair_users), dtype=bool, count=len(pair_users))
    tree = DecisionTreeClassifier(max_depth=max_depth, random_state=seed).fit(features[~test], labels[~test])
    predicted = tree.predict(features[test])
    names = list(rule_names) if len(rule_names) == len(rules.rules) else [f"rule {i}" for i in range(len(rules.rules))]
    text = export_text(tree, feature_names=[*(f"#history items via {n}" for n in names), "#history items co-liked with it"])
    return SurrogateReport(
        float(accuracy_score(labels[test], predicted)), float(f1_score(labels[test], predicted, zero_division=0)),
        int((~test).sum()), int(test.sum()), text,
    )


def coliked_counts(graph: CollaborativeKG, train: Interactions, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """For each (user, item) pair, how many of the user's training items some user liked together with it."""
    coliked = coliked_matrix(graph, train).astype(np.float32)
    liked = user_item_matrix(train, graph.n_users, graph.n_items)
    reach = (liked[users] @ coliked).tocsr()
    return np.asarray(reach[np.arange(len(users)), items]).ravel()
