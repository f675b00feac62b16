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
from kgrec.data.registry import list_specs

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATASETS = SHARED / "datasets"
BENCHMARK_SPLIT = SHARED / "benchmarks" / "lastfm-kgcn-split-2026"
KGE_BENCHMARKS = SHARED / "kge-benchmarks"


def require_shared(*folders: str) -> None:
    """Fail the calling test, saying where to get it, when a mirrored dataset folder is absent.

    Tests of the real datasets read ``<checkout>/../shared/datasets``; without it they must not pass or skip
    unnoticed (CI and every development machine have it), so a missing folder fails the test.
    """
    for folder in folders:
        path = SHARED_DATASETS / folder
        if path.is_dir():
            continue
        sources = [(spec.name, source) for spec in list_specs() for source in spec.sources if source.folder == folder]
        homes = sorted({file.url.rsplit("/", 1)[0] + "/" for _, source in sources for file in source.files})
        fetch = (
            f"`kgrec data stats {sources[0][0]}` downloads it into $KGREC_CACHE_DIR/{folder} (default "
            f"<checkout>/data/{folder}): copy that folder to {path}, or "
            if sources
            else ""
        )
        pytest.fail(
            f"mirrored dataset folder {folder!r} not found: searched {path}. To get it: {fetch}download the files "
            f"from the canonical URLs in {SHARED_DATASETS / 'README.md'} and the dataset's README"
            + (f" ({', '.join(homes)})" if homes else ""),
            pytrace=False,
        )


def require_shared_path(path: Path, how: str) -> None:
    """Fail the calling test when a mirrored benchmark folder under shared/ is absent; ``how``: where to get it."""
    if not path.is_dir():
        pytest.fail(f"mirrored benchmark folder {path.name!r} not found: searched {path}. {how}", pytrace=False)


def require_benchmark_split() -> None:
    """Fail the calling test when the published lastfm-kgcn split (``BENCHMARK_SPLIT``) is absent."""
    require_shared_path(
        BENCHMARK_SPLIT,
        f"Copy shared/benchmarks/{BENCHMARK_SPLIT.name} (train/valid/test.tsv) from the machine that mirrors the "
        "data; it is the published per-user 70/10/20 split of lastfm-kgcn with seed 2026 described in its README "
        "(a copy remade with `kgrec data split` cannot test that command against it)",
    )


def require_kge_benchmark(name: str) -> Path:
    """``shared/kge-benchmarks/<name>`` (train/valid/test.txt); fails the calling test when it is absent."""
    require_shared_path(
        KGE_BENCHMARKS / name,
        f"The triples ship unchanged in the PyKEEN 1.11.1 package (`pip download pykeen==1.11.1 --no-deps`, "
        f"files pykeen/datasets/{name}/{{train,valid,test}}.txt): put them in {KGE_BENCHMARKS / name}",
    )
    return KGE_BENCHMARKS / name


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
