"""The KG-embedding trainer and ``kgrec kge``: triples files, a short training run, the run directory, errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from kgrec.cli import main
from kgrec.config import from_dict
from kgrec.data.dataset import RecDataset
from kgrec.data.triples import load_triples, triples_from_dataset
from kgrec.errors import ConfigError, DatasetError
from kgrec.evaluation.linkpred import evaluate_link_prediction
from kgrec.training.kge import KGEConfig, corrupt, train_kge
from tests.conftest import require_kge_benchmark

TINY = {
    "train.txt": "usa\tallied\tuk\nuk\tallied\tfrance\nfrance\ttrades_with\tusa\nusa\ttrades_with\tchina\n",
    "valid.txt": "usa\tallied\tfrance\n",
    "test.txt": "china\tallied\tusa\n",
}


def write_tiny(directory: Path, **replace: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in {**TINY, **replace}.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_load_triples_ids_from_all_three_files(tmp_path) -> None:
    split = load_triples(write_tiny(tmp_path / "tiny"))
    assert list(split.entities.raw_ids) == ["china", "france", "uk", "usa"]  # china only in train/test
    assert list(split.relations.raw_ids) == ["allied", "trades_with"]
    assert split.train.shape == (4, 3) and split.train.dtype == torch.long
    assert split.test.tolist() == [[0, 0, 3]]
    assert split.summary() == {"entities": 4, "relations": 2, "train": 4, "valid": 1, "test": 1}
    assert split.name == "tiny"


def test_load_triples_errors_name_file_and_line(tmp_path) -> None:
    bad = write_tiny(tmp_path / "bad", **{"valid.txt": "usa\tallied\tfrance\nusa\tallied\n"})
    with pytest.raises(DatasetError, match=r"valid\.txt:2: found 2 field\(s\)") as info:
        load_triples(bad)
    assert info.value.line == 2
    (tmp_path / "missing").mkdir()
    (tmp_path / "missing" / "train.txt").write_text(TINY["train.txt"])
    with pytest.raises(DatasetError, match=r"valid\.txt: file not found"):
        load_triples(tmp_path / "missing")


def test_triples_from_dataset_is_a_seeded_partition(five_node_dataset) -> None:
    rng = np.random.default_rng(0)
    triples = pd.DataFrame(
        {
            "head": [f"e{i}" for i in rng.integers(50, size=200)],
            "relation": [f"r{i}" for i in rng.integers(4, size=200)],
            "tail": [f"e{i}" for i in rng.integers(50, size=200)],
        }
    )
    dataset = RecDataset.from_frames("synthetic", pd.DataFrame({"user": ["u"], "item": ["i"]}), triples)
    a, b = triples_from_dataset(dataset, seed=1), triples_from_dataset(dataset, seed=1)
    assert torch.equal(a.test, b.test) and not torch.equal(a.test, triples_from_dataset(dataset, seed=2).test)
    n = len(dataset.triples)
    assert (len(a.train), len(a.valid), len(a.test)) == (n - 2 * round(0.1 * n), round(0.1 * n), round(0.1 * n))
    together = torch.cat(a.parts)
    assert sorted(map(tuple, together.tolist())) == sorted(map(tuple, dataset.triples.tolist()))
    assert a.entities is dataset.entities and a.name == "synthetic"
    with pytest.raises(ConfigError, match="no training triples"):
        triples_from_dataset(five_node_dataset, seed=0, ratios=(0.0, 0.5, 0.5))


def test_negatives_never_repeat_the_positive() -> None:
    gen = torch.Generator().manual_seed(0)
    head, tail = torch.randint(3, (2000,), generator=gen), torch.randint(3, (2000,), generator=gen)
    always_head = corrupt(head, tail, torch.ones(2000), 3, gen)
    assert torch.equal(always_head[1], tail) and not bool((always_head[0] == head).any())
    assert set(always_head[0].tolist()) == {0, 1, 2}
    never_head = corrupt(head, tail, torch.zeros(2000), 3, gen)
    assert torch.equal(never_head[0], head) and not bool((never_head[1] == tail).any())


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="valid keys: model, dim, epochs"):
        from_dict(KGEConfig, {"epoch": 3})
    with pytest.raises(ConfigError, match="model: expected one of transh, transe, got 'rotate'"):
        KGEConfig(model="rotate")
    with pytest.raises(ConfigError, match="lr: expected a value above 0, got 0"):
        KGEConfig(lr=0)
    with pytest.raises(ConfigError, match="--set.margin: expected a value of at least 0, got -1.0"):
        from_dict(KGEConfig, {"margin": -1}, where="--set")


@pytest.mark.parametrize("model", ["transh", "transe"])
def test_short_training_on_nations_beats_the_untrained_model(model) -> None:
    split = load_triples(require_kge_benchmark("nations"))
    untrained, _ = train_kge(split, KGEConfig(model=model, epochs=0), progress=False)
    before = evaluate_link_prediction(untrained, split.valid, split.parts, split.num_entities)["mrr"]
    trained, history = train_kge(split, KGEConfig(model=model, epochs=15, eval_every=5), progress=False)
    after = evaluate_link_prediction(trained, split.valid, split.parts, split.num_entities)["mrr"]
    assert after > before + 0.1, (before, after)
    assert [row["epoch"] for row in history] == list(range(1, 16))
    assert history[-1]["loss"] < history[0]["loss"]
    assert [row["epoch"] for row in history if "valid_mrr" in row] == [5, 10, 15]
    assert history[-1]["valid_mrr"] == pytest.approx(after)
    again, _ = train_kge(split, KGEConfig(model=model, epochs=15), progress=False)  # seeded: same weights
    assert all(torch.equal(p, q) for p, q in zip(trained.parameters(), again.parameters()))


def test_cli_train_writes_a_run_directory_and_evaluate_reproduces_it(tmp_path, capsys) -> None:
    source = write_tiny(tmp_path / "tiny")
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "kgrec", "kge", "train", str(source), "--set", "epochs=2", "--set", "lr=5e-3"]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "history.csv", "metrics.json", "model.pt"]
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["source"] == {"kind": "directory", "name": "tiny", "path": str(source.resolve())}
    assert from_dict(KGEConfig, config["kge"]) == KGEConfig(epochs=2, lr=0.005)
    with open(out / "history.csv", newline="") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"mrr", "hits@1", "hits@3", "hits@10", "mean_rank", "head_mrr", "tail_mrr"}
    assert metrics["train_seconds"] > 0 and metrics["triples"]["entities"] == 4
    checkpoint = torch.load(out / "model.pt", weights_only=True)
    assert checkpoint["model"] == "transh" and checkpoint["arguments"]["num_nodes"] == 4

    assert main(["kge", "evaluate", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mrr"] == metrics["test"]["mrr"]
    assert main(["kge", "evaluate", str(out), "--split", "valid"]) == 0
    assert f"{metrics['valid']['mrr']:.4g}" in capsys.readouterr().out


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys) -> None:
    source = write_tiny(tmp_path / "tiny")
    assert main(["kge", "train", str(source), "--set", "epoch=2", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown key 'epoch'" in err and "valid keys:" in err and "epochs" in err
    assert not (tmp_path / "x").exists()
    for argv, message in (
        (["kge", "train", str(source), "--set", "epochs"], "expected KEY=VALUE"),
        (["kge", "train", str(source), "--set", "epochs=many"], "--set.epochs: expected an integer"),
        (["kge", "train", str(source), "--set", "model=rotate"], "expected one of transh, transe"),
        (["kge", "train", "no-such-dataset"], "unknown source 'no-such-dataset'"),
        (["kge", "evaluate", str(tmp_path)], "config.yaml: file not found"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
