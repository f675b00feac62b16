"""The surrogate decision tree: its features on a hand-made graph and its fidelity when the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.explain.rules import mine_rules
from kgrec.explain.surrogate import coliked_counts, fit_surrogate
from tests.models.planted import planted_dataset


def test_coliked_counts_by_hand() -> None:
    """u1 likes a, b; u2 likes a, c; u3 likes b, c, d.

    For u1: c is co-liked with a (by u2) and with b (by u3) -> 2; d with b (by u3) -> 1.
    For u2: b is co-liked with a (u1) and c (u3) -> 2; d with c (u3) -> 1.
    """
    frame = pd.DataFrame({"user": ["u1", "u1", "u2", "u2", "u3", "u3", "u3"], "item": ["a", "b", "a", "c", "b", "c", "d"]})
    dataset = RecDataset.from_frames("co", frame)
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    u = dataset.users.index
    i = dataset.items.index
    users = np.array([u("u1"), u("u1"), u("u2"), u("u2")])
    items = np.array([i("c"), i("d"), i("b"), i("d")])
    assert coliked_counts(graph, dataset.interactions, users, items).tolist() == [2, 1, 2, 1]


def test_a_tree_recovers_a_rule_driven_top_k() -> None:
    """If the 'model' ranks exactly the items its users reach through the cluster rule, the surrogate is exact."""
    dataset = planted_dataset(n_clusters=4, users_per_cluster=12, items_per_cluster=10)
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    train = dataset.interactions
    rules = mine_rules(graph, train, max_len=2, min_support=1, min_confidence=0.0)
    assert rules.rules, "the planted KG gives the same-cluster rule"
    rng = np.random.default_rng(0)
    users, tops, negatives = [], [], []
    for user in range(dataset.n_users):
        cluster = int(dataset.users.raw(user)[1:]) // 12
        liked = set(train.item[train.user == user].tolist())
        own = [dataset.items.index(f"i{cluster * 10 + k}") for k in range(10)]
        own = [i for i in own if i not in liked]
        others = [i for i in range(dataset.n_items) if i not in liked and i not in own and dataset.items.raw(i)[1:].isdigit()
                  and int(dataset.items.raw(i)[1:]) // 10 != cluster]
        if len(own) < 3:
            continue
        users.append(user)
        tops.append(own[:3])
        negatives.append(list(rng.choice(others, size=3, replace=False)))
    report = fit_surrogate(rules, ["same cluster"] * len(rules.rules), graph, train, np.array(users), np.array(tops),
                           np.array(negatives), max_depth=2)
    assert report.accuracy > 0.9 and report.f1 > 0.9
    assert report.train_pairs + report.test_pairs == 6 * len(users)
    assert "history items via same cluster" in report.tree or "co-liked" in report.tree
