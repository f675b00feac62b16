"""Node association: which relations and KG entities a trained model leans on, over many users.

For each relation (a KG relation taken with its inverse, and ``interact`` as the reference) and for the KG
entities most used by explanations, :func:`relation_analysis` / :func:`entity_analysis` measure:

- ``share``: the share of explained recommendations whose *told* paths (:attr:`Explanation.told_paths`,
  the ones the sentence reads out) use it. This is the main measure: it is what users are shown.
  ``listed_share`` is the same over any of the explanation's listed paths (:attr:`Explanation.paths`, the
  told ones and the strongest others by model weight), closer to what the model weighs. The denominator of both is every explained
  recommendation, those without a path included (they use nothing).
- ``mean_weight``: the mean learned propagation weight (attention × normalisation, as in
  :func:`~kgrec.explain.explainer.model_edge_weights`) of its edges in the model's propagation graph.
- ``ndcg`` / ``drop``: validation NDCG@20 (full ranking, training items masked, as during training) when
  all its edges (both directions; for an entity every edge incident to it) are removed from the
  propagation graph at inference time, without retraining, and the drop from the full graph. The model
  renormalises the weights of the remaining edges (:meth:`RankingModel.embeddings_without`); each removal
  costs one propagation and one ranking of the validation users.

Results are :class:`Association` objects, JSON-serialisable, with a bar chart (:func:`association_png`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path as FilePath
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from kgrec.atomic import atomic_open, atomic_write_json
from kgrec.data.graph import ENTITY, INTERACT, CollaborativeKG
from kgrec.errors import KgrecError
from kgrec.evaluation.ranking import evaluate_ranking
from kgrec.explain.context import ExplainContext, sample_users
from kgrec.explain.explainer import edge_keys, model_edge_weights
from kgrec.explain.types import KINDS, Explanation, Path
from kgrec.models.base import RankingModel
from kgrec.plotting import chart_label, figure_png, png_figure

NDCG_K = 20
METRIC = f"ndcg@{NDCG_K}"
UNITS = {"relations": "relation", "entities": "entity"}
DEFAULT_TOP = 20


class AssociationError(KgrecError):
    """The analysis cannot run on this run: a model without a propagation graph, or no validation data."""


@dataclass(frozen=True)
class Usage:
    """One relation or entity: how often explanations use it and what removing its edges costs.

    ``id``: forward relation id, or node id of the entity; ``name``: raw relation name or entity name;
    ``label``: readable label (relation noun, or entity name with the noun of its main relation);
    ``phrase``: the relation's forward phrase (empty for entities); ``edges``: propagation edges removed.
    """

    id: int
    name: str
    label: str
    phrase: str
    edges: int
    share: float
    listed_share: float
    mean_weight: float | None
    ndcg: float
    drop: float


@dataclass(frozen=True)
class Association:
    """The analysis of one kind (``relations`` or ``entities``) of a run, rows sorted by NDCG drop.

    ``full``: validation NDCG@20 with every edge; ``absent``: relations the model does not propagate over
    (so neither explanations nor removal can involve them); ``explanations`` / ``with_path``: the explained
    recommendations behind the shares, and how many of them have a told path.
    """

    kind: str
    model: str
    metric: str
    full: float
    users: int
    k: int
    seed: int
    explanations: int
    with_path: int
    rows: tuple[Usage, ...]
    absent: tuple[str, ...] = ()
    seconds: float = 0.0
    measure: str = "share of explained recommendations whose told path uses it"

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["rows"] = [asdict(row) for row in self.rows]
        values["absent"] = list(self.absent)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Association:
        values = dict(values)
        values["rows"] = tuple(Usage(**row) for row in values.get("rows", []))
        values["absent"] = tuple(values.get("absent", ()))
        return cls(**values)

    def charted(self) -> tuple[tuple[Usage, ...], str]:
        """The rows a chart shows and a note on what it leaves out: ``interact``, whose removal dwarfs every
        KG relation's, is left out when there are KG relations to show."""
        kg = tuple(r for r in self.rows if r.name != INTERACT)
        if self.kind != "relations" or not kg or len(kg) == len(self.rows):
            return self.rows, ""
        left = next(r for r in self.rows if r.name == INTERACT)
        return kg, f"interact left out (removing it: drop {left.drop:.4f})"


