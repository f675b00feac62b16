"""Baselines behind the same interface: Pop, BPR-MF and LightGCN (PyG's implementation)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn.models import LightGCN as PygLightGCN

from kgrec.config import ModelConfig
from kgrec.data.graph import CollaborativeKG
from kgrec.errors import ConfigError
from kgrec.models.base import RankingModel
from kgrec.models.kgrec import KGRec
from kgrec.models.layers import edge_weights


class Pop(RankingModel):
    """Every user gets the items ranked by their number of training interactions."""

    trainable = False

    def __init__(self, graph: CollaborativeKG, config: ModelConfig) -> None:
        super().__init__(graph.n_users, graph.n_items)
        self.register_buffer("popularity", torch.as_tensor(item_popularity(graph), dtype=torch.float32))

    def score_users(self, users: Tensor) -> Tensor:
        return self.popularity.expand(len(users), -1)

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        return self.popularity[items]


class BPRMF(RankingModel):
    """Matrix factorisation trained with BPR (Rendle et al., 2009)."""

    def __init__(self, graph: CollaborativeKG, config: ModelConfig) -> None:
        super().__init__(graph.n_users, graph.n_items, config.l2)
        self.user_emb = nn.Embedding(graph.n_users, config.dim)
        self.item_emb = nn.Embedding(graph.n_items, config.dim)
        nn.init.normal_(self.user_emb.weight, std=0.1)
        nn.init.normal_(self.item_emb.weight, std=0.1)

    def embeddings(self) -> tuple[Tensor, Tensor]:
        return self.user_emb.weight, self.item_emb.weight

    def ego_embeddings(self, users: Tensor, items: Tensor) -> list[Tensor]:
        return [self.user_emb(users), self.item_emb(items)]


class LightGCN(RankingModel):
    """LightGCN (He et al., SIGIR 2020) on the user–item edges of the training graph, via PyG."""

    def __init__(self, graph: CollaborativeKG, config: ModelConfig) -> None:
        super().__init__(graph.n_users, graph.n_items, config.l2)
        keep = graph.is_interact(graph.data.edge_type)
        self.register_buffer("edge_index", graph.data.edge_index[:, keep].clone())
        self.register_buffer("edge_type", graph.data.edge_type[keep].clone(), persistent=False)  # not in model.pt
        self.net = PygLightGCN(graph.n_users + graph.n_items, config.dim, config.layers)
        nn.init.normal_(self.net.embedding.weight, std=0.1)

    def embeddings(self) -> tuple[Tensor, Tensor]:
        nodes = self.net.get_embedding(self.edge_index)
        return nodes[: self.n_users], nodes[self.n_users :]

    def propagation_edges(self) -> Tensor:
        return self.edge_index

    def propagation_edge_type(self) -> Tensor:
        return self.edge_type

    def propagation_weights(self) -> Tensor:
        """LightGCN's symmetric normalisation 1/sqrt(deg(i)·deg(j))."""
        return edge_weights(None, self.edge_index, self.n_users + self.n_items)

    def embeddings_without(self, dropped: Tensor) -> tuple[Tensor, Tensor]:
        nodes = self.net.get_embedding(self.edge_index[:, ~dropped])
        return nodes[: self.n_users], nodes[self.n_users :]

    def ego_embeddings(self, users: Tensor, items: Tensor) -> list[Tensor]:
        return [self.net.embedding(users), self.net.embedding(items + self.n_users)]


def build_model(graph: CollaborativeKG, config: ModelConfig) -> RankingModel:
    """The recommender named by ``config.model``."""
    models = {"kgrec": KGRec, "lightgcn": LightGCN, "bprmf": BPRMF, "pop": Pop}
    if config.model not in models:
        raise ConfigError(f"unknown model {config.model!r}; models: {', '.join(models)}")
    return models[config.model](graph, config)


def item_popularity(graph: CollaborativeKG) -> np.ndarray:
    """Training interactions per item."""
    return np.bincount((graph.data.edge_index[1, graph.user_item_edges()] - graph.n_users).cpu().numpy(), minlength=graph.n_items)
