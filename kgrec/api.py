"""``kgrec.train``: one call from a dataset to a fitted, explainable :class:`~kgrec.Recommender`."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

from kgrec.config import RunConfig, load_run_config, with_overrides
from kgrec.data.dataset import RecDataset
from kgrec.data.registry import dataset_reference
from kgrec.data.split import Split
from kgrec.recommender import Recommender
from kgrec.run.fit import fit_run


def train(
    dataset: str | Path | RecDataset = "lastfm-kgcn",
    config: RunConfig | str | Path | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    split: Split | None = None,
    progress: bool = True,
) -> Recommender:
    """Train a model (kgrec by default) and return it fitted, with its run directory written to ``out``.

    ``dataset``: a registered name, a folder of your files, or a :class:`RecDataset`; ``config``: a
    RunConfig or a YAML path; ``overrides``: dotted ``section.key=value`` strings; ``split``: a ready
    :class:`Split` (default: the config's scheme and seed).

    >>> rec = kgrec.train("moviekg-omdb", overrides=["train.epochs=20"])
    >>> print(rec.recommend("u_91", k=3, explain=True)[0].text)
    """
    if config is None:
        config = RunConfig()
    elif not isinstance(config, RunConfig):
        config = load_run_config(config)
    name = dataset.name if isinstance(dataset, RecDataset) else dataset_reference(dataset)
    config = with_overrides(dataclasses.replace(config, data=dataclasses.replace(config.data, name=name)), list(overrides))
    run_dir = Path(out) if out is not None else Path("runs") / f"{Path(name).name}-{config.model.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    fitted = fit_run(config, run_dir, progress=progress, dataset=dataset if isinstance(dataset, RecDataset) else None, parts=split)
    prepared = fitted.prepared
    return Recommender(config, prepared.dataset, prepared.split, prepared.graph, fitted.model, run_dir)
