"""The recommender training loop: BPR mini-batches, validation, early stopping, checkpoints, resume.

Every model behind :class:`kgrec.models.base.RankingModel` trains here and is evaluated by
:func:`kgrec.evaluation.ranking.evaluate_ranking` — no model has its own loop or its own metrics.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR
from tqdm import tqdm

from kgrec.atomic import atomic_open, atomic_path, remove_stale_temporaries
from kgrec.config import EvalConfig, TrainConfig, require_computed_metric
from kgrec.data.sampling import NegativeSampler
from kgrec.data.split import Split
from kgrec.errors import RunError
from kgrec.evaluation.ranking import evaluate_ranking
from kgrec.models.base import Objective, RankingModel
from kgrec.training.checkpoint import checkpoint_entry, first_sentence, load_weights, read_checkpoint
from kgrec.training.distributed import Distributed, data_parallel
from kgrec.training.neighbors import neighbor_sampler, sampled_loss

log = logging.getLogger(__name__)

BEST, LAST = "model.pt", "last.pt"
#: The cosine schedule ends at this fraction of the base rate (and stays there).
COSINE_FLOOR = 0.05


def use_deterministic_algorithms(enabled: bool) -> None:
    """``train.deterministic``: PyTorch's deterministic kernels on (the default) or off, for this process.

    On the CPU this matters from 2 threads on: the gradient of an indexing ``x[idx]`` with repeated
    indices (every batch lookup of the ranking loss) accumulates with atomic adds otherwise, in an order
    that changes from run to run. On CUDA it also fixes scatter-add and the cuBLAS workspace.

    PyTorch's deterministic mode also fills every new uninitialised tensor with NaN, to expose reads of
    uninitialised memory; no kgrec code reads one, and the fill took a sixth of a training step on the
    CPU, so it is switched off."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False


def learning_rate_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig) -> LambdaLR | None:
    """``lr_cosine_epochs`` > 0: a half cosine from lr down to :data:`COSINE_FLOOR` · lr over that many
    epochs, stepped once per epoch; otherwise None (a constant rate)."""
    if config.lr_cosine_epochs > 0:
        return LambdaLR(optimizer, partial(cosine_factor, epochs=config.lr_cosine_epochs, floor=COSINE_FLOOR))
    return None


def cosine_factor(epoch: int, epochs: int, floor: float = COSINE_FLOOR) -> float:
    """The multiplier of the base rate after ``epoch`` epochs: from 1 down to ``floor`` along a half cosine over
    ``epochs`` epochs, then ``floor``."""
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs) / epochs))


