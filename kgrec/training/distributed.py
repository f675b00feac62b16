"""Data-parallel training on ``torch.distributed``: the processes, their group, and the step DDP wraps.

Every process holds the whole model and graph, draws the same global batches (one seed) and computes its
:class:`~kgrec.models.base.Shard` of each: its rows of the ranking batch and of the TransH triple batch,
each loss weighted so that DistributedDataParallel's mean of the gradients is the one-process gradient of
the global batch. Process 0 validates and tells the others the result; only it writes the run directory.

Processes come from :func:`launch` (``kgrec train --nproc N``: N local processes, loopback rendezvous on a
free port) or from ``torchrun`` (:func:`from_environment` reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``). The group uses gloo on the CPU and NCCL on CUDA devices.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from kgrec.errors import ConfigError, KgrecError, RunError
from kgrec.models.base import Objective, RankingModel, Shard
from kgrec.net import free_port
from kgrec.training.neighbors import NeighborSampler, sampled_loss

log = logging.getLogger(__name__)

#: The exit code of a process that stopped on a kgrec error (the ``kgrec`` command's, for a refused command).
EXIT_ERROR = 2


def backend_for(device: str) -> str:
    """The process group's backend for ``train.device``: gloo on the CPU, NCCL on CUDA; others refused."""
    if device == "cpu":
        return "gloo"
    if device.startswith("cuda"):
        return "nccl"
    raise ConfigError(f"train.device: data-parallel training runs on cpu (gloo) or cuda (NCCL), not on {device}")


@dataclass(frozen=True)
class Distributed:
    """This process's place in the group: ``rank`` of ``world`` processes, ``local_rank`` on its machine."""

    rank: int
    world: int
    local_rank: int
    backend: str = "gloo"

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.world)

    @property
    def writes(self) -> bool:
        """Whether this process writes the run directory: process 0 only."""
        return self.rank == 0

    def device(self, configured: str) -> str:
        """This process's device for the configured ``train.device``: a bare ``cuda`` becomes its local GPU."""
        return f"cuda:{self.local_rank}" if configured == "cuda" else configured

    def _tensor_device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")

    def broadcast(self, value: Any) -> Any:
        """Process 0's ``value`` (any picklable object), on every process."""
        holder = [value if self.rank == 0 else None]
        dist.broadcast_object_list(holder, src=0, device=self._tensor_device() if self.backend == "nccl" else None)
        return holder[0]

    def gather(self, value: Any) -> list[Any]:
        """Every process's ``value``, in rank order, on every process."""
        values: list[Any] = [None] * self.world
        dist.all_gather_object(values, value)
        return values

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """The mean over the processes of each value (every process has the same keys in the same order)."""
        tensor = torch.tensor(list(values.values()), dtype=torch.float64, device=self._tensor_device())
        dist.all_reduce(tensor)
        return {key: float(total) / self.world for key, total in zip(values, tensor.tolist())}


def environment_world_size() -> int:
    """``WORLD_SIZE`` of this process's environment: > 1 when torchrun (or :func:`launch`) started it."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ConfigError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} in the environment is not a number") from None


def from_environment(device: str) -> Distributed | None:
    """Join the process group torchrun describes in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``) and return this process's place in it; None when ``WORLD_SIZE`` is
    absent or 1 (one process: no group)."""
    world = environment_world_size()
    if world <= 1:
        return None
    missing = [name for name in ("RANK", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise ConfigError(f"WORLD_SIZE={world} in the environment but no {', '.join(missing)}: start kgrec with torchrun")
    return join(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", os.environ["RANK"])), device)


def join(rank: int, world: int, local_rank: int, device: str) -> Distributed:
    """Join (or create) the default process group as ``rank`` of ``world``, at ``MASTER_ADDR:MASTER_PORT``."""
    backend = backend_for(device)
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world)
    return Distributed(rank, world, local_rank, backend)


def leave() -> None:
    """Leave the process group (if this process is in one)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def launch(nproc: int, fn: Callable[..., Any], args: tuple[Any, ...] = (), device: str = "cpu") -> None:
    """Run ``fn(distributed, *args)`` in ``nproc`` new local processes forming one group (rendezvous on the
    loopback interface, a free port); return when all have finished.

    ``fn`` and ``args`` must be picklable (the processes are spawned). A process that stops on a kgrec
    error prints it as one line and exits with code 2; then the others are stopped and a RunError says
    which process failed. Any other exception carries its process's traceback."""
    if nproc < 1:
        raise ConfigError(f"--nproc must be a positive integer, got {nproc}")
    backend_for(device)  # refused before any process starts
    port = free_port()
    level = logging.getLogger().getEffectiveLevel()
    try:
        mp.start_processes(_entry, args=(nproc, port, device, level, fn, args), nprocs=nproc, start_method="spawn")
    except mp.ProcessExitedException as error:
        raise RunError(
            f"data-parallel training stopped: process {error.error_index} of {nproc} exited with code {error.exit_code}"
            + (" (its error above)" if error.exit_code == EXIT_ERROR else "")
        ) from None


