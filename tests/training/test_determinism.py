"""``train.deterministic`` (default on): PyTorch's deterministic kernels, so that reruns are bit-identical.

At 2 CPU threads the gradient of an indexing ``w[idx]`` with repeated indices, which every batch lookup of
the ranking loss makes, is accumulated with atomic adds unless deterministic algorithms are on; on
lastfm-kgcn that made two runs of one config diverge from the first epoch (docs/RELIABILITY.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from kgrec.config import EvalConfig, ModelConfig, TrainConfig
from kgrec.models.baselines import build_model
from kgrec.training.trainer import Trainer, use_deterministic_algorithms
from tests.models.planted import planted_split_graph


@pytest.fixture(autouse=True)
def restore_torch_state() -> Iterator[None]:
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def lookup_gradient() -> torch.Tensor:
    """d/dw of Σ w[idx] · src with 200,000 lookups into 15,000 rows (many repeats per row)."""
    generator = torch.Generator().manual_seed(0)
    index = torch.randint(15_000, (200_000,), generator=generator)
    source = torch.randn(200_000, 64, generator=generator)
    weight = torch.zeros(15_000, 64, requires_grad=True)
    (weight[index] * source).sum().backward()
    return weight.grad


def test_deterministic_is_the_default() -> None:
    """A Trainer given no ``train.deterministic`` switches PyTorch's deterministic kernels on."""
    dataset, parts, graph = planted_split_graph()
    model = build_model(graph, ModelConfig(model="kgrec", dim=8, layers=1))
    use_deterministic_algorithms(False)
    Trainer(model, parts, dataset.n_items, TrainConfig(epochs=1, num_threads=1), EvalConfig(), progress=False)
    assert torch.are_deterministic_algorithms_enabled() is True


@pytest.mark.parametrize("enabled", [True, False])
def test_trainer_sets_the_configured_mode(enabled: bool) -> None:
    dataset, parts, graph = planted_split_graph()
    model = build_model(graph, ModelConfig(model="kgrec", dim=8, layers=1))
    use_deterministic_algorithms(not enabled)
    Trainer(model, parts, dataset.n_items, TrainConfig(epochs=1, deterministic=enabled, num_threads=1), EvalConfig(),
            progress=False)
    assert torch.are_deterministic_algorithms_enabled() is enabled


def test_lookup_gradients_are_bit_identical_at_two_threads_when_deterministic() -> None:
    torch.set_num_threads(2)
    use_deterministic_algorithms(True)
    first = lookup_gradient()
    assert all(torch.equal(first, lookup_gradient()) for _ in range(10))
    # and equal to the sequential sum of one thread
    torch.set_num_threads(1)
    assert torch.equal(first, lookup_gradient())
