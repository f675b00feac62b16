"""Benchmark: how training and evaluation grow with the data, on synthetic scale-ups of a real dataset.

Run: ``python pipelines/bench_scale.py [--dataset lastfm-kgcn] [--scales 1,10,100] [--modes full,neighbor]
[--batch scaled|fixed] [--epochs 2] [--max-steps 40] [--eval-users 2000] [--out bench_scale.json]``.

**The data.** :func:`scaled` makes a dataset ``s`` times the size of the real one: ``s`` copies of its users,
items, KG entities and triples (so the KG's density and every degree distribution are the original's), in
which each interaction of a copied user goes to the same item of its own copy with probability 0.8 and of a
random other copy otherwise (so the copies form one graph and an item's expected degree is the original
item's). Seeded: the same scale gives the same data. It is split 80/10/10 per user (``ratio``, seed 2026).

**The measure.** Each (scale, mode) runs in its own process with the dataset's pipeline config
(``pipelines/<dataset>.yaml``; threads ``train.num_threads``, 2 by default): ``data`` (build, split, graph),
``train`` (``--epochs`` epochs, or ``--max-steps`` batches when an epoch has more: seconds per epoch are then
extrapolated from the steps, marked ``~``; ``--batch scaled``, the default, multiplies ``train.batch_size`` by
the scale so that an epoch keeps its number of steps: a full-graph step costs time in proportion to the graph,
so with a ``fixed`` batch an epoch of s times the data costs s² times as much), ``evaluate`` (full ranking of ``--eval-users`` test users: seconds
and seconds per 1,000 users). Every phase's peak RSS is measured from a reset high-water mark (Linux). Modes:
``full`` (full-graph propagation, the default) and ``neighbor`` (``train.sampling=neighbor`` with
``--fanout``; skipped, and said so, where this kgrec has no such option). Prints a markdown table, the growth
ratios the targets are about (seconds per epoch ×10 / ×1 and ×100 / ×10 of the full graph ≤ 10 each; peak RSS
in neighbour mode ×100 / ×1 ≤ 2), and writes every row to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("scale", "mode", "batch_size", "users", "items", "interactions", "triples", "epoch_s", "train_mb", "eval_users",
           "eval_s", "eval_s_per_1k", "evaluate_mb", "data_mb", "peak_mb")
#: Probability that a copied user's interaction stays in its own copy of the item set.
SAME_COPY = 0.8


def _sibling(name: str) -> ModuleType:
    """A module of this folder by file (the scripts are run as ``python pipelines/X.py``, not as a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scaled(dataset: Any, scale: int, seed: int = 0) -> Any:
    """``dataset`` ``scale`` times over (see the module docstring); ``scale`` 1 returns it unchanged."""
    from kgrec.data.dataset import IdMap, Interactions

    if scale == 1:
        return dataset
    users, items, entities = dataset.n_users, dataset.n_items, dataset.n_entities
    inter, triples = dataset.interactions, dataset.triples
    copy = np.repeat(np.arange(scale), len(inter))  # copy of each new interaction's user
    moved = np.random.default_rng(seed).random(len(copy)) >= SAME_COPY
    shift = np.random.default_rng(seed + 1).integers(1, scale, size=len(copy))
    item_copy = np.where(moved, (copy + shift) % scale, copy)
    interactions = Interactions(np.tile(inter.user, scale) + copy * users, np.tile(inter.item, scale) + item_copy * items,
                                None if inter.rating is None else np.tile(inter.rating, scale))
    offsets = np.repeat(np.arange(scale) * entities, len(triples))
    kg = np.tile(triples, (scale, 1))
    kg[:, 0] += offsets
    kg[:, 2] += offsets
    linked = np.concatenate([np.where(dataset.item_entity >= 0, dataset.item_entity + c * entities, -1) for c in range(scale)])

    def copies(ids: IdMap) -> IdMap:
        raw = np.concatenate([ids.raw_ids] + [[f"{r}#{c}" for r in ids.raw_ids] for c in range(1, scale)])
        return IdMap(ids.kind, raw, np.tile(ids.names, scale))

    keep = np.unique(interactions.pair_keys(items * scale), return_index=True)[1]  # a moved pair may repeat one
    return dataclasses.replace(
        dataset, name=f"{dataset.name}-x{scale}", users=copies(dataset.users), items=copies(dataset.items),
        entities=copies(dataset.entities), interactions=interactions.take(np.sort(keep)), triples=kg,
        item_entity=linked, split_labels=None, info={**dataset.info, "synthetic_scale": scale},
    )


def measure(dataset_name: str, scale: int, mode: str, epochs: int, max_steps: int, eval_users: int,
            fanout: tuple[int, ...] | None, batch: str = "scaled") -> dict[str, object]:
    """All phases of one (scale, mode) in this process."""
    import torch

    from kgrec.config import SplitConfig, load_run_config
    from kgrec.data.load import load_dataset
    from kgrec.evaluation.ranking import evaluate_ranking
    from kgrec.models.baselines import build_model, item_popularity
    from kgrec.run.fit import prepare
    from kgrec.training.trainer import Trainer

    phase = _sibling("bench_memory").Phase
    config = load_run_config(REPO / "pipelines" / f"{dataset_name}.yaml")
    batch_size = config.train.batch_size * (scale if batch == "scaled" else 1)
    train = dataclasses.replace(config.train, epochs=epochs, patience=epochs, eval_every=epochs + 1, batch_size=batch_size)
    if mode == "neighbor":
        train = dataclasses.replace(train, sampling="neighbor", **({"fanout": fanout} if fanout else {}))
    config = dataclasses.replace(config, train=train, split=SplitConfig(scheme="ratio", ratios=(0.8, 0.1, 0.1), seed=2026))
    with phase() as data:
        dataset = scaled(load_dataset(config.data), scale)
        prepared = prepare(config, dataset=dataset)
    steps_per_epoch = math.ceil(len(prepared.split.train) / config.train.batch_size)
    capped = steps_per_epoch > max_steps
    with phase() as training:
        torch.manual_seed(config.train.seed)
        model = build_model(prepared.graph, config.model)
        trainer = Trainer(model, prepared.split, dataset.n_items, config.train, config.eval, None,
                          item_popularity(prepared.graph), progress=False)
        _steps(trainer, 1)  # warm-up: first-use allocations and structures
        started = time.perf_counter()
        if capped:
            seconds = _steps(trainer, max_steps) * steps_per_epoch / max_steps
        else:
            for _ in range(epochs):
                trainer.train_epoch()
            seconds = (time.perf_counter() - started) / epochs
    test = prepared.split.test
    picked = np.isin(test.user, np.unique(test.user)[:eval_users])
    with phase() as evaluation:
        model.eval()
        started = time.perf_counter()
        evaluate_ranking(model.score_users, test.take(picked), [prepared.split.train, prepared.split.valid],
                         dataset.n_items, config.eval.ks, config.eval.batch_size, None, config.train.device)
        eval_seconds = time.perf_counter() - started
    evaluated = len(np.unique(test.user[picked]))
    stats = dataset.stats()
    return {
        "dataset": dataset_name, "scale": scale, "mode": mode, "batch_size": batch_size, "users": stats.users, "items": stats.items,
        "interactions": stats.interactions, "triples": stats.triples, "threads": config.train.num_threads,
        "steps_per_epoch": steps_per_epoch, "epoch_s": round(seconds, 2), "epoch_extrapolated": capped,
        "train_mb": training.peak_mb, "eval_users": evaluated, "eval_s": round(eval_seconds, 2),
        "eval_s_per_1k": round(1000 * eval_seconds / max(evaluated, 1), 3), "evaluate_mb": evaluation.peak_mb,
        "data_mb": data.peak_mb, "peak_mb": round(max(data.peak_mb, training.peak_mb, evaluation.peak_mb), 1),
    }


def _steps(trainer: Any, steps: int) -> float:
    """Seconds of the first ``steps`` training batches of an epoch (their negatives drawn before the clock)."""
    config = trainer.config
    batches = trainer.sampler.epoch(trainer.split.train, config.batch_size, config.negatives)[:steps]
    started = time.perf_counter()
    trainer.train_batches(batches)
    return time.perf_counter() - started


def supports_sampling() -> bool:
    """Whether this kgrec's training has ``train.sampling`` (neighbour-sampled mini-batches)."""
    from kgrec.config import TrainConfig

    return "sampling" in {f.name for f in dataclasses.fields(TrainConfig)}


def growth(rows: list[dict[str, Any]]) -> list[str]:
    """The ratios the targets are about, from the rows measured."""
    by = {(r["mode"], r["scale"]): r for r in rows}
    lines = []
    for low, high in ((1, 10), (10, 100)):
        a, b = by.get(("full", low)), by.get(("full", high))
        if a and b:
            lines.append(f"full graph, seconds per epoch x{high} / x{low}: {b['epoch_s'] / a['epoch_s']:.2f} (target <= 10)")
    a, b = by.get(("neighbor", 1)), by.get(("neighbor", 100))
    if a and b:
        lines.append(f"neighbour sampling, peak RSS x100 / x1: {b['peak_mb'] / a['peak_mb']:.2f} (target <= 2)")
    return lines


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [("~" if c == "epoch_s" and row.get("epoch_extrapolated") else "") + str(row[c]) for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="lastfm-kgcn")
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--modes", default="full,neighbor")
    parser.add_argument("--batch", choices=["scaled", "fixed"], default="scaled", help="train.batch_size times the scale, or as configured")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (after one warm-up step)")
    parser.add_argument("--max-steps", type=int, default=40, help="batches timed when an epoch has more")
    parser.add_argument("--eval-users", type=int, default=2000)
    parser.add_argument("--fanout", help="neighbour mode's fan-out per layer, comma-separated (default: the config's)")
    parser.add_argument("--out", type=Path, default=Path("bench_scale.json"))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: SCALE:MODE, measured in this process
    args = parser.parse_args()
    fanout = tuple(int(f) for f in args.fanout.split(",")) if args.fanout else None
    if args.one:
        scale, mode = args.one.split(":")
        print(json.dumps(measure(args.dataset, int(scale), mode, args.epochs, args.max_steps, args.eval_users, fanout,
                                 args.batch)))
        return
    rows, skipped = [], []
    for mode in args.modes.split(","):
        if mode == "neighbor" and not supports_sampling():
            skipped.append("neighbor: this kgrec has no train.sampling option")
            continue
        for scale in map(int, args.scales.split(",")):
            command = [sys.executable, __file__, "--one", f"{scale}:{mode}", "--dataset", args.dataset,
                       "--epochs", str(args.epochs), "--max-steps", str(args.max_steps),
                       "--eval-users", str(args.eval_users), "--batch", args.batch,
                       *(["--fanout", args.fanout] if args.fanout else [])]
            completed = subprocess.run(command, stdout=subprocess.PIPE, text=True)
            if completed.returncode != 0:
                skipped.append(f"x{scale} {mode}: exited with {completed.returncode}")
                continue
            rows.append(json.loads(completed.stdout.strip().splitlines()[-1]))
            print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    print(markdown(rows))
    for line in growth(rows) + [f"skipped {s}" for s in skipped]:
        print(line)
    args.out.write_text(json.dumps({"rows": rows, "growth": growth(rows), "skipped": skipped}, indent=2) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
