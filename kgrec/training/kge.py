"""Training a knowledge-graph embedding (TransH, or PyG's TransE for comparison) on its own triples.

:func:`train_kge` is a plain mini-batch loop: each epoch shuffles the training triples, draws one negative per
positive ("bern": corrupt the head with the relation's :func:`~kgrec.models.transh.bern_probabilities`, else the
tail; never the original entity), and minimises the margin ranking loss plus, for TransH, the paper's soft
constraints with Adam. The defaults follow PyKEEN's TransH setup (score −‖h⊥ + d_r − t⊥‖₂, N(0, (2/√dim)²) init,
unit normals renormalised after each step, margin 1, constraints summed over the whole entity and relation tables
with weight 0.05, Adam lr 0.01, batch 256); ``pipelines/bench_kge.py`` has the settings tuned per benchmark.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.kge import KGEModel, TransE

from kgrec.atomic import atomic_path
from kgrec.config import KGE_MODELS, KGEConfig
from kgrec.data.triples import TripleSplit
from kgrec.errors import ConfigError, KgrecError, RunError
from kgrec.evaluation.linkpred import evaluate_link_prediction
from kgrec.models.transh import TransH, bern_probabilities
from kgrec.training.checkpoint import checkpoint_entry, load_weights, read_checkpoint


def model_arguments(config: KGEConfig, num_nodes: int, num_relations: int) -> dict[str, Any]:
    """Constructor keyword arguments of the configured model (saved with a checkpoint)."""
    args: dict[str, Any] = {
        "num_nodes": num_nodes,
        "num_relations": num_relations,
        "hidden_channels": config.dim,
        "margin": config.margin,
    }
    if config.model == "transh":
        args.update(squared=config.distance == "l2sq", soft_constraint_weight=config.soft_constraint_weight)
    return args


def build_model(model: str, arguments: dict[str, Any]) -> KGEModel:
    """A fresh ``transh`` / ``transe`` from its constructor arguments."""
    if model == "transh":
        return TransH(**arguments)
    if model == "transe":
        return TransE(**arguments)
    raise ConfigError(f"unknown KGE model {model!r}; expected one of {', '.join(KGE_MODELS)}")


def corrupt(
    head: Tensor, tail: Tensor, head_probability: Tensor, num_nodes: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """One negative per positive: replace the head with probability ``head_probability`` (per row), else the tail.

    The replacement is uniform over the *other* entities (draw from ``num_nodes − 1`` and shift ids ≥ the
    original up by one, as PyKEEN), so a negative never equals its positive; it may still be another true
    triple (unfiltered sampling).
    """
    replace_head = torch.rand(head.shape, generator=generator, device=head.device) < head_probability
    original = torch.where(replace_head, head, tail)
    random = torch.randint(max(num_nodes - 1, 1), head.shape, generator=generator, device=head.device)
    if num_nodes > 1:
        random = random + (random >= original).long()
    return torch.where(replace_head, random, head), torch.where(replace_head, tail, random)


def initialise_normal(model: TransH) -> None:
    """Every TransH table ~ N(0, (2/√dim)²) (PyKEEN's ``xavier_normal_``), then the normals to unit length."""
    with torch.no_grad():
        for table in (model.node_emb, model.rel_emb, model.rel_normal):
            table.weight.normal_(0.0, 2.0 / table.weight.size(-1) ** 0.5)
        F.normalize(model.rel_normal.weight, p=2.0, dim=-1, out=model.rel_normal.weight)


def soft_constraints_all(model: TransH, epsilon: float = 1e-5) -> Tensor:
    r"""TransH's soft constraints summed over the whole tables (as PyKEEN):
    :math:`\sum_e [\|e\|^2 - 1]_+ + \sum_r [(w_r^\top d_r)^2 / \|d_r\|^2 - \epsilon]_+` with unit :math:`w_r`."""
    e = model.node_emb.weight
    entity = F.relu((e * e).sum(dim=-1) - 1.0).sum()
    w = F.normalize(model.rel_normal.weight, p=2.0, dim=-1)
    d = model.rel_emb.weight
    cos2 = (w * d).sum(dim=-1).pow(2) / (d * d).sum(dim=-1).clamp_min(1e-12)
    return entity + F.relu(cos2 - epsilon).sum()


def train_kge(
    split: TripleSplit, config: KGEConfig | None = None, progress: bool = True
) -> tuple[KGEModel, list[dict[str, float]]]:
    """Train ``config.model`` on ``split.train``; returns the model (eval mode) and one history row per epoch.

    History rows: ``epoch``, ``loss`` (mean batch loss), ``seconds`` (training time so far, evaluation
    excluded) and, every ``eval_every`` epochs, ``valid_mrr`` (filtered, both sides).
    """
    config = config or KGEConfig()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.num_threads)
    try:
        device = torch.device(config.device)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        raise ConfigError(f"kge.device: cannot use {config.device!r} ({error})") from None
    train = split.train.to(device)
    if train.size(0) == 0:
        raise KgrecError(f"{split.name}: no training triples")
    num_nodes, num_relations = split.num_entities, split.num_relations
    model = build_model(config.model, model_arguments(config, num_nodes, num_relations))
    if config.init == "normal" and isinstance(model, TransH):
        initialise_normal(model)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    if config.negative_sampling == "bern":
        probabilities = bern_probabilities(split.train[:, 0], split.train[:, 1], split.train[:, 2], num_relations)
    else:
        probabilities = torch.full((num_relations,), 0.5)
    head_probability = probabilities.to(device)[train[:, 1]]
    constrained = isinstance(model, TransH) and config.soft_constraint_weight > 0
    unit_normals = isinstance(model, TransH) and config.unit_normals

    history: list[dict[str, float]] = []
    epochs = range(1, config.epochs + 1)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc=f"{config.model} {split.name}", unit="epoch")
    elapsed = 0.0
    model.train()
    for epoch in epochs:
        start = time.perf_counter()
        order = torch.randperm(train.size(0), generator=generator, device=device)
        total, batches = torch.zeros((), device=device), 0
        for rows in order.split(config.batch_size):
            h, r, t = train[rows].unbind(dim=1)
            neg_h, neg_t = corrupt(h, t, head_probability[rows], num_nodes, generator)
            scores = model(torch.cat([h, neg_h]), torch.cat([r, r]), torch.cat([t, neg_t]))
            pos, neg = scores.chunk(2)
            loss = F.relu(neg - pos + config.margin).mean()
            if constrained:
                if config.constraint == "all":
                    penalty = soft_constraints_all(model)
                else:
                    penalty = model.soft_constraint(torch.cat([h, t, neg_h, neg_t]), r)
                loss = loss + config.soft_constraint_weight * penalty
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if unit_normals:
                with torch.no_grad():
                    model.rel_normal.weight.div_(model.rel_normal.weight.norm(dim=-1, keepdim=True).clamp_min(1e-12))
            total += loss.detach()
            batches += 1
        elapsed += time.perf_counter() - start
        row: dict[str, float] = {"epoch": epoch, "loss": float(total) / max(batches, 1), "seconds": elapsed}
        if config.eval_every and (epoch % config.eval_every == 0 or epoch == config.epochs):
            metrics = evaluate_link_prediction(
                model, split.valid, split.parts, num_nodes, batch_size=config.eval_batch_size
            )
            row["valid_mrr"] = metrics["mrr"]
        history.append(row)
        if progress:
            epochs.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k in ("loss", "valid_mrr")})
        if not torch.isfinite(total):
            raise KgrecError(f"{config.model} on {split.name}: the loss diverged at epoch {epoch}; try a lower lr")
    model.eval()
    return model, history