def seed_everything(seed: int) -> None:
    """One seed for Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class TrainResult:
    """What a training run achieved: the best validation epoch and metric, timings, the history."""

    best_epoch: int = 0
    best_valid: float = float("-inf")
    best_metrics: dict[str, float] = field(default_factory=dict)
    seconds_to_best: float = 0.0
    train_seconds: float = 0.0
    epochs_run: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        return self.train_seconds / self.epochs_run if self.epochs_run else 0.0


class Trainer:
    """Trains ``model`` on ``split.train`` and early-stops on ``config.metric`` of ``split.valid``.

    ``config.sampling = "neighbor"`` propagates each step over the batch's sampled neighbourhood only
    (:mod:`kgrec.training.neighbors`); validation always ranks with the full graph.

    With a ``run_dir`` it writes ``model.pt`` (weights of the best validation epoch), ``last.pt`` (all
    state needed to resume: weights, optimiser, RNGs, history), ``history.csv`` and ``curves.png``.

    ``distributed`` (one process of a data-parallel group, :mod:`kgrec.training.distributed`): every process
    trains the same model on its shard of each global batch under DistributedDataParallel; process 0
    validates and tells the others the metrics, so all stop at the same epoch; only process 0 reads the
    checkpoint to resume from (and sends it to the others) and only it writes ``run_dir`` — the others
    ignore it and keep their best weights in memory.
    """

    def __init__(
        self,
        model: RankingModel,
        split: Split,
        n_items: int,
        config: TrainConfig,
        eval_config: EvalConfig,
        run_dir: Path | None = None,
        item_popularity: np.ndarray | None = None,
        progress: bool = True,
        distributed: Distributed | None = None,
    ) -> None:
        require_computed_metric(config, eval_config)  # TrainConfig checked the metric's name
        if distributed is not None and not distributed.writes:
            run_dir = None  # process 0 writes the run directory, no other
        self.distributed = distributed
        self.model, self.split, self.n_items = model, split, n_items
        self.config, self.eval_config = config, eval_config
        self.run_dir, self.progress, self.item_popularity = run_dir, progress, item_popularity
        self.device = torch.device(config.device)
        torch.set_num_threads(config.num_threads)
        use_deterministic_algorithms(config.deterministic)
        seed_everything(config.seed)
        self.model.to(self.device)
        self.sampler = NegativeSampler(split.train, n_items, config.seed)
        rank = 0 if distributed is None else distributed.rank
        self.neighbors = neighbor_sampler(model, config, rank) if config.sampling == "neighbor" else None
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr) if model.trainable else None
        self.scheduler = None if self.optimizer is None else learning_rate_schedule(self.optimizer, config)
        self.objective = Objective(config.loss)
        # under data parallelism the step runs through DistributedDataParallel (which syncs the weights now)
        self.step = None if distributed is None or not model.trainable else data_parallel(
            model, self.objective, self.neighbors, distributed
        )
        self._best_state: dict[str, torch.Tensor] | None = None  # the best weights, without a run directory
        self.result = TrainResult()
        self.start_epoch = 1

    # ---- evaluation --------------------------------------------------------------------------------------
    def validate(self) -> dict[str, float]:
        """Full-ranking metrics on the validation part, training items masked."""
        self.model.eval()
        return evaluate_ranking(
            self.model.score_users, self.split.valid, [self.split.train], self.n_items, self.eval_config.ks,
            self.eval_config.batch_size, self.item_popularity, self.device,
        )

    def validate_everywhere(self) -> dict[str, float]:
        """:meth:`validate`; under data parallelism computed by process 0 and sent to the others."""
        if self.distributed is None:
            return self.validate()
        return self.distributed.broadcast(self.validate() if self.distributed.rank == 0 else None)

    # ---- training ----------------------------------------------------------------------------------------
    def train_epoch(self) -> dict[str, float]:
        """One pass over the training pairs; mean losses."""
        return self.train_batches(self.sampler.epoch(self.split.train, self.config.batch_size, self.config.negatives))

    def train_batches(self, batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, float]:
        """One optimiser step per (users, positives, negatives) batch, in training mode; mean losses.

        Under data parallelism the batches are the global ones and the losses the global batches' means."""
        (self.model if self.step is None else self.step).train()
        totals: dict[str, float] = {}
        for users, positives, negatives in batches:
            as_tensor = lambda a: torch.as_tensor(a, device=self.device)  # noqa: E731
            batch = (as_tensor(users), as_tensor(positives), as_tensor(negatives))
            if self.step is not None:  # this process's shard, gradients averaged over the processes
                loss, parts = self.step(*batch)
            elif self.neighbors is None:
                loss, parts = self.model.loss(*batch, self.objective)
            else:
                loss, parts = sampled_loss(self.model, self.neighbors, *batch, self.objective)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            for key, value in {"loss": float(loss.detach()), **parts}.items():
                totals[key] = totals.get(key, 0.0) + value / len(batches)
        return totals if self.distributed is None else self.distributed.mean(totals)

    def fit(self, resume: Path | None = None) -> TrainResult:
        """Train until ``epochs`` or until ``patience`` epochs pass without a better validation metric."""
        if self.run_dir is not None:  # this process owns the run directory: half-writes of a killed run are dead
            for name in (BEST, LAST, "history.csv"):
                remove_stale_temporaries(self.run_dir, name)
        if resume is not None:
            self.load_checkpoint(resume)
        if not self.model.trainable:
            self.result.best_metrics = self.validate_everywhere()
            self.result.best_valid = self.result.best_metrics[self.config.metric]
            self.save_weights()
            return self.result
        epochs = range(self.start_epoch, self.config.epochs + 1)
        bar = tqdm(epochs, desc="train", unit="epoch", disable=not self.progress)
        for epoch in bar:
            started = time.perf_counter()
            row: dict[str, float] = {"epoch": epoch, **self.train_epoch()}
            self.result.train_seconds += time.perf_counter() - started
            self.result.epochs_run = epoch
            if epoch % self.config.eval_every == 0 or epoch == self.config.epochs:
                metrics = self.validate_everywhere()
                row.update({f"valid_{k}": v for k, v in metrics.items() if "@" in k})
                if metrics[self.config.metric] > self.result.best_valid:
                    self.result.best_valid, self.result.best_epoch = metrics[self.config.metric], epoch
                    self.result.best_metrics, self.result.seconds_to_best = metrics, self.result.train_seconds
                    self.save_weights()
                bar.set_postfix(loss=f"{row['loss']:.4f}", **{self.config.metric: f"{metrics[self.config.metric]:.4f}"})
            if self.scheduler is not None:  # the cosine schedule steps once per epoch
                self.scheduler.step()
                row["lr"] = self.optimizer.param_groups[0]["lr"]
            row["seconds"] = time.perf_counter() - started
            self.result.history.append(row)
            self.save_checkpoint(epoch)
            if epoch - self.result.best_epoch >= self.config.patience:
                log.info("early stop at epoch %d (best %d)", epoch, self.result.best_epoch)
                break
        self.restore_best()
        return self.result

    # ---- persistence -------------------------------------------------------------------------------------
    def save_weights(self) -> None:
        if self.run_dir is not None:
            with atomic_path(self.run_dir / BEST) as tmp:
                torch.save({"state_dict": self.model.state_dict(), "epoch": self.result.best_epoch}, tmp)
        else:
            self._best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore_best(self) -> None:
        """Load the weights of the best validation epoch into the model."""
        if self.run_dir is not None and (self.run_dir / BEST).exists():
            self.model.load_state_dict(torch.load(self.run_dir / BEST, map_location=self.device)["state_dict"])
        elif self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        self.model.eval()

    def save_checkpoint(self, epoch: int) -> None:
        """Everything needed to resume after ``epoch``; written atomically, then history and curves."""
        neighbor_rngs = None  # under data parallelism each process has its own neighbour stream
        if self.distributed is not None and self.neighbors is not None:
            neighbor_rngs = self.distributed.gather(self.neighbors.generator.get_state())
        if self.run_dir is None:
            return
        state = {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "sampler_rng": self.sampler.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "result": self.result.__dict__,
        }
        if self.neighbors is not None:
            state["neighbor_rng"] = self.neighbors.generator.get_state()
        if neighbor_rngs is not None:
            state["neighbor_rngs"] = neighbor_rngs
        with atomic_path(self.run_dir / LAST) as tmp:
            torch.save(state, tmp)
        write_history(self.run_dir / "history.csv", self.result.history)

    def load_checkpoint(self, path: Path) -> None:
        """Restore the state written by :meth:`save_checkpoint` and continue after its epoch.

        A damaged or foreign ``last.pt`` is a RunError naming it (never a half-restored trainer). Under data
        parallelism process 0 reads it and sends it to the others (the RNG states are the same in every
        process; each restores its own neighbour-sampling stream)."""
        state = self.read_checkpoint_everywhere(path)
        try:
            load_weights(self.model, checkpoint_entry(state, "model", dict, path), path)
            self.optimizer.load_state_dict(checkpoint_entry(state, "optimizer", dict, path))
            if self.scheduler is not None and state.get("scheduler") is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            self.sampler.rng.bit_generator.state = checkpoint_entry(state, "sampler_rng", dict, path)
            torch.set_rng_state(checkpoint_entry(state, "torch_rng", torch.Tensor, path))
            if self.neighbors is not None and state.get("neighbor_rng") is not None:
                self.restore_neighbor_rng(state, path)
            self.result = TrainResult(**checkpoint_entry(state, "result", dict, path))
            self.start_epoch = int(checkpoint_entry(state, "epoch", int, path)) + 1
        except (KeyError, ValueError, TypeError, RuntimeError) as error:
            raise RunError(f"{path}: cannot resume from this checkpoint ({first_sentence(error)})") from error

    def read_checkpoint_everywhere(self, path: Path) -> dict[str, Any]:
        """The checkpoint at ``path``; under data parallelism read by process 0 alone (onto the CPU) and sent to
        the others, with its error if it cannot be read, so that every process stops on it."""
        if self.distributed is None:
            return read_checkpoint(path, str(self.device))
        state, problem = None, None
        if self.distributed.rank == 0:
            try:
                state = read_checkpoint(path, "cpu")
            except RunError as error:
                problem = str(error)
        state, problem = self.distributed.broadcast((state, problem))
        if problem is not None:
            raise RunError(problem)
        return state

    def restore_neighbor_rng(self, state: dict[str, Any], path: Path) -> None:
        """This process's neighbour-sampling stream from ``state``: its own of ``neighbor_rngs`` (data parallel,
        as many processes as wrote it) or ``neighbor_rng`` (one process); other counts restart the streams."""
        world, rank = (1, 0) if self.distributed is None else (self.distributed.world, self.distributed.rank)
        streams = state.get("neighbor_rngs") or [checkpoint_entry(state, "neighbor_rng", torch.Tensor, path)]
        if len(streams) != world:
            log.warning("%s was written by %d processes, resumed by %d: the neighbour samplers restart from the seed",
                        path, len(streams), world)
            return
        self.neighbors.generator.set_state(streams[rank])


def write_history(path: Path, history: list[dict[str, Any]]) -> None:
    """history.csv: one row per epoch, columns = the union of keys (missing values left empty)."""
    columns = list(dict.fromkeys(key for row in history for key in row))
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)
