"""Path quality of explanations, as defined by Balloccu et al. (SIGIR 2022), so that kgrec's explanations
can be set beside the path-reasoning recommenders (PGPR, CAFE, UCPR, ...) that report the same numbers.

G. Balloccu, L. Boratto, G. Fenu, M. Marras. "Post Processing Recommender Systems with Knowledge Graphs for
Recency, Popularity, and Diversity of Explanations", SIGIR 2022, doi:10.1145/3477495.3532041; LID and SED
come from the authors' follow-ups (Balloccu et al., "Reinforcement recommendation reasoning through
knowledge graphs for explanation path quality", KBS 2023; ECIR 2023).

What is read from an explanation. Its told path (``expl.paths[expl.chosen]``, else the heaviest path:
:func:`kgrec.explain.render.told_path`), a walk u → j → … → i in the collaborative KG:

- linking interaction: the first edge, u → j (j a training item of u);
- shared entity: the node just before the recommended item, ``nodes[-2]`` — e for u → j → e → i, the
  other user u′ for the collaborative u → j ← u′ → i, and j itself for a 2-hop u → j → i (j is what i
  shares with the user's history);
- path type ω: the relation of the last edge, with a relation and its inverse folded into one type
  (``r mod (R+1)``), as the paper's explanation types are relation names (PGPR's KG has no inverses).

Definitions (k = the list length asked for; Ω = the path types possible in the graph, i.e. the folded
relations of the edges that end at an item node):

- LIR. A user's training interactions sorted by time, T_u = [(j¹, t¹) … (jⁿ, tⁿ)], tⁱ ≤ tⁱ⁺¹:
  ``LIR(j¹) = t¹``, ``LIR(jⁱ) = (1 − β)·LIR(jⁱ⁻¹) + β·tⁱ``, then min-max normalised per user into [0, 1]
  (0 = the user's oldest interaction, 1 = the most recent). A list's LIR is the mean over its explained
  items of the LIR of their linking interaction. Needs timestamps (None without).
- SEP. Per entity type λ, the nodes of that type sorted by popularity v (their degree in the CKG),
  S_λ = [(e¹, v¹) … ], vⁱ ≤ vⁱ⁺¹: ``SEP(e¹) = v¹``, ``SEP(eⁱ) = (1 − β)·SEP(eⁱ⁻¹) + β·vⁱ``, min-max
  normalised per type. kgrec's types are the node kinds (user, item, entity): its datasets give KG
  entities no type. A list's SEP is the mean SEP of its shared entities.
- ETD = |{ω of the list's paths}| / min(k, |Ω|).
- LID = |{distinct linking interactions j}| / k.
- SED = |{distinct shared entities}| / k.

The EWMA is affine-equivariant, so running it on min-max normalised values (as here) and then
normalising gives the same numbers as running it on raw timestamps or degrees. Tied values (equal
timestamps or degrees) would get different scores depending on their arbitrary order; here every member
of a run of ties gets the value the recursion reaches at the end of the run, so the scores depend on the
values only. A group without spread (one interaction, all degrees equal) scores 1.

β. The paper leaves β_LIR, β_SEP ∈ [0, 1] as parameters; the authors' SIGIR'22 code
(giacoballoccu/explanation-quality-recsys, ``path_data_loader.py``) computes both with pandas
``ewm(span=10)``, i.e. β = 2/(10+1) = 2/11 ≈ 0.18, the default here (:data:`DEFAULT_BETA`).

A list whose items have no path scores 0 on ETD, LID and SED (the items still count in k) and is left
out of the LIR and SEP means (there is nothing to average).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kgrec.data.dataset import Interactions
from kgrec.data.graph import CollaborativeKG
from kgrec.explain.render import told_path
from kgrec.explain.types import Explanation

DEFAULT_BETA = 2.0 / 11.0  # pandas ewm(span=10) in the authors' reference code


@dataclass(frozen=True)
class PathFacts:
    """What the metrics read from the path an explanation tells (see the module docstring)."""

    user: int  # dataset user id
    linked_item: int  # dataset item id j of the linking interaction u → j
    shared_entity: int  # CKG node just before the recommended item
    path_type: int  # relation of the last edge, inverse folded onto its relation


def path_facts(explanation: Explanation, graph: CollaborativeKG) -> PathFacts | None:
    """The facts of ``explanation``'s told path; None when it has no path of two or more edges from an interaction."""
    path = told_path(explanation)
    if path is None or path.length < 2 or path.relations[0] != graph.interact:
        return None
    folded = graph.forward(int(path.relations[-1]))
    return PathFacts(int(path.nodes[0]), int(path.nodes[1]) - graph.n_users, int(path.nodes[-2]), folded)