def save_checkpoint(path: str | Path, model: KGEModel, config: KGEConfig, split: TripleSplit) -> None:
    """``model.pt``: the state dict, the model's name and constructor arguments, and the id → name maps
    (written atomically: the file is complete or absent)."""
    checkpoint = {
        "model": config.model,
        "arguments": model_arguments(config, split.num_entities, split.num_relations),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "entities": [str(x) for x in split.entities.raw_ids],
        "relations": [str(x) for x in split.relations.raw_ids],
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[KGEModel, dict[str, Any]]:
    """Rebuild the model saved by :func:`save_checkpoint` (eval mode); returns it and the raw checkpoint.

    A missing, damaged or foreign file, or weights that do not fit the saved arguments, is a RunError naming it."""
    path = Path(path)
    checkpoint = read_checkpoint(path, device)
    name = checkpoint_entry(checkpoint, "model", str, path)
    arguments = checkpoint_entry(checkpoint, "arguments", dict, path)
    weights = checkpoint_entry(checkpoint, "state_dict", dict, path)
    try:
        model = build_model(name, arguments)
    except (ConfigError, TypeError, ValueError, RuntimeError, OverflowError) as error:  # arguments of another shape
        raise RunError(f"{path}: cannot rebuild the {name!r} model from its saved arguments ({error})") from error
    load_weights(model, weights, path)
    model.to(device).eval()
    return model, checkpoint

