"""Neighbour sampling for mini-batch training (``train.sampling = "neighbor"``).

:class:`NeighborSampler` is a :class:`torch_geometric.sampler.BaseSampler`, so PyG's ``NodeLoader`` can drive
it, written in plain vectorised torch: PyG's own neighbour sampler needs the compiled ``pyg-lib`` or
``torch-sparse``. It samples toward the seeds, hop by hop, over the in-edges of a fixed edge list (a CSR of
each node's in-edges, built once); :func:`sampled_loss` is the training step that propagates over the sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch_geometric.sampler import BaseSampler, EdgeSamplerInput, NodeSamplerInput, SamplerOutput

from kgrec.config import TrainConfig
from kgrec.errors import ConfigError
from kgrec.models.base import BPR, WHOLE, Objective, RankingModel, Shard
from kgrec.models.kgrec import KGRec


class NeighborSampler(BaseSampler):
    """The L-hop in-neighbourhood of a set of seed nodes, with at most ``fanouts[h]`` in-edges per node at hop h.

    Hop 1 samples the in-edges of the seeds, hop h + 1 those of the nodes hop h reached first; a node whose
    in-degree is at most the hop's fan-out (or a fan-out of -1) keeps all its in-edges, any other keeps a
    uniform sample of ``fanout`` of them without replacement (Floyd's algorithm, vectorised over the hop's
    nodes: ``fanout`` steps per hop, none per node). ``seed`` seeds the sampler's own ``torch.Generator``,
    so the samples are reproducible and the global RNG is left alone.

    :meth:`sample_from_nodes` returns PyG's :class:`SamplerOutput`: ``node`` (global ids: the seeds in their
    order, then each hop's new nodes in increasing id), ``row`` → ``col`` (each sampled edge's source and
    target as positions in ``node``), ``edge`` (ids in the sampler's edge list), the counts of nodes and
    edges per hop, and ``metadata`` = (``index.input_id``, ``index.time``) as ``NodeLoader`` reads it.
    Propagating L layers over it computes a seed's L-layer representation from exactly the sampled edges;
    with every fan-out -1, from its whole L-hop in-neighbourhood, i.e. as on the full graph.
    """

    def __init__(self, edge_index: Tensor, num_nodes: int, fanouts: Sequence[int], seed: int = 0) -> None:
        source, target = edge_index.cpu()
        self.edge_of = torch.argsort(target, stable=True)  # CSR of in-edges: row i = the edges into node i
        self.source_of = source.index_select(0, self.edge_of)
        counts = torch.bincount(target, minlength=num_nodes)
        self.rowptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
        self.fanouts = [int(fanout) for fanout in fanouts]
        self.generator = torch.Generator().manual_seed(seed)

    def in_degree(self, nodes: Tensor) -> Tensor:
        """The number of in-edges of each node in ``nodes``."""
        return self.rowptr.index_select(0, nodes + 1) - self.rowptr.index_select(0, nodes)

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs) -> SamplerOutput:
        """The sampled neighbourhood of the seeds ``index.node`` (distinct node ids)."""
        seeds = index.node.cpu().long()
        if torch.unique(seeds).numel() != seeds.numel() or bool(((seeds < 0) | (seeds >= self.rowptr.numel() - 1)).any()):
            raise ValueError(f"NeighborSampler: the seeds must be distinct node ids in [0, {self.rowptr.numel() - 1})")
        hops, positions, targets = [seeds], [], []
        seen = torch.sort(seeds).values
        for fanout in self.fanouts:
            kept, target = self._sample_in_edges(hops[-1], fanout)
            positions.append(kept)
            targets.append(target)
            sources = torch.unique(self.source_of.index_select(0, kept))
            new = sources[~torch.isin(sources, seen, assume_unique=True)]
            seen = torch.sort(torch.cat([seen, new])).values
            hops.append(new)
        node, kept = torch.cat(hops), torch.cat([seeds[:0], *positions])
        local = _positions_in(node)
        return SamplerOutput(
            node=node, row=local(self.source_of.index_select(0, kept)), col=local(torch.cat([seeds[:0], *targets])),
            edge=self.edge_of.index_select(0, kept), num_sampled_nodes=[int(h.numel()) for h in hops],
            num_sampled_edges=[int(p.numel()) for p in positions], metadata=(index.input_id, index.time),
        )

    def sample_from_edges(self, index: EdgeSamplerInput, neg_sampling=None) -> SamplerOutput:
        """Not supported: a training step seeds its users and items as nodes (:func:`sampled_loss`)."""
        raise NotImplementedError("NeighborSampler samples from nodes only: seed a link's two ends with sample_from_nodes")

    def _sample_in_edges(self, nodes: Tensor, fanout: int) -> tuple[Tensor, Tensor]:
        """The CSR positions of the in-edges ``nodes`` keep, node after node, and the target of each."""
        degree = self.in_degree(nodes)
        kept = degree if fanout < 0 else degree.clamp_max(fanout)  # all of them, or `fanout` of more
        start = self.rowptr.index_select(0, nodes)
        # every node keeps the first `kept` of its offsets; a sampled node's are then replaced by its sample
        owner = torch.repeat_interleave(torch.arange(nodes.numel()), kept)
        first = torch.cumsum(kept, 0) - kept
        offset = torch.arange(owner.numel()) - first.index_select(0, owner)
        sampled = torch.nonzero(kept < degree).squeeze(1)
        if sampled.numel():
            chosen = _floyd_sample(degree.index_select(0, sampled), fanout, self.generator).sort(dim=1).values
            slots = first.index_select(0, sampled).unsqueeze(1) + torch.arange(fanout)
            offset[slots.reshape(-1)] = chosen.reshape(-1)
        return start.index_select(0, owner) + offset, nodes.index_select(0, owner)


def _floyd_sample(population: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """[M, k]: for each row, k distinct integers drawn uniformly from [0, population) (population > k), by
    Floyd's algorithm: for j = n − k … n − 1, draw t uniform in [0, j]; keep t unless already kept, else j."""
    chosen = population.new_empty(population.numel(), k)
    for step in range(k):
        j = population - k + step
        t = (torch.rand(population.numel(), generator=generator, dtype=torch.float64) * (j + 1)).long().minimum(j)
        taken = (chosen[:, :step] == t.unsqueeze(1)).any(dim=1)
        chosen[:, step] = torch.where(taken, j, t)
    return chosen


def _positions_in(nodes: Tensor) -> Callable[[Tensor], Tensor]:
    """A function mapping global node ids to their positions in ``nodes`` (distinct ids, every id present)."""
    ordered, order = torch.sort(nodes)
    return lambda ids: order.index_select(0, torch.searchsorted(ordered, ids))


def neighbor_sampler(model: RankingModel, config: TrainConfig, rank: int = 0) -> NeighborSampler:
    """The sampler of ``train.sampling = "neighbor"`` over ``model``'s propagation edges, one fan-out per
    layer from ``train.fanout``, seeded by ``train.seed`` (+ ``rank``: each data-parallel process samples
    its own stream); a model it does not apply to is a ConfigError."""
    if not isinstance(model, KGRec):
        raise ConfigError(f"train.sampling: neighbor applies to the kgrec model only, not to {type(model).__name__}; use train.sampling=full")
    if len(config.fanout) != len(model.convs):
        raise ConfigError(
            f"train.fanout: {list(config.fanout)} has {len(config.fanout)} value{'s' if len(config.fanout) > 1 else ''} "
            f"and the model has {len(model.convs)} layers: give one fan-out per layer"
        )
    return NeighborSampler(model.propagation_edges(), model.num_nodes, config.fanout, config.seed + rank)


def sampled_loss(model: KGRec, sampler: NeighborSampler, users: Tensor, positives: Tensor, negatives: Tensor,
                 objective: Objective = BPR, shard: Shard = WHOLE) -> tuple[Tensor, dict[str, float]]:
    """One training step's loss propagated over the sampled neighbourhood of the batch's users, positive
    and negative items (the seeds) only: :meth:`KGRec.sampled_loss`. With a ``shard`` (data parallelism),
    over the neighbourhood of this process's rows of the global batch."""
    seeds = model.batch_nodes(*shard.take(users, positives, negatives))
    sample = sampler.sample_from_nodes(NodeSamplerInput(input_id=None, node=seeds))
    return model.sampled_loss(users, positives, negatives, sample, objective, shard)
