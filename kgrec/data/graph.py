"""CollaborativeKG: users, items and KG entities in one node space, with typed edges, as a PyG ``Data``.

Node ids: users ``[0, U)``, items ``[U, U+I)``, entities not linked to an item ``[U+I, N)``. Items are KG
entities (KGAT's convention): a KG triple on a linked entity is an edge on its item node.

Relation ids follow :mod:`kgrec.data.relations` (``0`` = ``interact``, then the KG relations, then the
inverses in the same order); the graph has those conventions as methods (``inverse``, ``forward``,
``is_interact``, ``kg_relations``, ...). Interaction edges come from the training part of a split only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Data
from torch_geometric.utils import k_hop_subgraph

from kgrec.data.dataset import IdMap, Interactions, RecDataset
from kgrec.data.relations import INTERACT, INTERACT_ID, INVERSE_SUFFIX, RelationIds

USER, ITEM, ENTITY = 0, 1, 2
NODE_KINDS = ("user", "item", "entity")


def unique_edges(rel: np.ndarray, src: np.ndarray, dst: np.ndarray, num_nodes: int) -> np.ndarray:
    """The distinct (relation, source, target) rows [E, 3], sorted by relation, then source, then target.

    One integer key per edge (as :func:`kgrec.explain.explainer.edge_keys`), sorted, repeats dropped: what
    ``np.unique(rows, axis=0)`` gives, but ``np.unique`` sorts rows as records and, on integers, goes through
    a hash table (numpy >= 2.3); on lastfm-dbpedia's 350k edges either took 0.25 s, the sort 10 ms."""
    keys = np.sort((rel.astype(np.int64) * num_nodes + src) * num_nodes + dst)
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    relation, node_pair = np.divmod(keys[first], np.int64(num_nodes) * num_nodes)
    return np.stack([relation, node_pair // num_nodes, node_pair % num_nodes], axis=1)


@dataclass(frozen=True, eq=False)
class CollaborativeKG(RelationIds):
    """The collaborative knowledge graph of a dataset and its training interactions.

    ``data`` is a PyG ``Data`` with ``edge_index`` (2 × E, source row first), ``edge_type`` (E),
    ``node_type`` (N: 0 user, 1 item, 2 entity) and ``num_nodes``. Edges are unique and sorted by
    (relation, source, target).
    """

    dataset: RecDataset
    data: Data
    relation_names: tuple[str, ...]
    node_index: np.ndarray  # per node: its id within its kind (user id, item id or dataset entity id)
    entity_nodes: pd.DataFrame  # columns entity, node: every node that stands for a dataset entity

    # ---- construction ------------------------------------------------------------------------------------
    @classmethod
    def build(cls, dataset: RecDataset, train: Interactions, device: str | torch.device = "cpu") -> CollaborativeKG:
        """Build the graph from ``dataset``'s KG and the ``train`` interactions (never valid or test)."""
        n_users, n_items = dataset.n_users, dataset.n_items
        linked = np.flatnonzero(dataset.item_entity >= 0)
        item_links = pd.DataFrame({"entity": dataset.item_entity[linked], "node": n_users + linked})
        others = np.setdiff1d(np.arange(dataset.n_entities), item_links["entity"].to_numpy())
        other_links = pd.DataFrame({"entity": others, "node": n_users + n_items + np.arange(len(others))})
        entity_nodes = pd.concat([item_links, other_links], ignore_index=True)
        num_nodes = n_users + n_items + len(others)

        triples = pd.DataFrame(dataset.triples, columns=["head", "relation", "tail"])
        kg = triples.merge(entity_nodes.rename(columns={"entity": "head", "node": "src"}), on="head").merge(
            entity_nodes.rename(columns={"entity": "tail", "node": "dst"}), on="tail"
        )
        n_rel = dataset.n_relations
        src = np.concatenate([train.user, kg["src"].to_numpy()])
        dst = np.concatenate([n_users + train.item, kg["dst"].to_numpy()])
        rel = np.concatenate([np.full(len(train), INTERACT_ID, dtype=np.int64), kg["relation"].to_numpy() + 1])
        src, dst, rel = np.concatenate([src, dst]), np.concatenate([dst, src]), np.concatenate([rel, rel + n_rel + 1])
        edges = unique_edges(rel, src, dst, num_nodes)

        node_type = np.full(num_nodes, ENTITY, dtype=np.int64)
        node_type[:n_users] = USER
        node_type[n_users : n_users + n_items] = ITEM
        node_index = np.concatenate([np.arange(n_users), np.arange(n_items), others]).astype(np.int64)
        names = [INTERACT, *(str(r) for r in dataset.relations.raw_ids)]
        data = Data(
            edge_index=torch.from_numpy(np.ascontiguousarray(edges[:, 1:].T)),
            edge_type=torch.from_numpy(np.ascontiguousarray(edges[:, 0])),
            node_type=torch.from_numpy(node_type),
            num_nodes=num_nodes,
        ).to(device)
        return cls(dataset, data, tuple(names + [n + INVERSE_SUFFIX for n in names]), node_index, entity_nodes)

    # ---- sizes and ids -----------------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return self.dataset.n_users

    @property
    def n_items(self) -> int:
        return self.dataset.n_items

    @property
    def num_nodes(self) -> int:
        return int(self.data.num_nodes)

    def item_node(self, item: int) -> int:
        return self.n_users + item

    def user_item_edges(self) -> torch.Tensor:
        """Bool mask [E] of the ``interact`` edges user -> item (the training interactions, once each)."""
        return self.data.edge_type == self.interact

    def relation_display_name(self, raw: str) -> str:
        """The dataset's readable name of a raw KG relation ("" for ``interact``, an unnamed or unknown one)."""
        return self._relation_display_names.get(str(raw), "")

    @cached_property
    def _relation_display_names(self) -> dict[str, str]:
        """Raw relation id → its readable name, for the named relations only (asked once per path edge)."""
        relations = self.dataset.relations
        names = (str(name).strip() if name else "" for name in relations.names)
        return {raw: name for raw, name in zip(map(str, relations.raw_ids), names) if name and raw != INTERACT}

    def node_kind(self, node: int) -> str:
        """'user', 'item' or 'entity'."""
        return self._node_table[0][node]

    def node_raw(self, node: int) -> str:
        """The raw id of a node in its kind's id space (a user's, an item's or an entity's raw id)."""
        return self._node_table[1][node]

    def node_name(self, node: int) -> str:
        """Display name of a node (never empty: unnamed entities show as 'entity <raw id>')."""
        return self._node_table[2][node]

    def node_has_name(self, node: int) -> bool:
        """Whether the data names the node (else :meth:`node_name` is the fallback '<kind> <raw id>')."""
        return self._ids_of(node).has_name(int(self.node_index[node]))

    def _ids_of(self, node: int) -> IdMap:
        """The id map of the node's kind (users, items or entities)."""
        return self._id_maps[NODE_KINDS.index(self.node_kind(node))]

    @property
    def _id_maps(self) -> tuple[IdMap, IdMap, IdMap]:
        """The id maps of the node types ``USER``, ``ITEM``, ``ENTITY``, in that order."""
        return self.dataset.users, self.dataset.items, self.dataset.entities

    @cached_property
    def _node_table(self) -> tuple[list[str], list[str], list[str]]:
        """Per node: kind, raw id and display name, as plain lists built once (one explained list names
        hundreds of nodes, and a list lookup is what a server can afford per node)."""
        maps = self._id_maps
        node_type = self.data.node_type.cpu().numpy()
        kinds = [NODE_KINDS[t] for t in node_type.tolist()]
        raws, names = [], []
        for kind, index in zip(node_type.tolist(), self.node_index.tolist()):
            raws.append(maps[kind].raw(index))
            names.append(maps[kind].name(index))
        return kinds, raws, names

    # ---- matrices ----------------------------------------------------------------------------------------
    def adjacency(self, relations: Iterable[int] | None = None) -> torch.Tensor:
        """Sparse N × N 0/1 adjacency (source row, target column) over the given relation ids (all if None)."""
        edge_index, edge_type = self.data.edge_index, self.data.edge_type
        if relations is not None:
            keep = torch.isin(edge_type, torch.as_tensor(list(relations), device=edge_type.device))
            edge_index = edge_index[:, keep]
        values = torch.ones(edge_index.size(1), device=edge_index.device)
        return torch.sparse_coo_tensor(edge_index, values, (self.num_nodes, self.num_nodes), check_invariants=False).coalesce()

    def item_entity_adjacency(self) -> torch.Tensor:
        """Sparse I × N 0/1 matrix: item i (row) has a KG edge, of any KG relation or inverse, to node n.

        Paths item → entity → item are ``A @ A.T``; a user's KG-reachable items are ``x_u @ A @ A.T``.
        """
        edge_index, edge_type = self.data.edge_index, self.data.edge_type
        is_kg = ~self.is_interact(edge_type)
        source = edge_index[0]
        keep = is_kg & (source >= self.n_users) & (source < self.n_users + self.n_items)
        rows, cols = source[keep] - self.n_users, edge_index[1, keep]
        values = torch.ones(rows.numel(), device=rows.device)
        return torch.sparse_coo_tensor(
            torch.stack([rows, cols]), values, (self.n_items, self.num_nodes), check_invariants=False
        ).coalesce()

    # ---- export ------------------------------------------------------------------------------------------
    def to_networkx(self, nodes: Iterable[int] | None = None) -> nx.MultiDiGraph:
        """The graph (or the subgraph induced by ``nodes``) as a networkx MultiDiGraph with names.

        Nodes carry ``kind``, ``name`` and ``index`` (id within the kind); edges carry ``relation`` (id)
        and ``relation_name``.
        """
        edge_index = self.data.edge_index.cpu().numpy()
        edge_type = self.data.edge_type.cpu().numpy()
        node_list = np.arange(self.num_nodes) if nodes is None else np.unique(np.fromiter(nodes, dtype=np.int64))
        inside = np.zeros(self.num_nodes, dtype=bool)
        inside[node_list] = True
        keep = inside[edge_index[0]] & inside[edge_index[1]]
        graph = nx.MultiDiGraph()
        graph.add_nodes_from(
            (int(n), {"kind": self.node_kind(n), "name": self.node_name(n), "index": int(self.node_index[n])})
            for n in node_list
        )
        graph.add_edges_from(
            (int(s), int(t), {"relation": int(r), "relation_name": self.relation_names[r]})
            for s, t, r in zip(edge_index[0, keep], edge_index[1, keep], edge_type[keep])
        )
        return graph

    def neighbourhood(self, node: int, hops: int = 2) -> nx.MultiDiGraph:
        """The ``hops``-hop neighbourhood of ``node`` (every edge has its inverse, so direction is moot)."""
        subset, _, _, _ = k_hop_subgraph(int(node), hops, self.data.edge_index, num_nodes=self.num_nodes)
        return self.to_networkx(subset.tolist())
