"""Shared fixtures: tiny hand-made datasets, the location of the mirrored public datasets, Hypothesis profiles.

The property-based tests draw the same inputs on every run (profile ``ci``, the default): a run of the suite
can only fail where the code changed. ``--hypothesis-profile=hunt`` draws fresh random inputs instead, to look
for new failures (see the README's development section); a failure it finds becomes an ``@example``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("hunt", derandomize=False, print_blob=True)
settings.load_profile("ci")  # pytest's --hypothesis-profile, read after this file, takes precedence

from kgrec.data.dataset import RecDataset

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATASETS = SHARED / "datasets"
BENCHMARK_SPLIT = SHARED / "benchmarks" / "lastfm-kgcn-split-2026"


def require_shared(*folders: str) -> None:
    """Skip the calling test when a mirrored dataset folder is absent (e.g. a checkout without shared/)."""
    for folder in folders:
        if not (SHARED_DATASETS / folder).is_dir():
            pytest.skip(f"mirrored dataset {folder} not found at {SHARED_DATASETS}")


@pytest.fixture
def five_node_dataset() -> RecDataset:
    """Two users, two items linked to entities e1/e2, one other entity e3 that directs both items.

        u1 -> i1    u2 -> i2    (train)        u1 -> i2 (a held-out interaction)
        i1 = e1 --directed_by--> e3 <--directed_by-- e2 = i2
    """
    interactions = pd.DataFrame({"user": ["u1", "u2", "u1"], "item": ["i1", "i2", "i2"]})
    triples = pd.DataFrame({"head": ["e1", "e2"], "relation": ["directed_by", "directed_by"], "tail": ["e3", "e3"]})
    links = pd.DataFrame({"item": ["i1", "i2"], "entity": ["e1", "e2"]})
    return RecDataset.from_frames(
        "five", interactions, triples, links, item_names={"i1": "Heat", "i2": "Collateral"}, entity_names={"e3": "Michael Mann"}
    )