def _entry(local_rank: int, nproc: int, port: int, device: str, level: int, fn: Callable[..., Any],
           args: tuple[Any, ...]) -> None:
    """One process of :func:`launch`: join the group as ``local_rank``, run ``fn``, leave."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(local_rank), LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(nproc), LOCAL_WORLD_SIZE=str(nproc),
    )
    try:
        fn(join(local_rank, nproc, local_rank, device), *args)
    except (KgrecError, OSError) as error:
        print(f"kgrec: error: process {local_rank}: {' '.join(str(error).split())}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:  # Ctrl-C reaches every process of the terminal: the command says it once
        sys.exit(130)
    finally:
        leave()


class LossStep(nn.Module):
    """A training step's loss as a module's ``forward``, so that DistributedDataParallel can wrap it: the
    model's :meth:`~kgrec.models.base.RankingModel.loss` (or the neighbour-sampled loss) of this process's
    shard of the global batch. Its parameters are the model's."""

    def __init__(self, model: RankingModel, objective: Objective, shard: Shard, neighbors: NeighborSampler | None) -> None:
        super().__init__()
        self.model, self.objective, self.shard, self.neighbors = model, objective, shard, neighbors

    def forward(self, users: Tensor, positives: Tensor, negatives: Tensor) -> tuple[Tensor, dict[str, float]]:
        if self.neighbors is None:
            return self.model.loss(users, positives, negatives, self.objective, self.shard)
        return sampled_loss(self.model, self.neighbors, users, positives, negatives, self.objective, self.shard)


def data_parallel(model: RankingModel, objective: Objective, neighbors: NeighborSampler | None,
                  distributed: Distributed) -> DistributedDataParallel:
    """The model's training step under DistributedDataParallel (gradients averaged over the processes).

    The model's buffers (the graph) are the same everywhere and are not broadcast at every step. DDP looks
    for parameters without a gradient at every step only if the model has some (:func:`unused_parameters`)."""
    unused = unused_parameters(model, objective)
    if unused:
        log.info("parameters a training step leaves without gradient: %s", ", ".join(unused))
    device_ids = [distributed.local_rank] if distributed.backend == "nccl" else None
    return DistributedDataParallel(
        LossStep(model, objective, distributed.shard, neighbors), device_ids=device_ids,
        find_unused_parameters=bool(unused), forward_sync_buffers=False,
    )


def unused_parameters(model: RankingModel, objective: Objective) -> list[str]:
    """The names of the parameters a training step leaves without a gradient (TransE's hyperplane normals, the
    relation tables with λ_kg = 0, ...), found by one probe step on a one-row batch; the random state and the
    gradients are as before. (A process whose share of a batch is empty still reaches every other parameter:
    its zero loss is built from the same tables.)"""
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        model.train()
        one = torch.zeros(1, dtype=torch.long, device=device)
        loss, _ = model.loss(one, one, one, objective)
        loss.backward()
    unused = [name for name, parameter in model.named_parameters() if parameter.grad is None]
    model.zero_grad(set_to_none=True)
    return unused
