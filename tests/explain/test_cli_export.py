"""``kgrec recommend RUN --all-users``: every user's document in one JSON-lines file, in parallel, resumable."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import pytest

from kgrec.atomic import json_safe
from kgrec.errors import ConfigError
from kgrec.explain.render import recommendations_document
from kgrec.recommender import Recommender
from kgrec.run import export
from kgrec.run.export import export_all, partial_paths
from tests.cli_runner import kgrec, train_run_dir
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def movie_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_shared("moviekg-omdb")
    return train_run_dir("moviekg-omdb", tmp_path_factory.mktemp("runs") / "movies")


@pytest.fixture(scope="module")
def rec(movie_run: Path) -> Recommender:
    return Recommender.load(movie_run)


@pytest.fixture(scope="module")
def exported(movie_run: Path) -> Path:
    """The CLI's export of every user's explained top-3, by two worker processes."""
    out = movie_run.parent / "recs.jsonl"
    result = kgrec("recommend", str(movie_run), "--all-users", "-k", "3", "--explain", "--workers", "2",
                   "--out", str(out), cwd=movie_run.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    return out


def test_every_user_gets_the_line_recommend_prints_for_them(exported: Path, rec: Recommender, movie_run: Path) -> None:
    lines = exported.read_text().splitlines()
    assert len(lines) == rec.dataset.n_users
    for user, line in enumerate(lines):
        expected = recommendations_document(user, rec.recommend(user, 3, explain=True), rec.graph, rec.phrases,
                                            {"run": str(movie_run)})
        assert json.loads(line) == json.loads(json.dumps(json_safe(expected))), f"user {user}"
    for raw in (rec.dataset.users.raw(0), rec.dataset.users.raw(rec.dataset.n_users - 1)):  # the command itself
        single = kgrec("recommend", str(movie_run), "--user", raw, "-k", "3", "--explain", "--format", "json",
                       cwd=movie_run.parent)
        assert json.loads(single.stdout) == json.loads(lines[rec.dataset.users.index(raw)])
    assert not any(p.exists() for p in partial_paths(exported))


def test_one_process_writes_the_same_bytes_as_two(exported: Path, rec: Recommender, movie_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "one.jsonl"
    summary = export_all(rec, out, 3, True, workers=1, meta_run=str(movie_run), progress=False)
    assert (summary.users, summary.resumed) == (rec.dataset.n_users, 0)
    assert out.read_bytes() == exported.read_bytes()


def test_an_interrupted_export_resumes_after_its_last_complete_line(exported: Path, rec: Recommender,
                                                                    movie_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed.jsonl"
    lines, described = partial_paths(out)
    complete = exported.read_bytes().split(b"\n")
    lines.write_bytes(b"\n".join(complete[:5]) + b"\n" + complete[5][:40])  # five lines, then a cut one
    described.write_text(json.dumps({"run": str(movie_run), "k": 3, "explain": True, "users": rec.dataset.n_users}))
    summary = export_all(rec, out, 3, True, workers=2, meta_run=str(movie_run), progress=False)
    assert summary.resumed == 5
    assert out.read_bytes() == exported.read_bytes()
    assert not lines.exists() and not described.exists()


def test_the_partial_file_of_another_job_is_refused(rec: Recommender, movie_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs.jsonl"
    lines, described = partial_paths(out)
    lines.write_bytes(b"")
    described.write_text(json.dumps({"run": str(movie_run), "k": 5, "explain": True, "users": rec.dataset.n_users}))
    with pytest.raises(ConfigError, match=r"recs\.jsonl\.partial: an interrupted export of another job \(run .*, k=5, "
                                          r"explain=True, \d+ users, not run .*, k=3, explain=True"):
        export_all(rec, out, 3, True, meta_run=str(movie_run), progress=False)
    assert lines.read_bytes() == b"" and not out.exists()


@pytest.mark.parametrize("options, says", [
    (["--all-users"], "kgrec: error: --all-users needs --out FILE (.jsonl, or .parquet with pyarrow)"),
    (["--all-users", "--out", "recs.csv"], "kgrec: error: --out recs.csv: expected a file name ending in .jsonl or .parquet"),
    (["--all-users", "--out", "r.jsonl", "--format", "html"],
     "kgrec: error: --all-users writes JSON lines or Parquet (by the --out suffix), not --format html"),
    (["--all-users", "--out", "r.jsonl", "--workers", "0"], "kgrec: error: --workers must be a positive integer, got 0"),
    (["--user", "u1", "--workers", "2"], "kgrec: error: --workers is an option of --all-users"),
])
def test_bad_export_options_get_one_line(movie_run: Path, options: list[str], says: str) -> None:
    result = kgrec("recommend", str(movie_run), *options, cwd=movie_run.parent)
    assert (result.returncode, result.stderr.strip()) == (2, says)
    assert not list(movie_run.parent.glob("r*.partial*"))


def test_user_and_all_users_exclude_each_other(movie_run: Path) -> None:
    result = kgrec("recommend", str(movie_run), "--user", "u1", "--all-users", "--out", "r.jsonl", cwd=movie_run.parent)
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


def test_parquet_without_pyarrow_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(export, "find_spec", lambda name: None if name == "pyarrow" else find_spec(name))
    with pytest.raises(ConfigError, match=r"^--out \S*r\.parquet: writing Parquet needs pyarrow \(pip install pyarrow\), "
                                          r"or use \.jsonl$"):
        export.check_output(tmp_path / "r.parquet")


def test_parquet_has_one_row_per_recommendation(exported: Path, rec: Recommender, movie_run: Path, tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "recs.parquet"
    export_all(rec, out, 3, True, meta_run=str(movie_run), progress=False)
    table = pd.read_parquet(out)
    documents = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len(table) == sum(len(d["recommendations"]) for d in documents)
    first = documents[0]["recommendations"][0]
    assert table.iloc[0][["user", "rank", "item", "sentence"]].tolist() == [
        documents[0]["user"]["raw"], 1, first["item_raw"], first["sentence"]]
