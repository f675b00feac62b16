"""pipelines/bench_export.py: one small run of the benchmark (no timing thresholds: speed is the benchmark's
to report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgrec.recommender import Recommender
from pipelines import bench_export
from tests.cli_runner import train_run_dir
from tests.conftest import require_shared


def test_the_benchmark_exports_every_user_once_per_worker_count(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    require_shared("moviekg-omdb")
    run = train_run_dir("moviekg-omdb", tmp_path / "movies")
    out = tmp_path / "bench.json"
    bench_export.main([str(run), "--workers", "1,2", "-k", "3", "--out", str(out)])
    rows = json.loads(out.read_text())
    users = Recommender.load(run).dataset.n_users
    assert [(r["dataset"], r["workers"], r["users"], r["same_bytes"]) for r in rows] == [
        ("moviekg-omdb", 1, users, True), ("moviekg-omdb", 2, users, True)]
    for row in rows:
        assert row["users_per_s"] == pytest.approx(users / row["seconds"], rel=0.01)
        assert row["mb"] > 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("| dataset | workers | users |") and len(printed) == 4
    assert not list(tmp_path.glob("**/recs-*.jsonl*"))  # the exports were temporary
