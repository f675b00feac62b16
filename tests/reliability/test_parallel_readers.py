"""Eight ``kgrec recommend`` processes read one run directory at the same time and all give the same answer.

The run's mined rules are deleted first, so every reader also races to mine and save them: the writes are
atomic renames, so no reader ever sees a half-written ``rules.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import train_run_dir
from tests.models.planted import write_planted_files

READERS = 8


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("readers")
    return train_run_dir(write_planted_files(root / "planted"), root / "run", timeout=300)


def test_eight_parallel_readers_agree(run: Path) -> None:
    (run / "rules.json").unlink()
    user = (run / "split" / "train.tsv").read_text().split("\t", 1)[0]
    command = [sys.executable, "-m", "kgrec", "recommend", str(run), "--user", user, "-k", "10", "--explain",
               "--format", "json"]
    readers = [subprocess.Popen(command, cwd=run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(READERS)]
    outputs = [reader.communicate(timeout=300) for reader in readers]
    assert [reader.returncode for reader in readers] == [0] * READERS, [err for _, err in outputs]
    documents = [json.loads(out) for out, _ in outputs]
    assert len(documents[0]["recommendations"]) == 10
    assert all(document == documents[0] for document in documents)
    assert json.loads((run / "rules.json").read_text())["rules"]
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
