"""Benchmark: peak memory of training, full-ranking evaluation and explanation, at 1x and 10x the users.

Run: ``python pipelines/bench_memory.py [--datasets lastfm-kgcn,ml100k] [--scales 1,10] [--epochs 10]
[--out bench_memory.json]``. Each (dataset, scale) runs in its own process with the dataset's pipeline config
(``pipelines/<dataset>.yaml``); the 10x dataset is synthetic: every user is replicated ten times with the same
interactions (``u``, ``u#1`` ... ``u#9``), items and KG unchanged. Inside the process every phase starts from a
reset high-water mark (Linux ``/proc/self/clear_refs``), so each phase's peak RSS is its own:

* ``data``: load, replicate, split, build the training graph;
* ``train``: ``--epochs`` epochs of the joint model (memory does not depend on the number of epochs);
* ``evaluate``: full ranking of every test user over every item, in ``eval.batch_size`` batches;
* ``explain``: explained top-10 of every user with training history (``Recommender.recommend_all``).

Targets: whole-process peak <= 1.5 GB on lastfm-kgcn and ml100k; at 10x the users the evaluation and
explanation phases grow by far less than 10x (their batches do not grow with the number of users).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MB = 1024.0
COLUMNS = ("dataset", "scale", "users", "interactions", "data_mb", "train_mb", "evaluate_mb", "explain_mb",
           "evaluate_growth_mb", "explain_growth_mb", "peak_mb", "seconds")


def memory_kb(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


class Phase:
    """A block whose peak RSS is measured from a reset high-water mark: ``peak_mb`` and ``growth_mb``."""

    def __enter__(self) -> Phase:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        self.start_kb = memory_kb("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        peak = memory_kb("VmHWM")
        self.peak_mb, self.growth_mb = round(peak / MB, 1), round((peak - self.start_kb) / MB, 1)


def replicate_users(dataset, times: int):
    """``dataset`` with every user repeated ``times`` times (raw ids ``u``, ``u#1``, ...), same items and KG."""
    from kgrec.data.dataset import IdMap, Interactions

    if times == 1:
        return dataset
    n, inter = dataset.n_users, dataset.interactions
    raw = np.concatenate([dataset.users.raw_ids] + [[f"{r}#{k}" for r in dataset.users.raw_ids] for k in range(1, times)])
    tile = lambda a: None if a is None else np.tile(a, times)  # noqa: E731
    users = np.concatenate([inter.user + k * n for k in range(times)])
    interactions = Interactions(users, tile(inter.item), tile(inter.rating), tile(inter.timestamp))
    return dataclasses.replace(
        dataset, users=IdMap("user", raw, np.tile(dataset.users.names, times)), interactions=interactions,
        split_labels=tile(dataset.split_labels),
    )


def measure(dataset_name: str, scale: int, epochs: int) -> dict[str, object]:
    """All phases of one (dataset, scale) in this process."""
    import torch
    from tqdm import tqdm

    from kgrec.config import load_run_config
    from kgrec.data.load import load_dataset
    from kgrec.models.baselines import build_model, item_popularity
    from kgrec.recommender import Recommender
    from kgrec.run.fit import prepare, test_ranking
    from kgrec.training.trainer import Trainer

    started = time.perf_counter()
    config = load_run_config(REPO / "pipelines" / f"{dataset_name}.yaml")
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=epochs, patience=epochs))
    with Phase() as data:
        dataset = replicate_users(load_dataset(config.data), scale)
        prepared = prepare(config, dataset=dataset)
    with Phase() as train:
        torch.manual_seed(config.train.seed)
        model = build_model(prepared.graph, config.model)
        Trainer(model, prepared.split, dataset.n_items, config.train, config.eval, None,
                item_popularity(prepared.graph)).fit()
    with Phase() as evaluate:
        test_ranking(model, prepared, config)
    rec = Recommender(config, dataset, prepared.split, prepared.graph, model)
    _ = rec.explainer  # rules mined and path index built before the phase: their size does not depend on users
    with Phase() as explain:
        users = rec.users_with_history()
        for _user, _explanations in tqdm(rec.recommend_all(10, explain=True, users=users), total=len(users),
                                         desc=f"explain ({dataset_name} x{scale})", unit="user"):
            pass
    return {
        "dataset": dataset_name, "scale": scale, "users": dataset.n_users, "interactions": len(dataset.interactions),
        "data_mb": data.peak_mb, "train_mb": train.peak_mb, "evaluate_mb": evaluate.peak_mb,
        "explain_mb": explain.peak_mb, "evaluate_growth_mb": evaluate.growth_mb, "explain_growth_mb": explain.growth_mb,
        "peak_mb": round(max(data.peak_mb, train.peak_mb, evaluate.peak_mb, explain.peak_mb), 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown(rows: list[dict[str, object]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def ratios(rows: list[dict[str, object]]) -> list[str]:
    """One line per dataset: how much each phase's peak grew from the smallest to the largest scale."""
    lines = []
    for name in dict.fromkeys(row["dataset"] for row in rows):
        mine = sorted((r for r in rows if r["dataset"] == name), key=lambda r: r["scale"])
        if len(mine) > 1:
            low, high = mine[0], mine[-1]
            grow = {c: round(float(high[c]) / float(low[c]), 2) for c in ("peak_mb", "evaluate_mb", "explain_mb")}
            lines.append(f"{name}: x{high['scale']} users vs x{low['scale']}: peak x{grow['peak_mb']}, "
                         f"evaluation x{grow['evaluate_mb']}, explanation x{grow['explain_mb']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="lastfm-kgcn,ml100k")
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench_memory.json"))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: DATASET:SCALE, measured in this process
    args = parser.parse_args()
    if args.one:
        name, scale = args.one.rsplit(":", 1)
        print(json.dumps(measure(name, int(scale), args.epochs)))
        return
    rows = []
    for name in args.datasets.split(","):
        for scale in map(int, args.scales.split(",")):
            command = [sys.executable, __file__, "--one", f"{name}:{scale}", "--epochs", str(args.epochs)]
            completed = subprocess.run(command, stdout=subprocess.PIPE, text=True)
            if completed.returncode != 0:
                raise SystemExit(f"{name} x{scale}: measurement failed (exit {completed.returncode})")
            rows.append(json.loads(completed.stdout.strip().splitlines()[-1]))
            print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    from kgrec.atomic import atomic_write_json

    atomic_write_json(args.out, {"rows": rows, "growth": ratios(rows)})
    print(markdown(rows))
    print("\n".join(ratios(rows)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
