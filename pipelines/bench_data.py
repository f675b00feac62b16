"""Benchmark of the data layer: load, split and build the collaborative KG per dataset.

Run: ``python pipelines/bench_data.py [--out bench_data.json] [--repeat 3]``. Prints a markdown table and
writes JSON. Targets (2 CPU cores): lastfm-kgcn < 5 s, ml100k < 10 s for load + split + CKG.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

TARGETS = {"lastfm-kgcn": 5.0, "ml100k": 10.0, "moviekg-omdb": 5.0}


def measure(name: str) -> dict[str, float]:
    """Seconds for each stage of one cold-cache-free run (imports excluded)."""
    from kgrec.config import SplitConfig
    from kgrec.data.graph import CollaborativeKG
    from kgrec.data.load import load_dataset
    from kgrec.data.split import split

    start = time.perf_counter()
    dataset = load_dataset(name, download=False)
    loaded = time.perf_counter()
    parts = split(dataset, SplitConfig())
    split_done = time.perf_counter()
    graph = CollaborativeKG.build(dataset, parts.train)
    built = time.perf_counter()
    return {
        "load_s": loaded - start,
        "split_s": split_done - loaded,
        "ckg_s": built - split_done,
        "total_s": built - start,
        "edges": int(graph.data.edge_index.size(1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench_data.json"))
    parser.add_argument("--repeat", type=int, default=3, help="runs per dataset; the fastest is reported")
    args = parser.parse_args()
    start = time.perf_counter()
    import kgrec.data.graph  # noqa: F401  (torch + PyG import, reported separately)

    import_s = time.perf_counter() - start
    results = {}
    for name in TARGETS:
        runs = [measure(name) for _ in range(args.repeat)]
        results[name] = min(runs, key=lambda run: run["total_s"])
    print(f"imports (torch, torch_geometric, pandas): {import_s:.2f} s\n")
    print("| dataset | load s | split s | CKG s | total s | target s | CKG edges |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        print(
            f"| {name} | {r['load_s']:.2f} | {r['split_s']:.2f} | {r['ckg_s']:.2f} | {r['total_s']:.2f} "
            f"| {TARGETS[name]:.0f} | {r['edges']:,} |"
        )
    from kgrec.atomic import atomic_write_text

    atomic_write_text(args.out, json.dumps({"import_s": import_s, "datasets": results}, indent=2) + "\n")
    print(f"\n{args.out}")


if __name__ == "__main__":
    main()
