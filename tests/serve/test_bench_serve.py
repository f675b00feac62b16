"""pipelines/bench_serve.py on the tests' tiny run: the real ``kgrec serve`` started, measured and always stopped
(no timing thresholds: speed is the benchmark's to report)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipelines import bench_serve
from tests.serve.conftest import Server


def test_bench_measures_every_level_without_errors(run: Path) -> None:
    result = bench_serve.bench(run, workers=1, requests=6, concurrency=[1, 3])
    assert (result["dataset"], result["model"], result["workers"], result["k"]) == ("moviekg-omdb", "kgrec", 1, 10)
    assert result["users"] == len(bench_serve.run_users(run)) > 0
    assert 0 < result["health_s"] <= result["first_answer_s"]
    assert result["all_workers_s"] > 0
    levels = result["levels"]
    assert [level["concurrency"] for level in levels] == [1, 3]
    for level in levels:
        assert (level["requests"], level["errors"], level["first_errors"]) == (6, 0, [])
        assert 0 < level["p50_ms"] <= level["p99_ms"] <= level["max_ms"]
        assert level["throughput_rps"] > 0 and level["client_cpu_ms_per_request"] > 0
    table = bench_serve.markdown([result]).splitlines()
    assert [row.split(" | ")[1:4] + row.split(" | ")[7:8] for row in table[2:4]] == [["computed", "1", "6", "0"], ["computed", "3", "6", "0"]]


def test_bench_with_stored_answers_says_so(run: Path, exported: Path) -> None:
    result = bench_serve.bench(run, workers=1, requests=4, concurrency=[2], k=5, answers=exported)
    assert (result["answers"], result["k"]) == (str(exported), 5)
    assert [(level["requests"], level["errors"]) for level in result["levels"]] == [(4, 0)]
    assert bench_serve.markdown([result]).splitlines()[2].split(" | ")[1:3] == ["stored", "2"]


def test_profile_times_every_stage_of_the_same_requests(run: Path) -> None:
    stages = bench_serve.profile(run, bench_serve.run_users(run), requests=4)
    assert stages["app_errors"] == 0 and stages["import_s"] >= 0 and stages["load_s"] > 0
    for name in ("recommend", "document", "json_body", "app"):
        assert 0 < stages[name]["p50_ms"] <= stages[name]["p99_ms"] <= stages[name]["max_ms"]


def test_refused_requests_count_as_errors(server: Server) -> None:
    level = bench_serve.measure_level(server.url, ["no such user"], concurrency=2, requests=4)
    assert (level["requests"], level["errors"]) == (4, 4)
    assert level["first_errors"][0].startswith("/users/no%20such%20user/recommendations?k=10&explain=true: 404 ")


def test_the_server_and_its_workers_stop_on_ctrl_c(run: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), bench_serve.serving(run, 2, tmp_path / "serve.log") as server:
        bench_serve.all_workers_ready(server, 2, timeout=120)
        raise KeyboardInterrupt
    assert server.process.returncode is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the workers may take a moment to be reaped
        try:
            os.killpg(server.process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail("a process of the server's group is still running")