# ---- what a path uses -------------------------------------------------------------------------------------
def path_relations(path: Path, graph: CollaborativeKG) -> set[int]:
    """The forward relation ids a path uses (an inverse edge counts as its forward relation)."""
    return {min(int(r), graph.inverse(int(r))) for r in path.relations}


def path_entities(path: Path, graph: CollaborativeKG) -> set[int]:
    """The KG entity nodes (neither user nor item) a path passes through."""
    node_type = graph.data.node_type
    return {int(n) for n in path.nodes[1:-1] if int(node_type[n]) == ENTITY}


def usage_shares(
    explanations: Sequence[Explanation], uses: Callable[[Path], Iterable[int]]
) -> tuple[dict[int, float], dict[int, float]]:
    """Per key of ``uses(path)``: (share of explanations whose told paths use it, share whose listed paths do).

    The denominator is every explanation, those without a path included.
    """
    told: Counter[int] = Counter()
    listed: Counter[int] = Counter()
    for explanation in explanations:
        told.update(set().union(*(set(uses(p)) for p in explanation.told_paths)))
        listed.update(set().union(*(set(uses(p)) for p in explanation.paths)))
    n = max(len(explanations), 1)
    return {key: c / n for key, c in told.items()}, {key: c / n for key, c in listed.items()}


# ---- the propagation graph -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PropagationGraph:
    """A model's propagation edges (2, E) with each edge's forward relation id and learned weight ([E] numpy)."""

    edges: Tensor
    relations: np.ndarray
    weights: np.ndarray

    def relation_edges(self, relation: int) -> Tensor:
        """Bool mask of the edges of ``relation`` in both directions (``relation`` is a forward id)."""
        return torch.as_tensor(self.relations == relation, device=self.edges.device)

    def incident_edges(self, node: int) -> Tensor:
        """Bool mask of the edges that start or end at ``node``."""
        return (self.edges[0] == node) | (self.edges[1] == node)

    def no_edges(self) -> Tensor:
        """The all-False mask: the full graph."""
        return torch.zeros(self.edges.size(1), dtype=torch.bool, device=self.edges.device)


def propagation_graph(model: RankingModel, graph: CollaborativeKG) -> PropagationGraph:
    """The graph ``model`` propagates over, with forward relation ids and learned weights per edge.

    Models without typed edges (LightGCN) propagate over interactions only: user → item is ``interact``.
    Raises AssociationError for a model without a graph (BPR-MF, Pop).
    """
    edges = model.propagation_edges()
    if edges is None:
        raise AssociationError(
            f"model {type(model).__name__} has no propagation graph, so no relation or entity can be removed; "
            "node association needs a graph model (kgrec, lightgcn)"
        )
    edge_type = model.propagation_edge_type()
    assert edge_type is not None, "a model with propagation edges declares their relation ids"
    relations = graph.forward(edge_type.cpu().numpy().astype(np.int64))  # r and its inverse are one relation
    graph_weights = model_edge_weights(model, graph)  # per CKG edge, in the graph's (sorted, unique) key order
    model_keys = edge_keys(edges, edge_type, graph.num_nodes)
    graph_keys = edge_keys(graph.data.edge_index, graph.data.edge_type, graph.num_nodes)
    weights = np.asarray(graph_weights)[np.searchsorted(graph_keys, model_keys).clip(max=len(graph_keys) - 1)]
    return PropagationGraph(edges, relations, weights)


def valid_ndcg(ctx: ExplainContext, dropped: Tensor) -> float:
    """Validation NDCG@20 of ``ctx``'s model with the ``dropped`` propagation edges removed (no retraining)."""
    with torch.no_grad():
        user_emb, item_emb = ctx.model.embeddings_without(dropped)
    metrics = evaluate_ranking(
        lambda users: user_emb[users] @ item_emb.T, ctx.split.valid, [ctx.split.train], ctx.graph.n_items,
        (NDCG_K,), ctx.config.eval.batch_size, device=ctx.config.train.device,
    )
    return float(metrics[METRIC])


