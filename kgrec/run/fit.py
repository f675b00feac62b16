"""One training run end to end: dataset -> split -> graph -> model -> trainer -> test metrics, in a run directory.

A run directory holds ``config.yaml``, ``split/`` (the exact train/valid/test pairs), ``model.pt`` (best
validation weights), ``last.pt`` (resumable state), ``history.csv``, ``curves.png``, ``metrics.json`` and, for
kgrec models, ``rules.json`` (the rules explanations use). Training itself is :mod:`kgrec.training`'s (it
returns a model and its history); this module orchestrates it with the data, the rule miner and the files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kgrec.atomic import atomic_write_text
from kgrec.config import RunConfig
from kgrec.data.dataset import RecDataset
from kgrec.data.graph import CollaborativeKG
from kgrec.data.load import load_dataset
from kgrec.data.split import Split, load_split, split
from kgrec.errors import ConfigError, RunError
from kgrec.evaluation.ranking import evaluate_ranking
from kgrec.explain.rules import RuleSet, load_or_mine_rules
from kgrec.models.base import RankingModel
from kgrec.models.baselines import build_model, item_popularity
from kgrec.run.files import (
    DATASET_CARD,
    check_dataset_card,
    read_dataset_card,
    saved_run_config,
    write_dataset_card,
    write_run_config,
)
from kgrec.training.checkpoint import checkpoint_entry, load_weights, read_checkpoint
from kgrec.training.curves import plot_curves
from kgrec.training.distributed import Distributed, environment_world_size, from_environment, launch, leave
from kgrec.training.trainer import BEST, LAST, Trainer, TrainResult

log = logging.getLogger(__name__)
PROTOCOLS = ("ranking", "ctr")
RULES_FILE = "rules.json"


@dataclass
class Prepared:
    """The data side of a run: dataset, split and training graph."""

    dataset: RecDataset
    split: Split
    graph: CollaborativeKG


def prepare(config: RunConfig, split_dir: Path | None = None, dataset: RecDataset | None = None) -> Prepared:
    """Load the dataset (unless given), split it (or read ``split_dir``) and build the training graph."""
    dataset = load_dataset(config.data) if dataset is None else dataset
    parts = load_split(split_dir, dataset) if split_dir is not None else split(dataset, config.split)
    graph = CollaborativeKG.build(dataset, parts.train, device=config.train.device)
    return Prepared(dataset, parts, graph)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_ranking(model: RankingModel, prepared: Prepared, config: RunConfig) -> dict[str, float]:
    """Full ranking on test with train and valid items masked."""
    model.eval()
    return evaluate_ranking(
        model.score_users, prepared.split.test, [prepared.split.train, prepared.split.valid], prepared.dataset.n_items,
        config.eval.ks, config.eval.batch_size, item_popularity(prepared.graph), config.train.device,
    )


def train_run(config: RunConfig, run_dir: Path, resume: bool = False, progress: bool = True, nproc: int = 1) -> dict[str, Any]:
    """Train and test one model; write everything into ``run_dir``; return the metrics written to metrics.json.

    ``nproc`` > 1 trains data-parallel in that many new local processes (:func:`kgrec.training.distributed.launch`).
    A process that torchrun started (``WORLD_SIZE`` > 1 in its environment) trains as its rank of torchrun's
    group instead, and every rank returns the metrics. One process (the default) trains without a group."""
    if environment_world_size() > 1:
        if nproc > 1:
            raise ConfigError(
                f"--nproc {nproc}: this process is one of WORLD_SIZE={environment_world_size()} that torchrun started; "
                "give the number of processes to torchrun (--nproc-per-node) and leave out --nproc"
            )
        distributed = from_environment(config.train.device)
        try:
            return fit_run(config, run_dir, resume, progress, distributed=distributed).metrics
        finally:
            leave()
    if nproc > 1:
        launch(nproc, _train_rank, (config, run_dir, resume, progress), config.train.device)
        return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return fit_run(config, run_dir, resume, progress).metrics


def _train_rank(distributed: Distributed, config: RunConfig, run_dir: Path, resume: bool, progress: bool) -> None:
    """One process of :func:`train_run` with ``nproc`` > 1."""
    fit_run(config, run_dir, resume, progress, distributed=distributed)


@dataclass
class FittedRun:
    """A finished run: its metrics, data and the model with its best validation weights."""

    metrics: dict[str, Any]
    prepared: Prepared
    model: RankingModel


def fit_run(
    config: RunConfig,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    dataset: RecDataset | None = None,
    parts: Split | None = None,
    distributed: Distributed | None = None,
) -> FittedRun:
    """:func:`train_run`, optionally on an in-memory ``dataset`` and a given split ``parts``.

    ``distributed``: this process's place in a data-parallel group. Process 0 prepares the data, writes
    ``run_dir``, decides whether there is a checkpoint to resume from, validates and tests; the others load
    the dataset, train on process 0's split and write nothing. Every process returns the same metrics."""
    writes = distributed is None or distributed.writes
    if distributed is not None:  # a bare `cuda` means each process's own GPU
        device = distributed.device(config.train.device)
        computed = dataclasses.replace(config, train=dataclasses.replace(config.train, device=device))
    else:
        computed = config
    resume_from = None
    if writes:
        run_dir.mkdir(parents=True, exist_ok=True)
        saved_split = run_dir / "split"
        if resume:
            prepared = prepare(computed, saved_split, dataset)
        elif parts is not None:
            dataset = load_dataset(config.data) if dataset is None else dataset
            prepared = Prepared(dataset, parts, CollaborativeKG.build(dataset, parts.train, device=computed.train.device))
        else:
            prepared = prepare(computed, None, dataset)
        if not resume:
            write_run_config(run_dir, config)
            prepared.split.save(saved_split, prepared.dataset)
            write_dataset_card(run_dir, prepared.dataset)
        resume_from = run_dir / LAST if resume and (run_dir / LAST).exists() else None
    else:  # while process 0 prepares: the same dataset (its split comes from process 0)
        dataset = load_dataset(config.data) if dataset is None else dataset
    if distributed is not None:
        shared = distributed.broadcast((prepared.split, resume_from) if writes else None)
        if not writes:
            parts, resume_from = shared
            prepared = Prepared(dataset, parts, CollaborativeKG.build(dataset, parts.train, device=computed.train.device))
    config = computed
    torch.manual_seed(config.train.seed)
    model = build_model(prepared.graph, config.model)
    trainer = Trainer(
        model, prepared.split, prepared.dataset.n_items, config.train, config.eval, run_dir,
        item_popularity(prepared.graph), progress and writes, distributed,
    )
    result = trainer.fit(resume_from)
    metrics = None
    if writes:
        started = time.perf_counter()
        test = test_ranking(model, prepared, config)
        metrics = summarise(result, test, time.perf_counter() - started, prepared)
        atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        if result.history:
            plot_curves(result.history, run_dir / "curves.png", config.train.metric)
        if config.model.model == "kgrec":  # the rules explanations use, saved with the run
            run_rules(run_dir, prepared, config)
    if distributed is not None:
        metrics = distributed.broadcast(metrics)
    return FittedRun(metrics, prepared, model)


