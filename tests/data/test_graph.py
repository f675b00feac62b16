"""CollaborativeKG on a graph drawn by hand: exact node ids, relation ids and edge list."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgrec.data.dataset import Interactions, RecDataset
from kgrec.data.graph import CollaborativeKG, unique_edges


def _train(dataset: RecDataset) -> Interactions:
    """The first two interactions (u1-i1, u2-i2) are training; u1-i2 is held out."""
    return dataset.interactions.take(np.array([0, 1]))


def test_exact_edge_list_on_five_node_graph(five_node_dataset: RecDataset) -> None:
    graph = CollaborativeKG.build(five_node_dataset, _train(five_node_dataset))
    # nodes: u1=0 u2=1 | i1=2 i2=3 | e3=4 ; relations: interact=0 directed_by=1 interact⁻¹=2 directed_by⁻¹=3
    assert graph.num_nodes == 5
    assert graph.relation_names == ("interact", "directed_by", "interact⁻¹", "directed_by⁻¹")
    expected = [
        (0, 0, 2), (0, 1, 3),  # interact
        (1, 2, 4), (1, 3, 4),  # directed_by
        (2, 2, 0), (2, 3, 1),  # interact⁻¹
        (3, 4, 2), (3, 4, 3),  # directed_by⁻¹
    ]
    edges = list(zip(graph.data.edge_type.tolist(), *graph.data.edge_index.tolist()))
    assert edges == expected
    assert graph.data.node_type.tolist() == [0, 0, 1, 1, 2]
    assert [graph.node_name(n) for n in range(5)] == ["user u1", "user u2", "Heat", "Collateral", "Michael Mann"]


def test_unique_edges_are_numpys_unique_rows() -> None:
    rng = np.random.default_rng(0)
    for num_nodes in (1, 7, 5000):
        rel, src, dst = rng.integers(0, 5, 3000), rng.integers(0, num_nodes, 3000), rng.integers(0, num_nodes, 3000)
        expected = np.unique(np.stack([rel, src, dst], axis=1), axis=0)
        assert np.array_equal(unique_edges(rel, src, dst, num_nodes), expected)
    none = np.zeros(0, dtype=np.int64)
    assert unique_edges(none, none, none, 3).shape == (0, 3)


def test_held_out_interaction_never_enters_the_graph(five_node_dataset: RecDataset) -> None:
    graph = CollaborativeKG.build(five_node_dataset, _train(five_node_dataset))
    pairs = set(zip(*graph.data.edge_index.tolist()))
    assert (0, 3) not in pairs and (3, 0) not in pairs


def test_inverse_relation_ids(five_node_dataset: RecDataset) -> None:
    graph = CollaborativeKG.build(five_node_dataset, _train(five_node_dataset))
    assert [graph.inverse(r) for r in range(4)] == [2, 3, 0, 1]
    for relation in range(4):
        forward = graph.data.edge_index[:, graph.data.edge_type == relation]
        backward = graph.data.edge_index[:, graph.data.edge_type == graph.inverse(relation)]
        assert sorted(zip(*forward.tolist())) == sorted(zip(*backward.flip(0).tolist()))


def test_item_entity_adjacency_links_items_through_their_director(five_node_dataset: RecDataset) -> None:
    graph = CollaborativeKG.build(five_node_dataset, _train(five_node_dataset))
    adjacency = graph.item_entity_adjacency().to_dense()
    assert adjacency.tolist() == [[0, 0, 0, 0, 1], [0, 0, 0, 0, 1]]
    co_linked = (adjacency @ adjacency.T).tolist()
    assert co_linked == [[1, 1], [1, 1]]  # i1 and i2 share one entity


def test_adjacency_filters_relations(five_node_dataset: RecDataset) -> None:
    graph = CollaborativeKG.build(five_node_dataset, _train(five_node_dataset))
    interact = graph.adjacency([0]).to_dense()
    assert torch.nonzero(interact).tolist() == [[0, 2], [1, 3]]
    assert graph.adjacency()._nnz() == 8


def test_entity_linked_to_two_items_gives_both_items_its_edges() -> None:
    import pandas as pd

    dataset = RecDataset.from_frames(
        "dup",
        pd.DataFrame({"user": ["u"], "item": ["a"]}),
        pd.DataFrame({"head": ["e"], "relation": ["genre"], "tail": ["g"]}),
        pd.DataFrame({"item": ["a", "b"], "entity": ["e", "e"]}),
        item_catalogue=["a", "b"],
    )
    graph = CollaborativeKG.build(dataset, dataset.interactions)
    genre = graph.data.edge_index[:, graph.data.edge_type == 1]
    assert sorted(zip(*genre.tolist())) == [(1, 3), (2, 3)]  # items a=1, b=2 -> g=3


def test_networkx_export_keeps_names_and_relations(five_node_dataset: RecDataset) -> None:
    graph = CollaborativeKG.build(five_node_dataset, _train(five_node_dataset))
    nx_graph = graph.to_networkx()
    assert nx_graph.number_of_nodes() == 5 and nx_graph.number_of_edges() == 8
    assert nx_graph.nodes[4] == {"kind": "entity", "name": "Michael Mann", "index": 2}
    assert [d["relation_name"] for _, _, d in nx_graph.edges(2, data=True)] == ["directed_by", "interact⁻¹"]
    one_hop = graph.neighbourhood(0, hops=1)
    assert sorted(one_hop.nodes) == [0, 2]
    two_hops = graph.neighbourhood(0, hops=2)
    assert sorted(two_hops.nodes) == [0, 2, 4]


@pytest.mark.parametrize("device", ["cpu"])
def test_graph_lives_on_the_configured_device(five_node_dataset: RecDataset, device: str) -> None:
    graph = CollaborativeKG.build(five_node_dataset, _train(five_node_dataset), device=device)
    assert graph.data.edge_index.device.type == device
