r"""Enumerate and score the relation paths that connect a user to recommended items in the training CKG.

A path is a *simple* walk (no repeated node) ``u -interact-> n_1 -r_2-> … -r_L-> i`` from the user node to the
item node, of ``2 ≤ L ≤ max_len`` edges, e.g. ``u -interact-> j -r-> e -r'-> i`` (L = 3, the main case) or the
collaborative ``u -interact-> j -interact⁻¹-> u' -interact-> i``. With ``collaborative=False`` no user node
other than ``u`` may appear. The direct edge ``u -> i`` (L = 1, a training item) is never a path.

**Weight.** A path's weight is the product of the per-edge propagation weights along it. In a linear
propagation :math:`x^{(l+1)}_t = \sum_{(s \to t)} w_{st} x^{(l)}_s` (the ``mean`` aggregator), unrolling
:math:`l` layers gives :math:`x^{(l)}_i = \sum_{\text{walks } s \to \dots \to i \text{ of } l \text{ edges}}
\big(\prod_{e \in \text{walk}} w_e\big) x^{(0)}_s`: each walk carries its source embedding into its target
scaled by exactly the product of its edge weights. A path of L edges from ``u`` to ``i`` thus carries the
user's own embedding into the item's layer-L representation with that factor, and adds
:math:`\text{weight} \cdot \langle \bar u, x^{(0)}_u \rangle / (\text{layers} + 1)` to the score
:math:`\langle \bar u, \bar i \rangle` (first order only for the non-linear ``sum`` / ``bi`` aggregators).

**Algorithm (vectorised, meet in the middle).** Partial walks are tables of node / relation / weight arrays.
Forward walks grow from the user by slicing the out-edge CSR of their last nodes; backward walks grow from
all target items at once by slicing the in-edge CSR of their first nodes, and the longest of them only
from nodes where some forward walk ends (a semi-join). A path of L edges joins the forward walks of
``⌈L/2⌉`` edges with the backward walks of ``⌊L/2⌋`` edges on the meeting node (``searchsorted`` over the
sorted meeting nodes) and drops joins that repeat a node: one join per length for all items, no Python
loop over paths or items.

**Bound for 3 edges (exact).** With ``max_len`` 3 the forward walks ``u → j → m`` are joined only with single
edges ``m → i`` into a target, and on dense data most of them lie on no top-``k`` path (tens of thousands per
user on MovieLens-1M, through other users). Each edge ``m → i`` with the heaviest step to ``m`` is one real
path; the k-th heaviest of these paths, τ_i, is at most the k-th heaviest path to ``i``, so a step to ``m``
is kept only if its weight · w(m → i) ≥ τ_i for some edge ``m → i``. Every path at least as heavy as the k-th
one is kept: the top lists, ties included, equal the exhaustive ones.

**Pruning for L ≥ 4 (exact up to ties).** Shorter paths are enumerated exhaustively (up to the bound above).
For longer ones, partial walks of ≥ 2 edges are pruned before being extended or joined: per meeting node
(forward) or per (meeting node, item) (backward) only the ``k + c·s`` heaviest are kept, with
``k = max_paths``, ``c`` the number of nodes of the rest of the path that could repeat one of the walk's inner
nodes and ``s`` the most walks of one group that share an inner node (1–2 in practice: parallel relations). The
weight is the product of the two halves, so a dropped walk has ≥ ``k + c·s`` heavier siblings with the same
end; at most ``c·s`` of them collide with the rest of a path, so ≥ ``k`` heavier paths to the same item exist
and the dropped walk's paths are not in the top ``k``. The kept top lists therefore equal the exhaustive ones,
except for which of several equally heavy paths survive at the cut. This bounds the work on popular items and
heavy users, where walks through other users explode.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from kgrec.data.graph import CollaborativeKG
from kgrec.errors import UnknownItemError, UnknownUserError
from kgrec.explain.types import Path

_PRUNE_FROM = 4  # paths of this many edges or more are joined from pruned halves
_BOUND_FROM = 20_000  # the 3-edge bound is computed from this many forward steps on (cheaper than joining them)


@dataclass(frozen=True)
class _Walks:
    """Partial walks: ``nodes`` (n × k+1), ``rels`` (n × k), ``weight`` (n)."""

    nodes: np.ndarray
    rels: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.weight)

    def take(self, rows: np.ndarray) -> _Walks:
        return _Walks(self.nodes[rows], self.rels[rows], self.weight[rows])


@dataclass(frozen=True)
class FoundPaths:
    """The paths found to one item as arrays, in the finder's order (heaviest first): ``nodes``
    (n × L+1) and ``relations`` (n × L), padded with -1, ``weight`` and ``length`` (edges) per row.

    :class:`Path` objects are made only for the rows asked for (:meth:`paths`): an explained top-10 finds
    thousands of paths and tells a few of them.
    """

    nodes: np.ndarray
    relations: np.ndarray
    weight: np.ndarray
    length: np.ndarray

    def __len__(self) -> int:
        return len(self.weight)

    @classmethod
    def of(cls, paths: Sequence[Path]) -> FoundPaths:
        """The arrays of a list of paths (in its order)."""
        width = max((p.length for p in paths), default=1)
        nodes = np.full((len(paths), width + 1), -1, dtype=np.int64)
        relations = np.full((len(paths), width), -1, dtype=np.int64)
        for row, path in enumerate(paths):
            nodes[row, : path.length + 1], relations[row, : path.length] = path.nodes, path.relations
        return cls(nodes, relations, np.array([p.weight for p in paths], dtype=np.float64),
                   np.array([p.length for p in paths], dtype=np.int64))

    def take(self, rows: np.ndarray) -> FoundPaths:
        """The given rows (indexes or a boolean mask), in that order."""
        return FoundPaths(self.nodes[rows], self.relations[rows], self.weight[rows], self.length[rows])

    def positive(self) -> FoundPaths:
        """The rows of positive weight (paths over edges the model ignores dropped); itself when every row is."""
        keep = self.weight > 0
        return self if keep.all() else self.take(keep)

    def paths(self, rows: Sequence[int] | np.ndarray | None = None) -> list[Path]:
        """The :class:`Path` of each of ``rows`` (all rows when None)."""
        found = self if rows is None else self.take(np.asarray(rows, dtype=np.intp))
        return [Path(nodes, relations, weight) for (nodes, relations), weight in zip(found.keys(), found.weight.tolist())]

    def keys(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """``(nodes, relations)`` of every row, as its :class:`Path` has them (without making the paths)."""
        rows = zip(self.nodes.tolist(), self.relations.tolist(), self.length.tolist())
        return [(tuple(nodes[: length + 1]), tuple(relations[:length])) for nodes, relations, length in rows]


def _padded(blocks: Sequence[np.ndarray], width: int) -> np.ndarray:
    """The 2-D ``blocks`` (equal rows) side by side, then padded with -1 to ``width`` columns."""
    out = np.full((len(blocks[0]), width), -1, dtype=np.result_type(*blocks))
    start = 0
    for block in blocks:
        out[:, start : start + block.shape[1]] = block
        start += block.shape[1]
    return out


def _csr_slices(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every entry of every row in ``rows``: (index into ``rows``, position in the CSR arrays)."""
    start = indptr[rows]
    count = indptr[rows + 1] - start
    owner = np.repeat(np.arange(len(rows)), count)
    position = np.arange(owner.size) + np.repeat(start - (np.cumsum(count) - count), count)
    return owner, position


