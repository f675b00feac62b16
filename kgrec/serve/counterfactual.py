"""What if the model had not seen some edges? An item's score and rank for a user with history items,
relations, explanation paths or single edges left out of the model's propagation: the deletion test of
:mod:`kgrec.explain.fidelity`, asked interactively for one item (the ``remove`` syntax: :mod:`kgrec.serve.params`).

Ranks are among the items not in the user's training history, as the recommendation list ranks them; the
history stays the training split's whatever is removed from the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kgrec.errors import KgrecError, UnknownIdError
from kgrec.evaluation.ranking import history_mask, rank_of
from kgrec.explain.fidelity import DeletionTest, edges_of, path_pairs
from kgrec.explain.render import user_info
from kgrec.explain.types import Explanation
from kgrec.recommender import Recommender
from kgrec.serve.params import ParameterError, Removal, edge_nodes, index_of


class NoGraphError(KgrecError):
    """The run's model propagates over no graph (bprmf, pop), so there is nothing to leave out."""


class Counterfactual:
    """Re-scores one user's items with parts of a graph model's propagation graph left out."""

    def __init__(self, rec: Recommender) -> None:
        self.rec, self.graph = rec, rec.graph
        self.deletion: DeletionTest | None = None
        edges = rec.model.propagation_edges()
        if edges is None:
            return
        self.deletion = DeletionTest(rec.model, rec.graph)
        source, target = edges.cpu().numpy().astype(np.int64)
        self.relation = self.graph.forward(rec.model.propagation_edge_type().cpu().numpy().astype(np.int64))
        n = np.int64(self.graph.num_nodes)
        # one key per edge and its inverse: (forward relation, lower node, higher node)
        self.undirected = (self.relation * n + np.minimum(source, target)) * n + np.maximum(source, target)

    def answer(self, user: int, item: int, removals: Sequence[Removal]) -> dict[str, Any]:
        """The item's original and counterfactual score and rank for ``user`` (dataset ids), the edges each
        removal leaves out and how many edges that is in all (an edge and its inverse count once)."""
        deletion = self.deletion
        if deletion is None:
            raise NoGraphError(f"counterfactuals need a graph model (kgrec or lightgcn); this run's model "
                               f"{self.rec.config.model.model} propagates over no graph")
        base = self.rec.scores(user)
        masked = history_mask(self.rec.history(user), len(base))
        if masked[item]:
            raise ParameterError("item", f"{self._item_label(item)} is in the training history of "
                                 f"{self._user_label(user)}: it is never recommended to them, so it has no rank")
        told = any(r.kind in ("path", "told") for r in removals)
        explanation = self.rec.explain(user, item) if told else None
        dropped = np.zeros(len(self.undirected), dtype=bool)
        entries = []
        for removal in removals:
            if explanation is not None and removal.kind in ("path", "told"):
                part = deletion.dropped(self._explanation_pairs(explanation, removal))
            else:
                part = self._dropped(deletion, user, removal)
            entries.append({"entry": removal.entry, "edges": self._count(part)})
            dropped |= part
        scores = deletion.scores_dropping(user, dropped)
        return {
            "user": user_info(self.graph, user),
            "item": {"id": int(item), "node": self.graph.item_node(item), "raw": self.rec.dataset.items.raw(item),
                     "name": self.rec.dataset.items.name(item)},
            "remove": entries,
            "edges_removed": self._count(dropped),
            "original": {"score": float(base[item]), "rank": rank_of(base, item, masked)},
            "counterfactual": {"score": float(scores[item]), "rank": rank_of(scores, item, masked)},
            "ranked_items": int((~masked).sum()),
        }

    def _dropped(self, deletion: DeletionTest, user: int, removal: Removal) -> np.ndarray:
        """Bool [E] over the propagation edges: those a ``history``, ``relation`` or ``edge`` removal names."""
        if removal.kind == "relation":
            return self.relation == self._relation(removal.value)
        if removal.kind == "history":
            return deletion.dropped(np.array([[user, self.graph.item_node(self._history_item(user, removal.value))]]))
        a, b = edge_nodes(removal.value, removal.entry)
        if max(a, b) >= self.graph.num_nodes:
            raise ParameterError("remove", f"{removal.entry}: node ids run from 0 to {self.graph.num_nodes - 1}")
        dropped = deletion.dropped(np.array([[a, b]], dtype=np.int64))
        if not dropped.any():
            raise ParameterError("remove", f"{removal.entry}: nodes {a} and {b} are not adjacent in the model's propagation graph")
        return dropped

    def _explanation_pairs(self, explanation: Explanation, removal: Removal) -> np.ndarray:
        """The node pairs [n, 2] of the explanation's told paths (``told``) or of its path ``k`` (``path:k``)."""
        where = f"the explanation of {self._item_label(explanation.item)} for {self._user_label(explanation.user)}"
        if removal.kind == "told":
            if not explanation.told:
                raise ParameterError("remove", f"told: {where} tells no path ({explanation.reason})")
            return path_pairs(explanation)
        k = index_of(removal.value, removal.entry)
        if k >= len(explanation.paths):
            shown = f"0..{len(explanation.paths) - 1}" if explanation.paths else "none"
            raise ParameterError("remove", f"{removal.entry}: {where} has {len(explanation.paths)} paths (indexes {shown})")
        return edges_of([explanation.paths[k]])

    def _relation(self, name: str) -> int:
        """The forward id of a relation named by its name or its inverse's."""
        names = self.graph.relation_names
        if name not in names:
            forward = ", ".join(names[: self.graph.num_forward_relations])
            raise ParameterError("remove", f"relation:{name}: unknown relation; expected one of {forward} (or an inverse)")
        return int(self.graph.forward(names.index(name)))

    def _history_item(self, user: int, query: str) -> int:
        """The dataset id of an item of the user's training history, given by raw id or name."""
        try:
            item = self.rec.item_id(query)
        except UnknownIdError as error:
            raise ParameterError("remove", f"history:{query}: {error}") from None
        if item not in set(self.rec.history(user).tolist()):
            raise ParameterError("remove", f"history:{query}: {self._item_label(item)} is not in the training history "
                                 f"of {self._user_label(user)} ({len(self.rec.history(user))} items)")
        return item

    def _count(self, dropped: np.ndarray) -> int:
        return len(np.unique(self.undirected[dropped]))

    def _user_label(self, user: int) -> str:
        return f"user {self.rec.dataset.users.raw(user)!r}"

    def _item_label(self, item: int) -> str:
        return f"item {self.rec.dataset.items.raw(item)!r} ({self.rec.dataset.items.name(item)})"
