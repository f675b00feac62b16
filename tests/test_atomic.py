"""Atomic writes: complete or absent, with the permissions a plain write would give, JSON without NaN."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kgrec.atomic import atomic_directory, atomic_write_json, atomic_write_text, remove_stale_temporaries


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        from kgrec.atomic import atomic_open

        with atomic_open(target) as handle:
            handle.write("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_files_and_directories_get_umask_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        with atomic_directory(tmp_path / "d") as staging:
            (staging / "f").write_text("y")
    finally:
        os.umask(previous)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_json_nan_becomes_null(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "m.json", {"a": float("nan"), "b": [1.5, float("nan")], "c": "é"})
    text = (tmp_path / "m.json").read_text(encoding="utf-8")
    assert json.loads(text) == {"a": None, "b": [1.5, None], "c": "é"} and "NaN" not in text


def test_remove_stale_temporaries_only_touches_that_name(tmp_path: Path) -> None:
    (tmp_path / ".last.pt.ab12.tmp").write_bytes(b"half")
    (tmp_path / ".last.pt.cd34.tmp").mkdir()
    (tmp_path / ".model.pt.ef56.tmp").write_bytes(b"other")
    (tmp_path / "last.pt").write_bytes(b"whole")
    removed = remove_stale_temporaries(tmp_path, "last.pt")
    assert sorted(p.name for p in removed) == [".last.pt.ab12.tmp", ".last.pt.cd34.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.pt.ef56.tmp", "last.pt"]