def ewma_scores(groups: np.ndarray, values: np.ndarray, beta: float = DEFAULT_BETA) -> np.ndarray:
    """Per element, the EWMA score of its value among its group's values sorted ascending, in [0, 1].

    The shared recursion of LIR and SEP: min-max normalise within the group, run
    ``s¹ = x¹, sⁱ = (1 − β)·sⁱ⁻¹ + β·xⁱ`` in value order, give tied values the score at the end of their run,
    and min-max normalise the scores (a group without spread scores 1).
    """
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be in (0, 1], got {beta}")
    frame = pd.DataFrame({"group": np.asarray(groups), "value": np.asarray(values, dtype=np.float64)})
    frame = frame.sort_values(["group", "value"], kind="stable")
    by_group = frame.groupby("group", sort=False)["value"]
    low, spread = by_group.transform("min"), by_group.transform("max") - by_group.transform("min")
    scaled = (frame["value"] - low) / spread.where(spread > 0, 1.0)
    smoothed = scaled.groupby(frame["group"], sort=False).ewm(alpha=beta, adjust=False).mean().droplevel(0)
    smoothed = smoothed.groupby([frame["group"], frame["value"]], sort=False).transform("last")
    top = smoothed.groupby(frame["group"], sort=False).transform("max")  # scores start at 0 and never fall
    score = (smoothed / top.where(top > 0, 1.0)).where(top > 0, 1.0)
    out = np.empty(len(frame), dtype=np.float64)
    out[score.index.to_numpy()] = score.to_numpy()
    return out


def lir_table(interactions: Interactions, beta: float = DEFAULT_BETA) -> dict[tuple[int, int], float] | None:
    """LIR of every (user, item) interaction, from its timestamp among the user's; None without timestamps.

    A pair interacted more than once keeps its most recent LIR.
    """
    if interactions.timestamp is None:
        return None
    scores = ewma_scores(interactions.user, interactions.timestamp, beta)
    frame = pd.DataFrame({"user": interactions.user, "item": interactions.item, "lir": scores})
    table = frame.groupby(["user", "item"])["lir"].max()
    return dict(zip(table.index.tolist(), table.to_numpy().tolist()))


def node_popularity(graph: CollaborativeKG) -> np.ndarray:
    """Per node, its number of CKG edges (every edge has its inverse, so in- and out-degree agree)."""
    return np.bincount(graph.data.edge_index[0].cpu().numpy(), minlength=graph.num_nodes)


def sep_table(graph: CollaborativeKG, beta: float = DEFAULT_BETA) -> np.ndarray:
    """SEP of every CKG node, from its popularity among the nodes of its kind (user, item, entity)."""
    return ewma_scores(graph.data.node_type.cpu().numpy(), node_popularity(graph), beta)


def n_path_types(graph: CollaborativeKG) -> int:
    """|Ω|: the folded relations of the edges that end at an item node (a path's last edge can only be one)."""
    target, relation = graph.data.edge_index[1].cpu().numpy(), graph.data.edge_type.cpu().numpy()
    at_item = (target >= graph.n_users) & (target < graph.n_users + graph.n_items)
    return len(np.unique(graph.forward(relation[at_item])))


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def lir(facts: Sequence[PathFacts | None], table: Mapping[tuple[int, int], float]) -> float | None:
    """A list's LIR: the mean LIR of its linking interactions (None when no item has a path)."""
    return _mean([table[(f.user, f.linked_item)] for f in facts if f is not None and (f.user, f.linked_item) in table])


def sep(facts: Sequence[PathFacts | None], table: np.ndarray) -> float | None:
    """A list's SEP: the mean SEP of its shared entities (None when no item has a path)."""
    return _mean([float(table[f.shared_entity]) for f in facts if f is not None])


def etd(facts: Sequence[PathFacts | None], n_path_types: int, k: int | None = None) -> float:
    """A list's ETD: distinct path types / min(k, |Ω|); k defaults to the list's length."""
    k = len(facts) if k is None else k
    if k < 1 or n_path_types < 1:
        raise ValueError(f"ETD needs k ≥ 1 and at least one path type, got k={k}, |Ω|={n_path_types}")
    return len({f.path_type for f in facts if f is not None}) / min(k, n_path_types)


def lid(facts: Sequence[PathFacts | None], k: int) -> float:
    """A list's LID: distinct linking interactions / k."""
    return len({f.linked_item for f in facts if f is not None}) / k


def sed(facts: Sequence[PathFacts | None], k: int) -> float:
    """A list's SED: distinct shared entities / k."""
    return len({f.shared_entity for f in facts if f is not None}) / k


def path_quality(
    explanation_lists: Sequence[Sequence[Explanation]],
    graph: CollaborativeKG,
    interactions: Interactions | None,
    k: int,
    beta: float = DEFAULT_BETA,
) -> dict[str, Any]:
    """Mean LIR, SEP, ETD, LID and SED over the users' top-``k`` explanation lists.

    ``interactions``: the training interactions the graph was built from (LIR is None when they are None
    or carry no timestamps). Also reports the number of lists, |Ω| and β.
    """
    facts = [[path_facts(e, graph) for e in listed] for listed in explanation_lists]
    lirs = lir_table(interactions, beta) if interactions is not None else None
    seps = sep_table(graph, beta)
    types = n_path_types(graph)

    def mean_of(values: list[float | None]) -> float | None:
        return _mean([v for v in values if v is not None])

    return {
        "lir": None if lirs is None else mean_of([lir(f, lirs) for f in facts]),
        "sep": mean_of([sep(f, seps) for f in facts]),
        "etd": mean_of([etd(f, types, k) for f in facts]),
        "lid": mean_of([lid(f, k) for f in facts]),
        "sed": mean_of([sed(f, k) for f in facts]),
        "users": len(facts),
        "path_types": types,
        "beta": beta,
    }
