"""The scripts in ``examples/`` run end to end (small settings) and print what their docstrings promise."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATASETS, require_shared
from tests.models.planted import write_planted_files

ROOT = Path(__file__).resolve().parents[1]
# tiny and single-threaded: another process may be using the CPU
SMALL = ["--epochs", "2", "--set", "model.dim=16", "--set", "train.num_threads=1"]


def run_example(script: str, *args: str, cache: Path) -> str:
    """Run ``examples/<script>`` from the repository root; return its stdout after checking exit code 0."""
    env = {**os.environ, "KGREC_CACHE_DIR": str(cache)}
    if SHARED_DATASETS.is_dir():
        env["KGREC_DATA_DIR"] = str(SHARED_DATASETS)
    command = [sys.executable, str(ROOT / "examples" / script), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_every_example_has_a_docstring_and_the_small_run_options() -> None:
    scripts = sorted((ROOT / "examples").glob("*.py"))
    expected = {"quickstart.py", "bring_your_own_data.py", "inspect_paths.py", "compare_with_baselines.py"}
    assert {p.name for p in scripts} >= expected
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        assert text.startswith('"""') and f"python examples/{script.name}" in text, script.name
        assert '"--epochs"' in text and '"--out"' in text, script.name


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> tuple[str, Path]:
    """The quickstart's output and run directory (shared with the ``inspect_paths.py --run`` test)."""
    require_shared("moviekg-omdb")
    tmp = tmp_path_factory.mktemp("quickstart")
    return run_example("quickstart.py", *SMALL, "--out", str(tmp / "run"), cache=tmp), tmp / "run"


def test_quickstart_prints_metrics_and_two_explained_top5_lists(quickstart: tuple[str, Path]) -> None:
    out, run = quickstart
    ndcg, recall = map(float, re.search(r"test NDCG@20 ([\d.]+)\s+Recall@20 ([\d.]+)", out).groups())
    assert 0 < ndcg <= 1 and 0 < recall <= 1
    ranked = re.findall(r"^  ([1-5])\. (.+)  \(score ", out, re.MULTILINE)
    assert [int(rank) for rank, _ in ranked] == [1, 2, 3, 4, 5] * 2
    sentences = [line.strip() for line in out.splitlines() if line.startswith("     ")]
    assert len(sentences) == 10 and all(s.startswith("Recommended *") for s in sentences)
    for (_, item), sentence in zip(ranked, sentences):
        assert sentence.startswith(f"Recommended *{item}*")  # the item's real title, not an id
    assert "user u_91 liked" in out and (run / "model.pt").exists()


def test_bring_your_own_data_explains_with_its_own_names(tmp_path: Path) -> None:
    out = run_example("bring_your_own_data.py", *SMALL, "--out", str(tmp_path), cache=tmp_path)
    data = tmp_path / "data"
    assert (data / "interactions.csv").read_text(encoding="utf-8").startswith("user,item,rating\n")
    titles = {row[1] for row in csv.reader((data / "item_names.tsv").open(encoding="utf-8"), delimiter="\t")}
    people = {row[1] for row in csv.reader((data / "entity_names.tsv").open(encoding="utf-8"), delimiter="\t")}
    assert {"Heat", "Inception"} <= titles and "Michael Mann" in people
    sentences = [line.strip() for line in out.splitlines() if line.strip().startswith("Recommended *")]
    assert len(sentences) == 3
    for sentence in sentences:
        told = re.findall(r"\*([^*]+)\*", sentence)
        assert told and set(told) <= titles, sentence  # every *item* is one of the folder's own titles
    assert re.search(r"^ana_1 liked: ", out, re.MULTILINE)
    assert "40 users, 30 items" in out and (tmp_path / "run" / "rules.json").exists()


def test_bring_your_own_data_takes_an_existing_folder(tmp_path: Path) -> None:
    data = write_planted_files(tmp_path / "mine")
    args = ["--data", str(data), "--user", "u3", "--out", str(tmp_path / "out")]
    out = run_example("bring_your_own_data.py", *SMALL, *args, cache=tmp_path)
    assert f"data folder: {data}" in out and "u3 liked:" in out
    assert not (tmp_path / "out" / "data").exists()  # nothing generated when --data is given
    assert len(re.findall(r"^  [1-3]\. item i\d+$", out, re.MULTILINE)) == 3


def test_inspect_paths_prints_paths_rules_and_the_chosen_explanation(tmp_path: Path) -> None:
    require_shared("moviekg-omdb")
    args = ["--max-len", "3", "--html", "--out", str(tmp_path / "run")]
    out = run_example("inspect_paths.py", *SMALL, *args, cache=tmp_path)
    assert re.search(r"^\d+ paths.* of length <= 3 from user u_91 to the top item ", out, re.MULTILINE)
    path_lines = re.findall(r"^\s+\d+\. length ([123])  weight [\d.e-]+  user u_91 —liked→ .+", out, re.MULTILINE)
    assert path_lines
    assert re.search(r"^\d+ rules mined from [\d,]+ co-liked item pairs", out, re.MULTILINE)
    assert "same genre" in out  # a named rule
    assert re.search(r"^  told path \(#\d+ by weight\): user u_91 —liked→ ", out, re.MULTILINE)
    assert re.search(r"^  rule: ", out, re.MULTILINE)
    assert re.search(r"^  sentence: Recommended \*.+\* because you liked \*", out, re.MULTILINE)
    assert (tmp_path / "run" / "explanation.html").exists()


def test_inspect_paths_loads_an_existing_run(quickstart: tuple[str, Path], tmp_path: Path) -> None:
    out = run_example("inspect_paths.py", "--run", str(quickstart[1]), "--user", "u_414", "--top", "3", cache=tmp_path)
    assert "from user u_414 to the top item" in out and "sentence: Recommended *" in out


def test_compare_with_baselines_prints_four_rows(tmp_path: Path) -> None:
    require_shared("moviekg-omdb")
    overrides = ["--set", "pipeline.explain_users=10", "--set", "pipeline.gallery_users=1"]
    out = run_example("compare_with_baselines.py", *SMALL, *overrides, "--out", str(tmp_path / "run"), cache=tmp_path)
    rows = re.findall(r"^(kgrec|LightGCN|BPR-MF|Pop)\s+([\d.]+)\s+([\d.]+)\s+(\d+)$", out, re.MULTILINE)
    assert [row[0] for row in rows] == ["kgrec", "LightGCN", "BPR-MF", "Pop"]
    assert all(0 <= float(ndcg) <= 1 and 0 <= float(recall) <= 1 for _, ndcg, recall, _ in rows)
    assert (tmp_path / "run" / "comparison.json").exists() and not (tmp_path / "run" / "report.html").exists()
    assert "kgrec's explanations: path coverage" in out
