"""Are explanations faithful? Delete the explanation's edges, re-score, and compare with random deletions.

For an explained top-k item i of user u the explanation's edges are the told evidence: every edge of its
told paths (``expl.told_paths``: each instance of the told rule — the interaction u–j and the KG edges
from j to i — or the co-like paths u–j–u′–i), deleted in both directions.
The control deletes as many random edges incident to the user's history (u–j' interactions and the
edges of the history items j'), never one of the explanation's. A case counts as *faithful* when the
explanation's deletion lowers the item's rank more than the control's (a tie in rank is decided by the
larger score drop). Ranks are among the items not in the user's training history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from kgrec.data.graph import CollaborativeKG
from kgrec.evaluation.ranking import history_mask, rank_of
from kgrec.explain.types import Explanation, Path
from kgrec.models.base import RankingModel


@dataclass(frozen=True)
class DeletionCase:
    """One explained recommendation under the deletion test."""

    user: int
    item: int
    rank: int
    edges: int
    rank_drop: int
    score_drop: float
    random_rank_drop: int
    random_score_drop: float

    @property
    def faithful(self) -> bool:
        """The explanation's deletion hurts the item more than the random control's."""
        if self.rank_drop != self.random_rank_drop:
            return self.rank_drop > self.random_rank_drop
        return self.score_drop > self.random_score_drop

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "faithful": self.faithful}


def edge_keys(pairs: np.ndarray, num_nodes: int) -> np.ndarray:
    """Undirected keys min·N + max of node pairs [n, 2]."""
    low, high = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    return low.astype(np.int64) * num_nodes + high


def path_pairs(explanation: Explanation) -> np.ndarray:
    """The node pairs [L, 2] of the explanation's told evidence (empty when it has none)."""
    return edges_of(explanation.told_paths)


def edges_of(paths: Sequence[Path]) -> np.ndarray:
    """The node pairs [L, 2] of every edge of ``paths``, an edge shared by several paths (or walked both
    ways) once, in path order."""
    pairs: dict[tuple[int, int], None] = {}
    for path in paths:
        for a, b in zip(path.nodes[:-1], path.nodes[1:]):
            if (b, a) not in pairs:  # deleted in both directions: one undirected edge
                pairs.setdefault((int(a), int(b)), None)
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.array(list(pairs), dtype=np.int64).reshape(-1, 2)


def history_pairs(graph: CollaborativeKG, user: int, history: np.ndarray) -> np.ndarray:
    """Undirected node pairs of every edge incident to the user's history items (u–j included)."""
    edge_index = graph.data.edge_index.cpu().numpy()
    nodes = np.zeros(graph.num_nodes, dtype=bool)
    nodes[graph.n_users + history] = True
    keep = (nodes[edge_index[0]] | nodes[edge_index[1]]) & (edge_index[0] < edge_index[1])  # each edge once
    return edge_index[:, keep].T


class DeletionTest:
    """Re-scores a user's items with edges deleted from a graph model's propagation graph."""

    def __init__(self, model: RankingModel, graph: CollaborativeKG) -> None:
        edges = model.propagation_edges()
        if edges is None:
            raise ValueError(f"the deletion test needs a graph model (kgrec or lightgcn), not {type(model).__name__}")
        self.model, self.graph = model, graph
        self.keys = edge_keys(edges.cpu().numpy().T, graph.num_nodes)
        self.device = edges.device

    def dropped(self, pairs: np.ndarray) -> np.ndarray:
        """Bool [E] over the model's propagation edges: those between the node pairs ``pairs`` [n, 2], in
        either direction and of any relation."""
        return np.isin(self.keys, edge_keys(pairs, self.graph.num_nodes))

    def scores_without(self, user: int, pairs: np.ndarray) -> Tensor:
        """Scores of every item for ``user`` after deleting the undirected edges ``pairs``."""
        return self.scores_dropping(user, self.dropped(pairs))

    def scores_dropping(self, user: int, dropped: np.ndarray) -> Tensor:
        """Scores of every item for ``user`` with the propagation edges ``dropped`` (bool [E]) left out."""
        mask = torch.as_tensor(dropped, device=self.device)
        return self.model.score_users_without(torch.tensor([user], device=self.device), mask)[0].cpu()

    def run(self, explanations: list[Explanation], history: np.ndarray, base: Tensor, rng: np.random.Generator) -> list[DeletionCase]:
        """Deletion cases of one user's explanations (those with a path); ``base`` = the unmodified scores."""
        if not explanations:
            return []
        user = explanations[0].user
        candidates = history_pairs(self.graph, user, history)
        candidate_keys = edge_keys(candidates, self.graph.num_nodes) if len(candidates) else np.zeros(0, dtype=np.int64)
        masked = history_mask(history, len(base))
        cases = []
        for explanation in explanations:
            pairs = path_pairs(explanation)
            if not len(pairs):
                continue
            pool = candidates[~np.isin(candidate_keys, edge_keys(pairs, self.graph.num_nodes))]
            random_pairs = pool[rng.choice(len(pool), size=min(len(pairs), len(pool)), replace=False)] if len(pool) else pool
            item = explanation.item
            before = rank_of(base, item, masked)
            explained = self.scores_without(user, pairs)
            control = self.scores_without(user, random_pairs)
            cases.append(
                DeletionCase(
                    user, item, before, len(pairs),
                    rank_of(explained, item, masked) - before, float(base[item] - explained[item]),
                    rank_of(control, item, masked) - before, float(base[item] - control[item]),
                )
            )
        return cases


def summarise_cases(cases: list[DeletionCase]) -> dict[str, float]:
    """fidelity (share faithful), its strict form (rank drop larger, ties count as not faithful), the share
    of rank ties, and the mean rank and score drops of explanation and random deletions."""
    if not cases:
        return {"cases": 0, "fidelity": float("nan"), "fidelity_strict_rank": float("nan"), "rank_ties": float("nan"), "mean_rank_drop": float("nan"), "random_rank_drop": float("nan"),
                "mean_score_drop": float("nan"), "random_score_drop": float("nan")}
    return {
        "cases": len(cases),
        "fidelity": float(np.mean([c.faithful for c in cases])),
        "fidelity_strict_rank": float(np.mean([c.rank_drop > c.random_rank_drop for c in cases])),
        "rank_ties": float(np.mean([c.rank_drop == c.random_rank_drop for c in cases])),
        "mean_rank_drop": float(np.mean([c.rank_drop for c in cases])),
        "random_rank_drop": float(np.mean([c.random_rank_drop for c in cases])),
        "mean_score_drop": float(np.mean([c.score_drop for c in cases])),
        "random_score_drop": float(np.mean([c.random_score_drop for c in cases])),
    }
