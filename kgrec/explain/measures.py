r"""Measures of the told evidence of explanations: named coverage, told weight share, collaborative share.

The *told evidence* of an explanation is its told path(s) (:func:`told_paths`: today the chosen path,
``expl.paths[expl.chosen]``); a *told explanation* is one with at least one told path. Over a list of
explanations E (the sampled users' top-k in ``kgrec explain-eval``), with T ⊆ E the told ones:

``named_coverage`` = \|{e ∈ T : every item and entity node of e's told paths has a real name}\| / \|T\|.
  A node has a real name when the data names it (``graph.node_has_name``), so that ``graph.node_name`` is
  not the fallback ``<kind> <raw id>`` (``entity 4057``, ``item 12``; :meth:`kgrec.data.dataset.IdMap.name`). User nodes
  (the user, other users u′ of a collaborative path) are not counted: users are never named.

``told_weight_share(e)`` = Σ_{p ∈ told(e)} w(p) / Σ_{p ∈ P(u, i) ∪ told(e)} w(p), for e ∈ T,
  with P(u, i) the paths from the user to the item of ≤ ``explain.max_len`` edges as ``kgrec paths``
  enumerates them (:meth:`kgrec.explain.paths.PathFinder.paths_for_items`: the heaviest ``max_paths``)
  and w the path weight. A path is counted once however many told paths share its edges (and a told
  path listed twice counts once). E.g. an item reached by two paths of weights 0.3 and 0.1, the 0.3 one
  told: 0.3 / 0.4 = 0.75. ``told_weight_share`` is the mean over T, ``told_weight_share_median`` the
  median (NaN when T is empty or no told explanation has a positive total).

``collaborative_share`` = \|{e ∈ E : some told path of e has only interact edges}\| / \|E\|: items explained
  by co-listening / co-rating alone (u → j ← u′ → i), with no KG relation; the same denominator as
  ``path_coverage`` and ``rule_coverage``, so ``path_coverage − collaborative_share`` is the share told
  by a KG path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from kgrec.data.graph import CollaborativeKG
from kgrec.explain.paths import PathFinder
from kgrec.explain.types import Explanation, Path


def told_paths(explanation: Explanation) -> tuple[Path, ...]:
    """The told evidence of an explanation: its told path(s), each once (empty when it has no path)."""
    path = explanation.path
    return () if path is None else (path,)


def _key(path: Path) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return tuple(path.nodes), tuple(path.relations)


def is_named(explanation: Explanation, graph: CollaborativeKG) -> bool:
    """Every item and entity node of the told paths has a real name (users are not counted)."""
    return all(
        graph.node_has_name(node)
        for path in told_paths(explanation)
        for node in path.nodes
        if graph.node_kind(node) != "user"
    )


def named_coverage(explanations: Sequence[Explanation], graph: CollaborativeKG) -> float:
    """Share of told explanations whose told nodes (items and entities) all have real names (NaN if none)."""
    told = [e for e in explanations if told_paths(e)]
    return float(np.mean([is_named(e, graph) for e in told])) if told else float("nan")


def is_collaborative(path: Path, graph: CollaborativeKG) -> bool:
    """The path has only interact edges (``interact`` or its inverse): u → j ← u′ → i, no KG relation."""
    return all(bool(graph.is_interact(r)) for r in path.relations)


def collaborative_share(explanations: Sequence[Explanation], graph: CollaborativeKG) -> float:
    """Share of all explanations told by a co-like path alone (NaN for no explanation)."""
    if not explanations:
        return float("nan")
    return float(np.mean([any(is_collaborative(p, graph) for p in told_paths(e)) for e in explanations]))


def weight_share(told: Sequence[Path], paths: Sequence[Path]) -> float:
    """Σ told weights / Σ weights of ``paths`` ∪ ``told``, each distinct path once (NaN for a zero total)."""
    told_weights = {_key(p): p.weight for p in told}
    weights = {**{_key(p): p.weight for p in paths}, **told_weights}
    total = sum(weights.values())
    return float(sum(told_weights.values()) / total) if total > 0 else float("nan")


def told_weight_shares(explanations: Sequence[Explanation], finder: PathFinder) -> list[float]:
    """:func:`weight_share` of each told explanation against every path ``finder`` enumerates from its user
    to its item (up to ``finder.max_len`` edges), in order; explanations without a told path are skipped."""
    items_of: dict[int, list[int]] = defaultdict(list)
    for e in explanations:
        if told_paths(e):
            items_of[e.user].append(e.item)
    found = {user: finder.paths_for_items(user, items) for user, items in items_of.items()}
    return [weight_share(told_paths(e), found[e.user][e.item]) for e in explanations if told_paths(e)]


def told_measures(explanations: Sequence[Explanation], graph: CollaborativeKG, finder: PathFinder) -> dict[str, float]:
    """``named_coverage``, ``told_weight_share`` (mean), ``told_weight_share_median`` and
    ``collaborative_share`` of a list of explanations (see the module docstring for the formulas)."""
    shares = np.array([s for s in told_weight_shares(explanations, finder) if np.isfinite(s)])
    return {
        "named_coverage": named_coverage(explanations, graph),
        "told_weight_share": float(shares.mean()) if len(shares) else float("nan"),
        "told_weight_share_median": float(np.median(shares)) if len(shares) else float("nan"),
        "collaborative_share": collaborative_share(explanations, graph),
    }