def run_rules(run_dir: Path | None, prepared: Prepared, config: RunConfig) -> RuleSet:
    """The run's mined rules: read from its ``rules.json``, or mined from the training split and saved there
    (kept in memory only when ``run_dir`` is None)."""
    path = None if run_dir is None else run_dir / RULES_FILE
    return load_or_mine_rules(path, prepared.graph, prepared.split.train, config.explain)


def summarise(result: TrainResult, test: dict[str, float], eval_seconds: float, prepared: Prepared) -> dict[str, Any]:
    """metrics.json: test metrics, the best validation epoch and metrics, timings, memory, split sizes."""
    return {
        "test": test,
        "valid": result.best_metrics,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "seconds_to_best": round(result.seconds_to_best, 2),
        "seconds_per_epoch": round(result.seconds_per_epoch, 3),
        "train_seconds": round(result.train_seconds, 2),
        "eval_seconds": round(eval_seconds, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "split": prepared.split.summary(),
    }


def load_run(run_dir: Path) -> tuple[RunConfig, Prepared, RankingModel]:
    """Rebuild a run's data and model from its directory and load the best weights.

    A missing or unreadable file is a RunError, a run of another kgrec version or dataset an
    IncompatibleRunError, a bad config.yaml value a ConfigError; each names the file. The small files and the
    weights are read before the dataset, so a broken run is reported before the slow part."""
    config = saved_run_config(run_dir)
    best = run_dir / BEST
    if not best.exists():
        raise RunError(f"{best}: model file missing; the run did not finish an evaluation")
    weights = checkpoint_entry(read_checkpoint(best, config.train.device), "state_dict", dict, best)
    card = read_dataset_card(run_dir / DATASET_CARD)
    dataset = load_dataset(config.data)
    if card is not None:
        check_dataset_card(card, dataset, run_dir / DATASET_CARD)
    prepared = prepare(config, run_dir / "split", dataset)
    model = build_model(prepared.graph, config.model)
    load_weights(model, weights, best)
    model.eval()
    return config, prepared, model


def evaluate_run(run_dir: Path, protocol: str = "ranking") -> dict[str, float]:
    """Evaluate a saved run on its test split: ``ranking`` (full ranking) or ``ctr`` (KGCN's protocol)."""
    if protocol not in PROTOCOLS:  # before loading anything
        raise ConfigError(f"unknown protocol {protocol!r}; protocols: {', '.join(PROTOCOLS)}")
    config, prepared, model = load_run(run_dir)
    return evaluate_model(model, prepared, config, protocol)


def evaluate_model(model: RankingModel, prepared: Prepared, config: RunConfig, protocol: str = "ranking") -> dict[str, float]:
    """Test metrics of ``model``: ``ranking`` (full ranking, :func:`test_ranking`) or ``ctr`` (KGCN's protocol)."""
    if protocol == "ctr":
        from kgrec.evaluation.ctr import evaluate_ctr_protocol  # scikit-learn: only for this protocol

        return evaluate_ctr_protocol(model, prepared.dataset, prepared.split, config.train.seed)
    return test_ranking(model, prepared, config)