# ---- the analyses ----------------------------------------------------------------------------------------
def sampled_explanations(ctx: ExplainContext, n_users: int, k: int, seed: int, progress: bool) -> list[Explanation]:
    """The explained top-``k`` lists of ``n_users`` users with history, sampled with ``seed``."""
    users = sample_users(ctx, n_users, seed)
    lists = ctx.recommend_all(k, [int(u) for u in users])
    ranked = tqdm(lists, total=len(users), desc="explaining", unit="user", disable=not progress)
    return [e for _, explanations in ranked for e in explanations]


def _analyse(
    ctx: ExplainContext,
    kind: str,
    n_users: int | None,
    k: int | None,
    seed: int | None,
    progress: bool,
    uses: Callable[[Path], Iterable[int]],
    candidates: Callable[[dict[int, float], dict[int, float], PropagationGraph], list[int]],
    removed: Callable[[PropagationGraph, int], Tensor],
    describe: Callable[[PropagationGraph, int], tuple[str, str, str]],
    explanations: Sequence[Explanation] | None,
) -> Association:
    """The shared skeleton: explain, count uses, pick candidates, remove each one's edges and rank again."""
    started = time.perf_counter()
    n_users, k, seed = ctx.eval_defaults(n_users, k, seed)
    propagation = propagation_graph(ctx.model, ctx.graph)
    if len(ctx.split.valid) == 0:
        raise AssociationError("the run's split has no validation interactions, so no NDCG drop can be measured")
    if explanations is None:
        explanations = sampled_explanations(ctx, n_users, k, seed, progress)
    told, listed = usage_shares(explanations, uses)
    full = valid_ndcg(ctx, propagation.no_edges())
    rows = []
    keys = candidates(told, listed, propagation)
    for key in tqdm(keys, desc=f"removing {kind}", unit=UNITS[kind], disable=not progress):
        mask = removed(propagation, key)
        selected = mask.cpu().numpy()
        ndcg = valid_ndcg(ctx, mask)
        name, label, phrase = describe(propagation, key)
        mean_weight = float(propagation.weights[selected].mean()) if selected.any() else None
        rows.append(Usage(int(key), name, label, phrase, int(selected.sum()), told.get(key, 0.0), listed.get(key, 0.0),
                          mean_weight, ndcg, full - ndcg))
    rows.sort(key=lambda r: (-r.drop, -r.share, r.id))
    graph = ctx.graph
    present = set(propagation.relations.tolist())
    absent = tuple(graph.relation_names[r] for r in range(graph.num_forward_relations) if r not in present)
    return Association(
        kind, ctx.config.model.model, METRIC, full, len({e.user for e in explanations}), k, seed, len(explanations),
        sum(e.path is not None for e in explanations), tuple(rows), absent, round(time.perf_counter() - started, 2),
    )


def relation_analysis(
    ctx: ExplainContext, n_users: int | None = None, k: int | None = None, seed: int | None = None,
    progress: bool = True, explanations: Sequence[Explanation] | None = None,
) -> Association:
    """Every relation the model propagates over (``interact`` included): usage by the explanations of
    ``n_users`` sampled users' top-``k`` (defaults: ``explain.eval_users``, ``explain.eval_k``, the training
    seed; or the given ``explanations``), mean learned weight, and validation NDCG@20 without its edges
    (see the module docstring)."""
    graph = ctx.graph

    def describe(propagation: PropagationGraph, relation: int) -> tuple[str, str, str]:
        return graph.relation_names[relation], ctx.phrases.noun(graph, relation), ctx.phrases.phrase(graph, relation)

    return _analyse(
        ctx, "relations", n_users, k, seed, progress,
        uses=lambda path: path_relations(path, graph),
        candidates=lambda told, listed, propagation: sorted(set(propagation.relations.tolist())),
        removed=PropagationGraph.relation_edges,
        describe=describe,
        explanations=explanations,
    )


def entity_analysis(
    ctx: ExplainContext, n_users: int | None = None, k: int | None = None, top: int = DEFAULT_TOP,
    seed: int | None = None, progress: bool = True, explanations: Sequence[Explanation] | None = None,
) -> Association:
    """The ``top`` KG entities (non-item nodes) most used by the explanations (told-path share, then listed
    share), each with validation NDCG@20 when every edge incident to it is removed (arguments as for
    :func:`relation_analysis`)."""
    graph = ctx.graph

    def candidates(told: dict[int, float], listed: dict[int, float], propagation: PropagationGraph) -> list[int]:
        return sorted(listed, key=lambda n: (-told.get(n, 0.0), -listed[n], n))[:top]

    def describe(propagation: PropagationGraph, node: int) -> tuple[str, str, str]:
        name = graph.node_name(node)
        incident = propagation.relations[propagation.incident_edges(node).cpu().numpy()]
        if not len(incident):
            return name, name, ""
        main = Counter(incident.tolist()).most_common(1)[0][0]  # the relation that links it, e.g. genre
        return name, f"{name} ({ctx.phrases.noun(graph, main)})", ""

    return _analyse(
        ctx, "entities", n_users, k, seed, progress,
        uses=lambda path: path_entities(path, graph),
        candidates=candidates,
        removed=PropagationGraph.incident_edges,
        describe=describe,
        explanations=explanations,
    )


def analyse(
    ctx: ExplainContext, kinds: Sequence[str], n_users: int | None = None, k: int | None = None, top: int = DEFAULT_TOP,
    seed: int | None = None, progress: bool = True,
) -> dict[str, Association]:
    """:func:`relation_analysis` and/or :func:`entity_analysis` (``kinds``: "relations", "entities") on one
    shared sample of explanations, so that asking for both explains the users once."""
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"kinds must be among {KINDS}, got {unknown[0]!r}")
    propagation_graph(ctx.model, ctx.graph)  # a model without a graph fails before the explaining
    n_users, k, seed = ctx.eval_defaults(n_users, k, seed)
    explanations = sampled_explanations(ctx, n_users, k, seed, progress)
    return {
        kind: relation_analysis(ctx, n_users, k, seed, progress, explanations) if kind == "relations"
        else entity_analysis(ctx, n_users, k, top, seed, progress, explanations)
        for kind in kinds
    }


def write_association(results: dict[str, Association], out_dir: FilePath) -> list[FilePath]:
    """``<kind>.json`` and ``<kind>.png`` of each analysis in ``out_dir`` (atomically); the paths written."""
    written = []
    for kind, result in results.items():
        atomic_write_json(out_dir / f"{kind}.json", result.to_dict())
        with atomic_open(out_dir / f"{kind}.png", "wb") as handle:
            handle.write(association_png(result))
        written += [out_dir / f"{kind}.json", out_dir / f"{kind}.png"]
    return written


# ---- the chart -------------------------------------------------------------------------------------------
def association_png(result: Association) -> bytes:
    """Two horizontal bar charts as PNG bytes: share of explanations (dark: told path, light: any listed
    path) and the validation NDCG@20 drop when the row's edges are removed, rows in the table's order."""
    rows, note = result.charted()
    labels = [chart_label(r.label if result.kind == "entities" else f"{r.label} ({r.name})", 40) for r in rows]
    with png_figure(1, 2, figsize=(10, 1.8 + 0.3 * max(len(rows), 2)), sharey=True) as (figure, (share_axis, drop_axis)):
        y = np.arange(len(rows))
        share_axis.barh(y, [r.listed_share for r in rows], color="#c6dbef")
        share_axis.barh(y, [r.share for r in rows], color="#2171b5", height=0.5)
        share_axis.set(yticks=y, yticklabels=labels, xlabel="share of explanations",
                       title="used by explanations (dark: told path, light: any listed path)")
        drops = [r.drop for r in rows]
        drop_axis.barh(y, drops, color=["#cb181d" if d > 0 else "#969696" for d in drops])
        drop_axis.axvline(0, color="#555555", linewidth=0.8)
        drop_axis.locator_params(axis="x", nbins=5)  # drops are small numbers with long tick labels
        title = f"validation NDCG@{NDCG_K} drop without its edges" + (f"\n{note}" if note else "")
        drop_axis.set(xlabel=f"NDCG@{NDCG_K} of the full graph ({result.full:.4f}) − without", title=title)
        share_axis.invert_yaxis()
        if not rows:
            share_axis.text(0.5, 0.5, f"no {result.kind} to show", ha="center", va="center",
                            transform=share_axis.transAxes)
        for axis in (share_axis, drop_axis):
            axis.grid(True, axis="x", alpha=0.3)
            axis.title.set_fontsize(9)
        return figure_png(figure)
