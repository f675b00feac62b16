r"""Measures of the told evidence of explanations: named coverage, told weight share, collaborative share.

The *told evidence* of an explanation is its told paths (``expl.told_paths``: every instance of the told
rule from the user's history, or the co-like paths through one history item; :mod:`kgrec.explain.explainer`);
a *told explanation* is one with at least one told path. Over a list of explanations E (the sampled users'
top-k in ``kgrec explain-eval``), with T ⊆ E the told ones:

``named_coverage`` = \|{e ∈ T : every item and entity node of e's told paths has a real name}\| / \|T\|.
  A node has a real name when the data names it (``graph.node_has_name``), so that ``graph.node_name`` is
  not the fallback ``<kind> <raw id>`` (``entity 4057``, ``item 12``; :meth:`kgrec.data.dataset.IdMap.name`). User nodes
  (the user, other users u′ of a co-like path) are not counted: users are never named.

``told_weight_share(e)`` = Σ_{p ∈ told(e)} w(p) / Σ_{p ∈ P(u, i) ∪ told(e)} w(p), for e ∈ T,
  with P(u, i) the paths from the user to the item of ≤ ``explain.max_len`` edges as ``kgrec paths``
  enumerates them (:meth:`kgrec.explain.paths.PathFinder.paths_for_items`: the heaviest ``max_paths``)
  and w the path weight; each distinct path counts once. E.g. an item reached by three paths of weights
  0.3, 0.1 and 0.1, the rule told with the 0.3 and one 0.1 path as its instances: 0.4 / 0.5 = 0.8. The
  explainer stores it with each explanation (``Explanation.told_share``); ``told_weight_share`` is the mean
  over T, ``told_weight_share_median`` the median (NaN when T is empty).

``collaborative_share`` = \|{e ∈ E : e's reason is ``co-like``}\| / \|E\|: items explained by co-listening /
  co-rating alone (u → j ← u′ → i) because no rule path reaches them; the same denominator as
  ``path_coverage`` and ``rule_coverage``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kgrec.data.graph import CollaborativeKG
from kgrec.explain.paths import FoundPaths
from kgrec.explain.types import Explanation, Path


def _key(path: Path) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return tuple(path.nodes), tuple(path.relations)


def is_named(explanation: Explanation, graph: CollaborativeKG) -> bool:
    """Every item and entity node of the told paths has a real name (users are not counted)."""
    return all(
        graph.node_has_name(node)
        for path in explanation.told_paths
        for node in path.nodes
        if graph.node_kind(node) != "user"
    )


def named_coverage(explanations: Sequence[Explanation], graph: CollaborativeKG) -> float:
    """Share of told explanations whose told nodes (items and entities) all have real names (NaN if none)."""
    told = [e for e in explanations if e.told]
    return float(np.mean([is_named(e, graph) for e in told])) if told else float("nan")


def collaborative_share(explanations: Sequence[Explanation]) -> float:
    """Share of all explanations told by co-like paths alone (NaN for no explanation)."""
    if not explanations:
        return float("nan")
    return float(np.mean([e.reason == "co-like" for e in explanations]))


def weight_share(told: Sequence[Path], paths: FoundPaths) -> float:
    """Σ told weights / Σ weights of ``paths`` ∪ ``told``, each distinct path once (NaN for a zero total)."""
    told_weights = {_key(p): p.weight for p in told}
    # only rows of a told path's weight can repeat it (a path's weight is the product of its edges' weights)
    weights = np.fromiter(told_weights.values(), dtype=np.float64, count=len(told_weights))
    maybe = paths.take((paths.weight[:, None] == weights).any(axis=1))  # np.isin: slower on a few values
    repeated = sum(w for w, key in zip(maybe.weight.tolist(), maybe.keys()) if key in told_weights)
    total = float(paths.weight.sum()) - repeated + sum(told_weights.values())
    return float(sum(told_weights.values()) / total) if total > 0 else float("nan")


def told_measures(explanations: Sequence[Explanation], graph: CollaborativeKG) -> dict[str, float]:
    """``named_coverage``, ``told_weight_share`` (mean), ``told_weight_share_median`` and
    ``collaborative_share`` of a list of explanations (see the module docstring for the formulas)."""
    shares = np.array([e.told_share for e in explanations if e.told and e.told_share is not None and np.isfinite(e.told_share)])
    return {
        "named_coverage": named_coverage(explanations, graph),
        "told_weight_share": float(shares.mean()) if len(shares) else float("nan"),
        "told_weight_share_median": float(np.median(shares)) if len(shares) else float("nan"),
        "collaborative_share": collaborative_share(explanations),
    }
