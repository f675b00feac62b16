"""The real ``kgrec`` command in a subprocess: outputs, files written, and one-line errors with exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BENCHMARK_SPLIT, SHARED_DATASETS, require_benchmark_split, require_shared


def kgrec(*args: str, cache: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KGREC_DATA_DIR": str(SHARED_DATASETS), "KGREC_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "kgrec", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def test_data_list_names_every_dataset_and_where_it_is(tmp_path) -> None:
    require_shared("lastfm-kgcn", "ml-100k", "ml1m-satori-kg", "moviekg-omdb")
    result = kgrec("data", "list", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("lastfm-kgcn", "ml100k", "moviekg-omdb"):
        assert name in result.stdout
    for folder in ("lastfm-kgcn", "ml-100k", "ml1m-satori-kg", "moviekg-omdb"):
        assert str(SHARED_DATASETS / folder) in result.stdout, folder
    assert "not found" not in result.stdout


def test_data_stats_lastfm(tmp_path) -> None:
    require_shared("lastfm-kgcn")
    result = kgrec("data", "stats", "lastfm-kgcn", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {line.split("  ")[0]: line.split()[-1] for line in result.stdout.splitlines() if line.strip()}
    assert lines["users"] == "1,872" and lines["items"] == "3,846" and lines["interactions"] == "21,173"
    assert lines["entities"] == "9,366" and lines["relations"] == "60" and lines["triples"] == "15,518"
    assert "film.actor.film" in result.stdout and "4,623" in result.stdout


def test_data_stats_ml100k_json(tmp_path) -> None:
    require_shared("ml-100k", "ml1m-satori-kg")
    import json

    result = kgrec("data", "stats", "ml100k", "--threshold", "0", "--json", cache=tmp_path)
    stats = json.loads(result.stdout)
    assert (stats["users"], stats["items"], stats["interactions"], stats["linked_items"]) == (943, 1682, 100000, 962)


def test_data_split_reproduces_benchmark_and_export_round_trips(tmp_path) -> None:
    require_shared("lastfm-kgcn")
    require_benchmark_split()
    out = tmp_path / "split"
    result = kgrec("data", "split", "lastfm-kgcn", "--out", str(out), "--seed", "2026", "--min-user-interactions", "5", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out)
    for name in ("train", "valid", "test"):
        assert sorted((out / f"{name}.tsv").read_text().splitlines()) == sorted(
            (BENCHMARK_SPLIT / f"{name}.tsv").read_text().splitlines()
        )
    atomic = tmp_path / "recbole"
    exported = kgrec("data", "export", "lastfm-kgcn", "--format", "recbole", "--out", str(atomic), cache=tmp_path)
    assert exported.returncode == 0, exported.stderr
    original = kgrec("data", "stats", "lastfm-kgcn", "--json", cache=tmp_path).stdout
    reimported = kgrec("data", "stats", str(atomic), "--input-format", "recbole", "--json", cache=tmp_path).stdout
    import json

    first, second = json.loads(original), json.loads(reimported)
    first.pop("name"), second.pop("name")
    assert first == second


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "stats", "no-such-dataset"], "unknown dataset 'no-such-dataset'"),
        (["data", "stats", "ml100k", "--threshold", "6"], "threshold 6 leaves no positive"),
        (["data", "split", "lastfm-kgcn", "--out", "x", "--scheme", "temporal"], "needs timestamps"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(tmp_path, args: list[str], message: str) -> None:
    require_shared("lastfm-kgcn", "ml-100k", "ml1m-satori-kg")
    result = kgrec(*args, cache=tmp_path, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_file_error_names_file_and_line(tmp_path) -> None:
    data = tmp_path / "mine"
    data.mkdir()
    (data / "interactions.tsv").write_text("user\titem\trating\nu1\ti1\t5\nu2\ti2\tabc\n")
    result = kgrec("data", "stats", str(data), "--input-format", "tsv", cache=tmp_path)
    assert result.returncode == 2
    assert f"{data / 'interactions.tsv'}:3:" in result.stderr and "abc" in result.stderr


def test_debug_flag_shows_the_traceback(tmp_path) -> None:
    result = kgrec("--debug", "data", "stats", "no-such-dataset", cache=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr
