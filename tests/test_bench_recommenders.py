"""pipelines/bench_recommenders.py takes its rows from the config's ``pipeline.compare``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_recommenders", ROOT / "pipelines" / "bench_recommenders.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rows_follow_the_configs_compare_list_ablations_first(tmp_path: Path) -> None:
    bench = _bench_module()
    rows = bench.bench_variants(ROOT / "pipelines" / "lastfm-benchmark.yaml")
    assert list(rows) == ["kgrec", "kgrec (no KG: pure CF)", "kgrec (uniform weights)", "kgrec (TransE instead of TransH)",
                          "kgrec (lambda_kg = 0)", "LightGCN", "BPR-MF", "Pop"]
    assert rows["kgrec"] == [] and rows["kgrec (uniform weights)"] == ["model.attention=false"]
    assert rows["LightGCN"] == ["model.model=lightgcn", "train.loss=bpr", "train.negatives=1",
                                "model.l2=0.001"]  # the config's pipeline.baseline_set last
    config = tmp_path / "small.yaml"
    config.write_text("data:\n  name: lastfm-kgcn\npipeline:\n  compare: [pop, transe, bprmf]\n", encoding="utf-8")
    assert list(bench.bench_variants(config)) == ["kgrec", "kgrec (TransE instead of TransH)", "Pop", "BPR-MF"]
