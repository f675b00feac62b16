"""The told evidence end to end on a drawn graph with unit edge weights: which rule is told, with which paths,
the share of the item's path weight they carry, the sentence, and the edges the deletion test removes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kgrec.config import ExplainConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.explain.explainer import Explainer
from kgrec.explain.fidelity import path_pairs
from kgrec.explain.measures import told_measures
from kgrec.explain.paths import PathFinder
from kgrec.explain.phrases import PhraseTable
from kgrec.explain.rules import BetterThanChance, RuleSet
from kgrec.explain.types import Rule


@pytest.fixture
def drawn() -> tuple[CollaborativeKG, dict[str, int]]:
    """u1 liked Heat and Thief, u2 liked Heat, Collateral and Ali; Michael Mann directed Heat, Thief and
    Collateral. With every edge weight 1, u1 reaches (≤ 4 edges)

    - Collateral by three paths: u1 → Heat → Mann → Collateral, u1 → Thief → Mann → Collateral (same director)
      and u1 → Heat ← u2 → Collateral (co-like);
    - Ali by one: u1 → Heat ← u2 → Ali.
    """
    interactions = pd.DataFrame({"user": ["u1", "u1", "u2", "u2", "u2"], "item": ["i1", "i3", "i1", "i2", "i4"]})
    triples = pd.DataFrame({"head": ["i1", "i3", "i2"], "relation": ["directed_by"] * 3, "tail": ["m"] * 3})
    links = pd.DataFrame({"item": ["i1", "i2", "i3", "i4"], "entity": ["i1", "i2", "i3", "i4"]})
    names = {"i1": "Heat", "i2": "Collateral", "i3": "Thief", "i4": "Ali"}
    dataset = RecDataset.from_frames("drawn", interactions, triples, links, item_names=names, entity_names={"m": "Michael Mann"})
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    node = {name: graph.item_node(dataset.items.index(raw)) for raw, name in names.items()}
    node |= {"u1": dataset.users.index("u1"), "u2": dataset.users.index("u2")}
    node["Mann"] = int(graph.entity_nodes.set_index("entity")["node"].loc[dataset.entities.index("m")])
    return graph, node


def explainer(graph: CollaborativeKG, lift: float) -> Explainer:
    """An explainer with unit edge weights and one rule, same director, of the given lift."""
    directed, inverse = graph.relation_names.index("directed_by"), graph.relation_names.index("directed_by⁻¹")
    same = Rule((directed, inverse), support=5, connected=6, confidence=0.8, head_coverage=0.5, lift=lift)
    rules = RuleSet((same,), graph.n_items, 4, 0.5, tuple(graph.relation_names))
    config = ExplainConfig(max_len=4, min_support=5, min_lift=1.5)
    ones = np.ones(graph.data.edge_index.shape[1])
    return Explainer(
        graph, PathFinder(graph, ones, 4), PathFinder(graph, ones, 3, collaborative=False),
        rules.tellable(BetterThanChance.of(config)), PhraseTable.load("moviekg-omdb"), config,
    )


def explain(graph: CollaborativeKG, node: dict[str, int], lift: float, *titles: str) -> list:
    items = [int(graph.node_index[node[t]]) for t in titles]
    return explainer(graph, lift).explain_items(node["u1"], items, [1.0] * len(items), list(range(1, len(items) + 1)))


def test_a_rule_is_told_once_with_every_history_item_it_links(drawn) -> None:
    graph, node = drawn
    (collateral,) = explain(graph, node, 3.0, "Collateral")
    assert collateral.reason == "rule" and collateral.rule is not None
    assert {p.nodes for p in collateral.told_paths} == {
        (node["u1"], node["Heat"], node["Mann"], node["Collateral"]),
        (node["u1"], node["Thief"], node["Mann"], node["Collateral"]),
    }
    assert collateral.told == (0, 1) and collateral.chosen == 0
    assert collateral.told_share == pytest.approx(2 / 3)  # two of the three unit-weight paths
    assert collateral.text == (
        "Recommended *Collateral* because it was directed by Michael Mann, like *Heat* and *Thief*, which you liked "
        "(rule `same director`: lift 3, confidence 0.80 over 5 co-liked pairs)."
    )
    # the deletion test removes every edge of both told paths, each once: u1–Heat, Heat–Mann, Mann–Collateral, u1–Thief, Thief–Mann
    assert len(path_pairs(collateral)) == 5


def test_without_a_path_of_a_tellable_rule_the_reason_is_co_liking(drawn) -> None:
    graph, node = drawn
    collateral, ali = explain(graph, node, 1.2, "Collateral", "Ali")  # lift 1.2 < min_lift 1.5: not told
    assert (collateral.reason, collateral.rule, collateral.told_share) == ("co-like", None, pytest.approx(1 / 3))
    assert collateral.text == (
        "Recommended *Collateral* because of shared taste, not a knowledge-graph rule: 1 other user who liked *Heat*, "
        "as you did, also liked *Collateral*."
    )
    assert (ali.reason, ali.told_share) == ("co-like", pytest.approx(1.0))
    measures = told_measures([collateral, ali], graph)
    assert measures["collaborative_share"] == 1.0 and measures["told_weight_share"] == pytest.approx((1 / 3 + 1) / 2)


def test_the_told_fields_round_trip_through_json(drawn) -> None:
    from kgrec.explain.types import Explanation

    graph, node = drawn
    (collateral,) = explain(graph, node, 3.0, "Collateral")
    values = collateral.to_dict()
    assert (values["told"], values["reason"], values["told_weight_share"]) == ([0, 1], "rule", pytest.approx(2 / 3))
    assert Explanation.from_dict(values) == collateral