def _grouped_edges(node: np.ndarray, kept: np.ndarray, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``kept`` edges (a mask) grouped by ``node`` (their source or their target), stable (CKG order within a
    node): CSR row pointers over the nodes, and the edges in that order."""
    edges = np.flatnonzero(kept)
    order = edges[np.argsort(node[edges], kind="stable")]
    return np.r_[0, np.cumsum(np.bincount(node[edges], minlength=num_nodes))], order


def _path_order(
    target: np.ndarray, weight: np.ndarray, lengths: np.ndarray, nodes: np.ndarray, rels: np.ndarray
) -> np.ndarray:
    """The order of paths by target, weight descending, then shorter first, then node ids and relation ids; the
    tie-breakers are sorted by only when some target has equal weights (rare with learned edge weights)."""
    order = np.lexsort((-weight, target))
    sorted_target, sorted_weight = target[order], weight[order]
    ties = (sorted_target[1:] == sorted_target[:-1]) & (sorted_weight[1:] == sorted_weight[:-1])
    if ties.any() or np.isnan(weight).any():
        order = np.lexsort((*rels.T[::-1], *nodes.T[::-1], lengths, -weight, target))
    return order


def _top_per_target(target: np.ndarray, weight: np.ndarray, k: int, n_targets: int) -> np.ndarray:
    """Rows among the ``k`` heaviest of their target (0..n_targets-1), ties with the k-th included."""
    counts = np.bincount(target, minlength=n_targets)
    if counts.max(initial=0) <= k:
        return np.arange(len(weight))
    return np.flatnonzero(weight >= _kth_per_target(target, weight, k, counts, fewer=-np.inf)[target])


def _kth_per_target(target: np.ndarray, weight: np.ndarray, k: int, counts: np.ndarray, fewer: float) -> np.ndarray:
    """Per target (0..len(counts)-1, ``counts`` its rows): the ``k``-th largest weight of its rows, ``fewer``
    where it has fewer than ``k``."""
    kth = np.full(len(counts), fewer)
    order = np.argsort(target.astype(np.int16) if len(counts) < 2**15 else target, kind="stable")  # radix sort
    bounds = np.r_[0, np.cumsum(counts)]
    for t in np.flatnonzero(counts >= k):  # one O(n) partition per full target, never per path
        segment = weight[order[bounds[t] : bounds[t + 1]]]
        kth[t] = np.partition(segment, len(segment) - k)[len(segment) - k]
    return kth


def _top_per_group(group: np.ndarray, weight: np.ndarray, k: int) -> np.ndarray:
    """Sorted row indices of the ``k`` heaviest rows per group (earlier rows first among equal weights)."""
    _, inverse, counts = np.unique(group, return_inverse=True, return_counts=True)
    full = counts[inverse] > k
    if not full.any():
        return np.arange(len(weight))
    rows = np.flatnonzero(full)
    order = rows[np.lexsort((-weight[rows], inverse[rows]))]
    sorted_group = inverse[order]
    first = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    return np.sort(np.concatenate([np.flatnonzero(~full), order[rank < k]]))


class PathFinder:
    """Enumerates and scores the user → item paths of a collaborative KG (see the module docstring).

    ``edge_weight`` is aligned with ``graph.data.edge_index``'s columns (e.g. the model's propagation
    weights); None uses LightGCN's normalisation ``1/sqrt(deg(src)·deg(dst))`` with degrees over all CKG
    edges — the model's weights without attention. With ``relations`` only the edges of those relation ids
    and the interactions are walked, with ``edges`` (a boolean mask over the graph's edges) only the marked
    edges and the interactions (the weights stay the whole graph's).
    """

    def __init__(
        self,
        graph: CollaborativeKG,
        edge_weight: torch.Tensor | np.ndarray | None = None,
        max_len: int = 4,
        max_paths: int = 200,
        collaborative: bool = True,
        relations: Collection[int] | None = None,
        edges: np.ndarray | None = None,
    ) -> None:
        self.graph = graph
        self.max_len = self._check_len(max_len)
        if max_paths < 1:
            raise ValueError(f"max_paths must be at least 1, got {max_paths}")
        self.max_paths = int(max_paths)
        self.collaborative = bool(collaborative)
        self.n_users, self.n_items, self.num_nodes = graph.n_users, graph.n_items, graph.num_nodes

        src, dst = (a.astype(np.int64) for a in graph.data.edge_index.cpu().numpy())
        rel = graph.data.edge_type.cpu().numpy().astype(np.int64)
        if edge_weight is None:
            deg = np.maximum(np.bincount(dst, minlength=self.num_nodes), 1).astype(np.float64)
            weight = 1.0 / np.sqrt(deg[src] * deg[dst])
        else:
            if isinstance(edge_weight, torch.Tensor):
                edge_weight = edge_weight.detach().cpu().numpy()
            weight = np.asarray(edge_weight, dtype=np.float64).reshape(-1)
            if len(weight) != len(src):
                raise ValueError(f"edge_weight has {len(weight)} values for the graph's {len(src)} edges")
        self.edge_weight = weight
        if relations is not None or edges is not None:
            walked = np.ones(len(src), dtype=bool) if relations is None else np.isin(rel, list(relations))
            if edges is not None:
                if len(edges) != len(src):
                    raise ValueError(f"edges marks {len(edges)} edges of the graph's {len(src)}")
                walked &= np.asarray(edges, dtype=bool)
            walked |= graph.is_interact(rel)
            src, dst, rel, weight = src[walked], dst[walked], rel[walked], weight[walked]
        self._src, self._dst, self._rel = src, dst, rel
        # out-edges by source and in-edges by target, as CSR arrays (stable: CKG order within a node). Without
        # other users no walk steps into a user (the path's own user only starts it, with an edge to an item),
        # and no backward walk steps out of one: those edges are left out here, so the walks need no check
        self._into_no_user = np.ones(len(src), dtype=bool) if self.collaborative else dst >= self.n_users
        out_of_no_user = np.ones(len(src), dtype=bool) if self.collaborative else src >= self.n_users
        self._out_ptr, out = _grouped_edges(src, self._into_no_user, self.num_nodes)
        self._out_dst, self._out_rel, self._out_w = dst[out], rel[out], weight[out]
        self._in_ptr, into = _grouped_edges(dst, out_of_no_user, self.num_nodes)
        self._in_src, self._in_rel, self._in_w = src[into], rel[into], weight[into]
        self._adjacency: tuple[sp.csr_matrix, sp.csr_matrix] | None = None

    # ---- public API --------------------------------------------------------------------------------------
    def paths(self, user: int, item: int, max_len: int | None = None) -> list[Path]:
        """The top ``max_paths`` paths from ``user`` to ``item`` (dataset ids), heaviest first."""
        return self.paths_for_items(user, [item], max_len)[int(item)]

    def paths_for_items(self, user: int, items: Sequence[int], max_len: int | None = None) -> dict[int, list[Path]]:
        """Top ``max_paths`` paths from ``user`` to each of ``items`` (dataset ids), one join per length.

        Sorted by weight descending, then shorter first, then by node ids and relation ids.
        """
        return {item: found.paths() for item, found in self.found_for_items(user, items, max_len).items()}

    def found_for_items(self, user: int, items: Sequence[int], max_len: int | None = None) -> dict[int, FoundPaths]:
        """:meth:`paths_for_items` as arrays (:class:`FoundPaths`), one per distinct item (in order)."""
        max_len = self.max_len if max_len is None else self._check_len(max_len)
        user = self._check_user(user)
        item_ids = self._check_items(items)
        unique = list(dict.fromkeys(int(i) for i in item_ids))
        if not unique:
            return {}
        targets = self.n_users + np.unique(np.asarray(unique, dtype=np.int64))
        nodes, rels, weight, target = self._enumerate(user, targets, max_len, self.max_paths, prune=True)
        lengths = (rels >= 0).sum(axis=1)
        bounds = np.searchsorted(target, targets, "left"), np.searchsorted(target, targets, "right")
        rows = {int(t) - self.n_users: slice(int(a), int(b)) for t, a, b in zip(targets, *bounds)}
        return {i: FoundPaths(nodes[rows[i]], rels[rows[i]], weight[rows[i]], lengths[rows[i]]) for i in unique}

    def has_path(self, users: np.ndarray, items: np.ndarray, max_len: int = 3) -> np.ndarray:
        """Per (user, item) pair (dataset ids): is there a path of 2..``max_len`` edges (respecting
        ``collaborative``)?

        Sparse reachability, meeting in the middle: the nodes a user reaches in ≤ ⌈L/2⌉ steps against the
        nodes that reach the item in ≤ ⌊L/2⌋ steps. A walk from the user shortcuts to a simple path of no
        more edges (its first edge still leaves the user, so is an interact edge), hence this is exact; the
        only walk that shortcuts to the excluded one-edge path ends at a training item of the user, and
        those few pairs are enumerated instead.
        """
        max_len = self._check_len(max_len)
        users = np.asarray(users, dtype=np.int64).reshape(-1)
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        if len(users) != len(items):
            raise ValueError(f"users and items differ in length ({len(users)} vs {len(items)})")
        if len(users) == 0:
            return np.zeros(0, dtype=bool)
        self._check_user_array(users)
        self._check_items(items)
        adjacency, transposed = self._reach_adjacency()
        item_nodes = self.n_users + items
        unique_users, user_row = np.unique(users, return_inverse=True)
        unique_items, item_row = np.unique(item_nodes, return_inverse=True)
        forward = self._reach(adjacency[unique_users], adjacency, (max_len + 1) // 2)
        backward = self._reach(transposed[unique_items], transposed, max_len // 2)
        found = np.asarray(forward[user_row].multiply(backward[item_row]).sum(axis=1)).reshape(-1) > 0

        trained = np.asarray(adjacency[users, item_nodes]).reshape(-1) > 0  # the user's own training items
        for user in np.unique(users[trained]):
            pairs = np.flatnonzero(trained & (users == user))
            targets = item_nodes[pairs]
            *_, target = self._enumerate(int(user), np.unique(targets), max_len, 1, prune=False)
            found[pairs] = np.isin(targets, target)
        return found

    # ---- enumeration -------------------------------------------------------------------------------------
    def _enumerate(
        self, user: int, targets: np.ndarray, max_len: int, k: int, prune: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The top ``k`` paths to each of the (sorted, distinct) target nodes, grouped by target and sorted:
        nodes (n × max_len+1) and rels (n × max_len) padded with -1, weight, target node."""
        last_forward, last_backward = (max_len + 1) // 2, max_len // 2
        # a forward walk of d edges is followed by ≤ max_len - d nodes
        forward = [self._first_forward(user)]
        into = self._first_backward(user, targets)  # the single edges into the targets
        bounded = prune and max_len == 3  # the 2-edge forward walks are then joined only with edges into a target
        for depth in range(2, last_forward + 1):
            walks = self._pruned(forward[-1], None, k, max_len - depth + 1) if prune else forward[-1]
            forward.append(self._bounded_forward(walks, into, targets, k) if bounded else self._extend_forward(walks))
        # semi-join: the longest backward walks must start where a forward walk of their joins ends
        meets = np.zeros(self.num_nodes, dtype=bool)
        for walks in forward[last_backward - 1 : last_backward + 1]:
            meets[walks.nodes[:, -1]] = True
        # a backward walk of d edges is preceded by ≤ max_len - d nodes, the user among them (never repeated)
        backward = [into.take(meets[into.nodes[:, 0]]) if last_backward == 1 else into]
        for depth in range(2, last_backward + 1):
            walks = self._pruned(backward[-1], targets, k, max_len - depth) if prune else backward[-1]
            backward.append(self._extend_backward(walks, user, meets if depth == last_backward else None))

        parts = []
        for length in range(2, max_len + 1):
            a, b = (length + 1) // 2, length // 2
            left, right = forward[a - 1], backward[b - 1]
            if prune and length >= _PRUNE_FROM:
                left, right = self._pruned(left, None, k, length - a), self._pruned(right, targets, k, length - b - 1)
            fi, bi = self._join(left, right)
            weight = left.weight[fi] * right.weight[bi]
            target = np.searchsorted(targets, right.nodes[:, -1])[bi]
            keep = _top_per_target(target, weight, k, len(targets))
            fi, bi = fi[keep], bi[keep]
            parts.append(
                (
                    _padded([left.nodes[fi], right.nodes[bi, 1:]], max_len + 1),
                    _padded([left.rels[fi], right.rels[bi]], max_len),
                    weight[keep],
                    target[keep],
                    np.full(len(keep), length),
                )
            )
        nodes, rels, weight, target, lengths = (np.concatenate(columns) for columns in zip(*parts))
        kept = _top_per_target(target, weight, k, len(targets))  # the top k over all lengths, ties kept
        nodes, rels, weight, target, lengths = nodes[kept], rels[kept], weight[kept], target[kept], lengths[kept]
        order = _path_order(target, weight, lengths, nodes, rels)
        sorted_target = target[order]
        first = np.flatnonzero(np.r_[True, sorted_target[1:] != sorted_target[:-1]])
        rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
        order = order[rank < k]
        return nodes[order], rels[order], weight[order], targets[target[order]]

    def _first_forward(self, user: int) -> _Walks:
        """The user's interact edges: walks (u, j)."""
        start, stop = self._out_ptr[user], self._out_ptr[user + 1]
        nodes = np.stack([np.full(stop - start, user), self._out_dst[start:stop]], axis=1)
        return _Walks(nodes, self._out_rel[start:stop, None], self._out_w[start:stop])

    def _first_backward(self, user: int, targets: np.ndarray) -> _Walks:
        """The edges into the targets, except from the user itself (from any user, non-collaborative: the
        in-edges hold none) and from self-loops."""
        owner, position = _csr_slices(self._in_ptr, targets)
        source = self._in_src[position]
        keep = (source != user) & (source != targets[owner])  # a KG self-loop on the item is no path
        owner, position, source = owner[keep], position[keep], source[keep]
        nodes = np.stack([source, targets[owner]], axis=1)
        return _Walks(nodes, self._in_rel[position, None], self._in_w[position])

    def _extend_forward(self, walks: _Walks) -> _Walks:
        """Every walk followed by each out-edge of its last node that reaches a node new to it."""
        return self._forward_walks(walks, *self._forward_steps(walks))

    def _forward_steps(self, walks: _Walks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(walk row, out-edge position, new node) of every out-edge of the walks' last nodes."""
        owner, position = _csr_slices(self._out_ptr, walks.nodes[:, -1])
        return owner, position, self._out_dst[position]

    def _bounded_forward(self, walks: _Walks, into: _Walks, targets: np.ndarray, k: int) -> _Walks:
        """:meth:`_extend_forward` for the walks that 3-edge paths join with one edge m → i of ``into``
        (:meth:`_first_backward`), without the steps that cannot be part of a top-``k`` path (module
        docstring, "Bound for 3 edges")."""
        owner, position, new = self._forward_steps(walks)
        if len(new) <= _BOUND_FROM:  # too few steps for the bound to pay
            return self._forward_walks(walks, owner, position, new)
        ends = np.zeros(self.num_nodes, dtype=bool)
        ends[into.nodes[:, 0]] = True
        hit = np.flatnonzero(ends[new])  # a step to a node without an edge into a target is on no path
        owner, position, new = owner[hit], position[hit], new[hit]
        weight = walks.weight[owner] * self._out_w[position]
        valid = self._new_node(walks, owner, new)
        # τ_i ≤ the k-th heaviest path to target i: the k-th heaviest of the paths made of an edge m → i
        # and the heaviest step to m (one path per edge, a history item i excluded from its own steps)
        target = np.searchsorted(targets, into.nodes[:, -1])
        heaviest = np.zeros(self.num_nodes)
        np.maximum.at(heaviest, new[valid], weight[valid])
        through = heaviest[into.nodes[:, 0]]
        for item in np.intersect1d(targets, walks.nodes[:, -1]):  # a target among the walks' items: rare
            other = valid & (walks.nodes[owner, -1] != item)
            heaviest_other = np.zeros(self.num_nodes)
            np.maximum.at(heaviest_other, new[other], weight[other])
            edges = into.nodes[:, -1] == item
            through[edges] = heaviest_other[into.nodes[edges, 0]]
        tau = _kth_per_target(target, through * into.weight, k, np.bincount(target, minlength=len(targets)), fewer=0.0)
        # a step to m is needed only if, through some edge m → i, it reaches τ_i: weight · w(m → i) ≥ τ_i
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.where(tau[target] > 0, tau[target] / into.weight, 0.0)  # an edge of weight 0: never
        least = np.full(self.num_nodes, np.inf)
        np.minimum.at(least, into.nodes[:, 0], need)
        keep = valid & (weight >= least[new] * (1 - 1e-9))  # the margin covers the division's rounding
        return self._forward_walks(walks, owner[keep], position[keep], new[keep], checked=True)

    def _new_node(self, walks: _Walks, owner: np.ndarray, new: np.ndarray) -> np.ndarray:
        """Per step (``new``, the node it reaches from or to the walk of row ``owner``): is the node new to
        that walk?"""
        keep = np.ones(len(new), dtype=bool)
        for column in walks.nodes.T:  # column by column: cheaper than comparing a 2-D gather
            keep &= column[owner] != new
        return keep

    def _forward_walks(self, walks: _Walks, owner: np.ndarray, position: np.ndarray, new: np.ndarray,
                       checked: bool = False) -> _Walks:
        """The walks followed by the given steps (:meth:`_forward_steps`) that reach a node new to their walk
        (all of them if ``checked``: :meth:`_new_node` already kept only those)."""
        if not checked:
            keep = self._new_node(walks, owner, new)
            owner, position, new = owner[keep], position[keep], new[keep]
        return _Walks(
            np.concatenate([walks.nodes[owner], new[:, None]], axis=1),
            np.concatenate([walks.rels[owner], self._out_rel[position, None]], axis=1),
            walks.weight[owner] * self._out_w[position],
        )

    def _extend_backward(self, walks: _Walks, user: int, meets: np.ndarray | None = None) -> _Walks:
        """Every walk preceded by each in-edge of its first node that comes from a new (allowed) node
        (one of the ``meets`` nodes, if given)."""
        owner, position = _csr_slices(self._in_ptr, walks.nodes[:, 0])
        new = self._in_src[position]
        if meets is not None:
            hit = meets[new]
            owner, position, new = owner[hit], position[hit], new[hit]
        keep = self._new_node(walks, owner, new) & (new != user)  # non-collaborative: the in-edges hold no user
        owner, position, new = owner[keep], position[keep], new[keep]
        return _Walks(
            np.concatenate([new[:, None], walks.nodes[owner]], axis=1),
            np.concatenate([self._in_rel[position, None], walks.rels[owner]], axis=1),
            self._in_w[position] * walks.weight[owner],
        )

    @staticmethod
    def _join(left: _Walks, right: _Walks) -> tuple[np.ndarray, np.ndarray]:
        """Row pairs (forward, backward) that meet on a node and repeat no node."""
        starts = right.nodes[:, 0]
        key = left.nodes[:, -1]
        size = int(max(key.max(initial=0), starts.max(initial=0))) + 1
        met = np.zeros(size, dtype=bool)
        met[key] = True
        rows = np.flatnonzero(met[starts])  # semi-join: only the backward walks some forward walk meets are sorted
        order = rows[np.argsort(starts[rows], kind="stable")]
        if size <= 4 * (len(key) + len(rows)):  # a table per node: no binary search of every key
            per_node = np.bincount(starts[rows], minlength=size)
            count, low = per_node[key], (np.cumsum(per_node) - per_node)[key]
        else:
            meeting = starts[order]
            low = np.searchsorted(meeting, key, "left")
            count = np.searchsorted(meeting, key, "right") - low
        fi = np.repeat(np.arange(len(left)), count)
        bi = order[np.arange(fi.size) + np.repeat(low - (np.cumsum(count) - count), count)]
        keep = np.ones(fi.size, dtype=bool)
        for head in range(1, left.nodes.shape[1] - 1):  # the user (column 0) is never in a backward walk
            for tail in range(1, right.nodes.shape[1]):
                keep &= left.nodes[fi, head] != right.nodes[bi, tail]
        return fi[keep], bi[keep]

    def _pruned(self, walks: _Walks, targets: np.ndarray | None, k: int, others: int) -> _Walks:
        """The heaviest walks per meeting node (forward) or per (meeting node, target) (backward) that can
        still be part of a top-``k`` path whose other part has ``others`` nodes that could repeat one of
        the walk's inner nodes.

        A dropped walk w has ≥ k + others·s heavier walks with the same ends, where s is the most walks of
        a group sharing one inner node; at most others·s of them repeat a node of w's completion, so
        ≥ k valid paths are heavier than w's: w's paths are never in the top k (ties at the cut aside).
        """
        if walks.rels.shape[1] < 2 or len(walks) <= k:
            return walks
        if targets is None:
            group = walks.nodes[:, -1]
        else:
            group = walks.nodes[:, 0] * np.int64(len(targets)) + np.searchsorted(targets, walks.nodes[:, -1])
        inner = walks.nodes[:, 1:-1]
        shared = np.repeat(group, inner.shape[1]) * np.int64(self.num_nodes) + inner.reshape(-1)
        most = int(np.unique(shared, return_counts=True)[1].max())
        keep = _top_per_group(group, walks.weight, k + others * most)
        return walks if len(keep) == len(walks) else walks.take(keep)

    # ---- reachability ------------------------------------------------------------------------------------
    def _reach_adjacency(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """0/1 N × N adjacency (source row) and its transpose; without edges into users when not collaborative."""
        if self._adjacency is None:
            keep = self._into_no_user
            adjacency = sp.csr_matrix(
                (np.ones(int(keep.sum()), dtype=np.float32), (self._src[keep], self._dst[keep])),
                shape=(self.num_nodes, self.num_nodes),
            )
            adjacency.data[:] = 1.0  # parallel relations count once
            self._adjacency = (adjacency, adjacency.T.tocsr())
        return self._adjacency

    @staticmethod
    def _reach(start: sp.csr_matrix, adjacency: sp.csr_matrix, steps: int) -> sp.csr_matrix:
        """Nodes reached from each row of ``start`` (already one step) in 1..``steps`` steps, as 0/1."""
        frontier, reached = start, start
        for _ in range(steps - 1):
            frontier = frontier @ adjacency
            frontier.data[:] = 1.0
            reached = reached + frontier
        reached = reached.tocsr()
        reached.data[:] = 1.0
        return reached

    # ---- validation --------------------------------------------------------------------------------------
    @staticmethod
    def _check_len(max_len: int) -> int:
        if int(max_len) < 2:
            raise ValueError(f"max_len must be at least 2 (a path is user -> item -> ... -> item), got {max_len}")
        return int(max_len)

    def _check_user(self, user: int) -> int:
        if not 0 <= int(user) < self.n_users:
            raise UnknownUserError(f"unknown user id {user} (the graph has {self.n_users} users)")
        return int(user)

    def _check_user_array(self, users: np.ndarray) -> None:
        bad = (users < 0) | (users >= self.n_users)
        if bad.any():
            raise UnknownUserError(f"unknown user id {users[bad][0]} (the graph has {self.n_users} users)")

    def _check_items(self, items: Sequence[int] | np.ndarray) -> np.ndarray:
        array = np.asarray(items, dtype=np.int64).reshape(-1)
        bad = (array < 0) | (array >= self.n_items)
        if bad.any():
            raise UnknownItemError(f"unknown item id {array[bad][0]} (the graph has {self.n_items} items)")
        return array

