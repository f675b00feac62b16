"""``kgrec train`` / ``kgrec evaluate`` through the real CLI on a small planted dataset in TSV files (their errors:
tests/test_cli_errors.py)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import kgrec as run_kgrec
from tests.cli_runner import train_run_dir
from tests.models.planted import write_planted_files

kgrec = functools.partial(run_kgrec, timeout=300)


@pytest.fixture(scope="module")
def tsv_dataset(tmp_path_factory) -> Path:
    return write_planted_files(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def trained_run(tsv_dataset, tmp_path_factory) -> Path:
    return train_run_dir(tsv_dataset, tmp_path_factory.mktemp("runs") / "run", timeout=300)


def test_train_writes_a_complete_run_directory(trained_run: Path) -> None:
    for name in ("config.yaml", "model.pt", "last.pt", "metrics.json", "history.csv", "curves.png", "split/train.tsv"):
        assert (trained_run / name).exists(), name
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3 and 1 <= metrics["best_epoch"] <= 3
    assert 0.0 <= metrics["test"]["ndcg@5"] <= 1.0 and metrics["test"]["users"] > 0
    assert (trained_run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_reproduces_the_test_metrics(trained_run: Path) -> None:
    result = kgrec("evaluate", str(trained_run), cwd=trained_run.parent)
    assert result.returncode == 0, result.stderr
    printed = {line.split()[0]: float(line.split()[1]) for line in result.stdout.splitlines()[2:]}
    stored = json.loads((trained_run / "metrics.json").read_text())["test"]
    assert printed["ndcg@5"] == pytest.approx(stored["ndcg@5"], abs=1e-4)


def test_evaluate_ctr_protocol(trained_run: Path) -> None:
    result = kgrec("evaluate", str(trained_run), "--protocol", "ctr", cwd=trained_run.parent)
    assert result.returncode == 0, result.stderr
    printed = {line.split()[0]: float(line.split()[1]) for line in result.stdout.splitlines()[2:]}
    assert 0.5 < printed["auc"] <= 1.0 and 0.0 <= printed["f1"] <= 1.0


def test_recall_by_popularity_pipeline_agrees_with_the_evaluator(trained_run: Path, tmp_path: Path) -> None:
    """pipelines/recall_by_popularity.py: its hits add up to the evaluator's Precision@5 × 5 × users on test."""
    script = Path(__file__).resolve().parents[2] / "pipelines" / "recall_by_popularity.py"
    out = tmp_path / "breakdown.json"
    run = functools.partial(subprocess.run, capture_output=True, text=True, cwd=trained_run.parent, timeout=300)
    result = run([sys.executable, str(script), str(trained_run), "--part", "test", "--k", "5", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out)
    report = json.loads(out.read_text())
    stored = json.loads((trained_run / "metrics.json").read_text())["test"]
    buckets = report["buckets"]
    assert report["users"] == stored["users"]
    hits = sum(b["hit_rate"] * b["interactions"] for b in buckets if b["interactions"])
    assert hits == pytest.approx(stored["precision@5"] * 5 * stored["users"], abs=1e-6)
    assert sum(b["slot_share"] for b in buckets) == pytest.approx(1.0)
    assert [b["train_count"] for b in buckets][:2] == ["[0, 1)", "[1, 2)"]

    missing = run([sys.executable, str(script), str(tmp_path / "no-such-run")])
    assert missing.returncode == 2 and missing.stderr.strip().startswith("error: ") and "no such run" in missing.stderr
    bad_k = run([sys.executable, str(script), str(trained_run), "--k", "0", "--out", str(tmp_path / "never.json")])
    assert bad_k.returncode == 2 and bad_k.stderr.strip().startswith("error: --k 0: expected a list length")
    assert not (tmp_path / "never.json").exists()
