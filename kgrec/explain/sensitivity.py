"""Sensitivity analysis and generic baselines: per-edge attributions of one (user, item) score.

Every method scores the edges of the score's *computation subgraph* — the edges whose target lies within
``layers - 1`` hops of the user or the item node, the only ones an L-layer propagation can route into
``ū`` or ``ī`` — and the scores become an :class:`Explanation` like the path explainer's.

What runs where:

* ``saliency`` (∂ score / ∂ mask at mask = 1), ``ig`` (integrated gradients from the all-zeros mask,
  ``steps`` Gauss–Legendre nodes) and ``gnnexplainer`` are PyG's: :class:`torch_geometric.explain.Explainer`
  with ``CaptumExplainer("Saliency" | "IntegratedGradients")`` (needs ``captum``: ``pip install
  kgrec[captum]``) and ``GNNExplainer``, on :class:`ScoreModule`, which turns the recommender into a
  graph-level regression model (``forward(x, edge_index) → [score(u, i)]``). PyG's masks act through its
  ``MessagePassing`` explain hook: every message of edge e is multiplied by ``mask[e]`` (raw for Captum,
  sigmoid for GNNExplainer) in every layer, so mask 0 silences an edge without renormalising the others.
* kgrec's own code: the computation subgraph, :class:`ScoreModule` itself, ``attention`` (the model's
  propagation weights: PyG's ``AttentionExplainer`` reads attention coefficients that layers return, but
  kgrec computes one weight per edge outside the layers, so the weights are read directly), ``random``
  (seeded uniform scores), and turning edge scores into an explanation path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor, nn

from kgrec.errors import ConfigError
from kgrec.evaluation.ranking import history_mask, rank_of
from kgrec.explain.context import ExplainContext
from kgrec.explain.explainer import rule_of
from kgrec.explain.render import explanation_text
from kgrec.explain.types import Explanation, Path
from kgrec.models.kgrec import KGRec

#: Methods of this module (the path explainer's ``paths`` and ``rules`` live in :mod:`kgrec.explain.explainer`).
SENSITIVITY_METHODS = ("saliency", "ig", "gnnexplainer", "attention", "random")
#: Edge scores stored per explanation in ``extra["edge_scores"]`` (the strongest first).
STORED_EDGES = 50


def _kgrec_model(model: nn.Module) -> KGRec:
    if not isinstance(model, KGRec):
        raise ConfigError(f"sensitivity methods need a kgrec model (edge masks in its message passing), not {type(model).__name__}")
    return model


def computation_subgraph(model: nn.Module, user: int, item: int) -> Tensor:
    """Indices of the model's edges that score(``user``, ``item``) depends on (dataset ids).

    Layer l of node v sums messages over the edges into v from layer l-1, so the L-layer ``ū`` and ``ī``
    depend exactly on the edges whose target lies within L-1 hops (against the edge direction) of u or i.
    """
    model = _kgrec_model(model)
    source, target = model.edge_index
    reached = torch.zeros(model.num_nodes, dtype=torch.bool, device=source.device)
    reached[user] = True
    reached[model.n_users + item] = True
    for _ in range(len(model.convs) - 1):
        reached[source[reached[target]]] = True
    return torch.nonzero(reached[target]).flatten() if len(model.convs) else source.new_zeros(0)


class ScoreModule(nn.Module):
    """score(``user``, ``item``) as a graph-level regression model over the computation subgraph, for PyG.

    ``forward(x, edge_index)`` ignores ``x`` (the embeddings are the model's) and expects the subgraph's
    ``edge_index``, so that PyG's per-edge masks line up with the messages of every layer.
    """

    def __init__(self, model: nn.Module, user: int, item: int, edges: Tensor | None = None) -> None:
        super().__init__()
        self.model = _kgrec_model(model)
        self.user, self.item = int(user), int(item)
        self.edges = computation_subgraph(model, user, item) if edges is None else edges
        with torch.no_grad():
            self.register_buffer("weight", self.model.edge_weight()[self.edges])

    @property
    def edge_index(self) -> Tensor:
        return self.model.edge_index[:, self.edges]

    def forward(self, x: Tensor, edge_index: Tensor, edge_mask: Tensor | None = None) -> Tensor:
        if edge_index.size(1) != len(self.edges):
            raise ValueError(f"expected the {len(self.edges)} subgraph edges, got {edge_index.size(1)}")
        mask = torch.ones_like(self.weight) if edge_mask is None else edge_mask
        nodes = self.model.propagate(edge_weight=self.weight, keep=self.edges, edge_mask=mask)
        return (nodes[self.user] * nodes[self.model.n_users + self.item]).sum().view(1)


@dataclass(frozen=True)
class EdgeScores:
    """A method's scores of undirected edges: ``pairs`` [P, 2] (low node, high node), ``scores`` [P]
    (the sum over both directions: deleting a pair removes both), and the seconds it took."""

    method: str
    pairs: np.ndarray
    scores: np.ndarray
    seconds: float

    def top(self, budget: int) -> np.ndarray:
        """The ``budget`` highest-scoring pairs [b, 2] (ties: lower node ids first)."""
        order = np.lexsort((self.pairs[:, 1], self.pairs[:, 0], -self.scores))
        return self.pairs[order[:budget]]

    def edges_for_mass(self, share: float = 0.9) -> int:
        """Fewest pairs that hold ``share`` of the absolute attribution mass (sparsity; 0 if all zero)."""
        mass = np.sort(np.abs(self.scores))[::-1]
        total = mass.sum()
        if total <= 0:
            return 0
        return int(np.searchsorted(np.cumsum(mass), share * total - 1e-12 * total) + 1)

    def lookup(self, pairs: np.ndarray) -> np.ndarray:
        """Scores of the given undirected pairs (0 for pairs not scored)."""
        if not len(pairs) or not len(self.pairs):
            return np.zeros(len(pairs))
        n = int(max(self.pairs.max(), pairs.max())) + 1
        keys, wanted = _pair_keys(self.pairs, n), _pair_keys(pairs, n)
        order = np.argsort(keys)
        position = np.searchsorted(keys[order], wanted).clip(max=len(keys) - 1)
        found = keys[order][position] == wanted
        return np.where(found, self.scores[order][position], 0.0)


def _pair_keys(pairs: np.ndarray, n: int) -> np.ndarray:
    low, high = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    return low.astype(np.int64) * n + high


def undirected(method: str, edge_index: Tensor, scores: Tensor, seconds: float) -> EdgeScores:
    """Directed edge scores summed per undirected node pair."""
    ends = edge_index.cpu().numpy().T.astype(np.int64)
    ends = np.sort(ends, axis=1)
    pairs, inverse = np.unique(ends, axis=0, return_inverse=True)
    total = np.zeros(len(pairs))
    np.add.at(total, inverse.reshape(-1), scores.detach().cpu().numpy().astype(np.float64))
    return EdgeScores(method, pairs, total, seconds)


def pyg_explainer(module: ScoreModule, method: str, steps: int = 32, epochs: int = 100):
    """PyG's :class:`~torch_geometric.explain.Explainer` of ``method`` on the score module."""
    from torch_geometric.explain import Explainer, GNNExplainer

    if method == "gnnexplainer":
        algorithm = GNNExplainer(epochs=epochs)
    else:
        try:
            import captum  # noqa: F401
            from torch_geometric.explain import CaptumExplainer
        except ImportError as error:
            raise ConfigError(f"method {method!r} needs captum: pip install 'kgrec[captum]'") from error
        if method == "saliency":
            algorithm = CaptumExplainer("Saliency", abs=False)
        else:
            algorithm = CaptumExplainer("IntegratedGradients", n_steps=steps, method="gausslegendre")
    return Explainer(
        model=module, algorithm=algorithm, explanation_type="model", edge_mask_type="object", node_mask_type=None,
        model_config={"mode": "regression", "task_level": "graph", "return_type": "raw"},
    )


def _forget_mask_parameters(model: nn.Module) -> None:
    """Undo a PyG side effect: GNNExplainer's mask is a Parameter, which ``set_masks`` registers on every
    layer and ``clear_masks`` only sets to None; a later Captum mask would then be wrapped in a fresh
    Parameter, cut from Captum's input, and get no gradient."""
    from torch_geometric.nn import MessagePassing

    for layer in model.modules():
        if isinstance(layer, MessagePassing) and "_edge_mask" in layer._parameters:
            del layer._parameters["_edge_mask"]
            layer._edge_mask = None


def edge_scores(model: nn.Module, user: int, item: int, method: str, steps: int = 32, epochs: int = 100, seed: int = 0) -> EdgeScores:
    """``method``'s attribution of every computation-subgraph edge of score(``user``, ``item``)."""
    if method not in SENSITIVITY_METHODS:
        raise ValueError(f"unknown sensitivity method {method!r}; choose from {SENSITIVITY_METHODS}")
    started = time.perf_counter()
    module = ScoreModule(model, user, item)
    edge_index = module.edge_index
    if method == "attention":
        scores = module.weight
    elif method == "random":
        scores = torch.as_tensor(np.random.default_rng([seed, user, item]).random(len(module.edges)))
    elif not len(module.edges):
        scores = module.weight
    else:
        torch.manual_seed(seed)  # GNNExplainer's random mask initialisation
        x = module.model.node_emb.weight.detach()
        scores = pyg_explainer(module, method, steps, epochs)(x, edge_index).edge_mask
        _forget_mask_parameters(module.model)
    return undirected(method, edge_index, scores, time.perf_counter() - started)


def path_attribution(paths: list[Path], scores: EdgeScores) -> np.ndarray:
    """Each path's attribution: the smallest score of its edges (a path is only as strong as its weakest link)."""
    out = np.full(len(paths), -np.inf)
    for index, path in enumerate(paths):
        nodes = np.asarray(path.nodes, dtype=np.int64)
        out[index] = scores.lookup(np.stack([nodes[:-1], nodes[1:]], axis=1)).min()
    return out


def to_explanation(ctx: ExplainContext, user: int, item: int, scores: EdgeScores, score: float, rank: int, max_len: int = 3) -> Explanation:
    """The explanation of ``scores``: the user→item paths (≤ ``max_len`` edges, the path enumerator's top
    ``max_paths`` by model weight) ordered by attribution, the best chosen, with the mined rule it
    instantiates, the sentence, and the strongest ``STORED_EDGES`` raw edge scores in ``extra``."""
    paths = [p for p in ctx.explainer.finder.paths(user, item, max_len) if p.weight > 0]
    attribution = path_attribution(paths, scores)
    order = np.argsort(-attribution, kind="stable")[: ctx.config.explain.top_paths]
    kept = tuple(paths[i] for i in order)
    top = scores.top(STORED_EDGES)
    extra = {"edge_scores": {"pairs": top.tolist(), "scores": scores.lookup(top).tolist(), "edges": int(len(scores.pairs))},
             "path_attribution": [float(attribution[i]) for i in order]}
    explanation = Explanation(
        int(user), int(item), float(score), int(rank), kept, 0 if kept else None,
        rule_of(kept[0], ctx.rules.by_pattern()) if kept else None, extra=extra, method=scores.method,
    )
    return replace(explanation, text=explanation_text(explanation, ctx.graph, ctx.phrases))


def explain_with(ctx: ExplainContext, user: int, item: int, method: str, steps: int = 32, epochs: int = 100, seed: int = 0) -> Explanation:
    """``method``'s explanation of why ``ctx``'s model scores ``item`` for ``user`` (dataset ids), with its rank."""
    full = ctx.scores(user)
    masked = history_mask(ctx.history(user), len(full))
    scores = edge_scores(ctx.model, user, item, method, steps, epochs, seed)
    return to_explanation(ctx, user, item, scores, float(full[item]), rank_of(full, item, masked))
