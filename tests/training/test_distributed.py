"""Data-parallel training (``kgrec train --nproc N``, torchrun): gloo processes on this machine.

One step of 2 processes on a global batch gives the parameters one process gives (the shard weights of the
ranking, L2 and TransH terms); a 2-process run matches a 1-process run; only process 0 writes the run
directory (the others run under an audit hook that records every write there); resume works under --nproc.
Each launch spawns 2 processes that import torch: a few seconds each, so the tests share their launches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kgrec.cli import main
from kgrec.config import EvalConfig, ModelConfig, RunConfig, SplitConfig, TrainConfig, with_overrides
from kgrec.data.graph import CollaborativeKG
from kgrec.data.split import split
from kgrec.models.base import Shard
from kgrec.models.baselines import build_model
from kgrec.run.fit import fit_run
from kgrec.net import free_port
from kgrec.training.distributed import Distributed, launch
from kgrec.training.trainer import BEST, LAST, Trainer
from tests.cli_runner import FAST, kgrec
from tests.models.planted import planted_dataset, write_planted_files

#: One step's cases: (name, model options, train options). Odd batch sizes give the two processes unequal shares
#: of the ranking and the triple batch; a second step on one row leaves process 0 with none. TransE and λ_kg = 0
#: leave parameters without gradients (DDP then looks for them); fan-outs of -1 make neighbour sampling exact.
STEP_CASES = [
    ("softmax", {}, {"loss": "softmax", "negatives": 4}),
    ("bpr-step-attention", {"attention_refresh": "step", "kg_batch_size": 7}, {"loss": "bpr", "negatives": 3}),
    ("transe-no-l2", {"kge": "transe", "l2": 0.0}, {"loss": "bpr", "negatives": 1}),
    ("neighbor-all-bi", {"aggregator": "bi"}, {"loss": "softmax", "negatives": 4, "sampling": "neighbor", "fanout": (-1, -1)}),
    ("no-kg-loss", {"lambda_kg": 0.0}, {"loss": "softmax", "negatives": 2}),
    ("lightgcn", {"model": "lightgcn"}, {"loss": "bpr", "negatives": 2}),
]


def one_step(distributed: Distributed | None, out: Path) -> None:
    """Two optimiser steps (a 37-row batch, then a 1-row one) of each :data:`STEP_CASES` model; process 0 (or the
    only process) saves the parameters and their last gradients to ``out/<case>.pt``."""
    dataset = planted_dataset()
    parts = split(dataset, SplitConfig(seed=1))
    graph = CollaborativeKG.build(dataset, parts.train)
    for name, model_options, train_options in STEP_CASES:
        torch.manual_seed(0)
        model = build_model(graph, ModelConfig(dim=8, layers=2, **{"kg_batch_size": 33, **model_options}))
        config = TrainConfig(epochs=1, batch_size=37, lr=0.01, num_threads=1, metric="ndcg@5", **train_options)
        trainer = Trainer(model, parts, dataset.n_items, config, EvalConfig(ks=(5,)), progress=False, distributed=distributed)
        users, positives, negatives = trainer.sampler.epoch(parts.train, config.batch_size, config.negatives)[0]
        losses = [trainer.train_batches([(users, positives, negatives)]),
                  trainer.train_batches([(users[:1], positives[:1], negatives[:1])])]
        if distributed is None or distributed.rank == 0:
            params = {key: value.detach().clone() for key, value in model.named_parameters()}
            grads = {key: value.grad.clone() for key, value in model.named_parameters() if value.grad is not None}
            torch.save({"params": params, "grads": grads, "losses": losses}, out / f"{name}.pt")


def test_shard_rows_cover_a_batch_once() -> None:
    for n in (0, 1, 2, 5, 37):
        rows = [Shard(rank, 3).rows(n) for rank in range(3)]
        assert [r.start for r in rows] == [0, rows[0].stop, rows[1].stop] and rows[-1].stop == n
    assert Shard().weight(5, 5) == 1.0 and Shard(1, 2).weight(3, 6) == 1.0 and Shard(0, 2).weight(2, 5) == 0.8
    with pytest.raises(ValueError, match="rank 2"):
        Shard(2, 2)


def test_one_step_of_two_processes_equals_one_process(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one_step(None, tmp_path / "one")
    launch(2, one_step, (tmp_path / "two",))
    for name, *_ in STEP_CASES:
        single, parallel = (torch.load(tmp_path / part / f"{name}.pt", weights_only=False) for part in ("one", "two"))
        assert single["grads"].keys() == parallel["grads"].keys(), name
        for key, grad in single["grads"].items():
            torch.testing.assert_close(parallel["grads"][key], grad, atol=1e-6, rtol=1e-4, msg=f"{name}: grad {key}")
        for key, value in single["params"].items():
            torch.testing.assert_close(parallel["params"][key], value, atol=1e-5, rtol=0, msg=f"{name}: {key}")
        for alone, together in zip(single["losses"], parallel["losses"]):  # the reported losses: the global batch's
            assert together == pytest.approx(alone, rel=1e-5, abs=1e-7), name


# ---- whole runs --------------------------------------------------------------------------------------------
WRITES = {"open", "os.rename", "os.remove", "os.mkdir", "os.rmdir", "os.chmod", "shutil.rmtree", "tempfile.mkstemp",
          "shutil.copyfile", "os.truncate", "os.symlink", "os.link"}


def audited_fit(distributed: Distributed, config: RunConfig, run_dir: Path, resume: bool, audit: Path) -> None:
    """:func:`fit_run` as process ``distributed.rank``, recording every write (or removal, rename, ...) under
    ``run_dir``; the list is saved to ``audit/<rank>.json`` (outside ``run_dir``) at the end. Process 0's list
    shows that the hook sees the writes."""
    seen: list[str] = []
    inside = str(run_dir.resolve())

    def hook(event: str, args: tuple) -> None:
        if event not in WRITES:
            return
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
            if not writing:
                return
            paths = [path]
        else:
            paths = args[:2]
        for path in paths:
            if isinstance(path, (str, os.PathLike)) and os.path.abspath(os.fspath(path)).startswith(inside):
                seen.append(f"{event} {os.fspath(path)}")

    sys.addaudithook(hook)
    fitted = fit_run(config, run_dir, resume, progress=False, distributed=distributed)
    assert fitted.metrics["test"]  # every process gets the metrics process 0 wrote
    audit.mkdir(parents=True, exist_ok=True)
    (audit / f"{distributed.rank}.json").write_text(json.dumps(seen))


@pytest.fixture(scope="module")
def planted_files(tmp_path_factory) -> Path:
    return write_planted_files(tmp_path_factory.mktemp("planted"))


def run_config(data: Path, epochs: int) -> RunConfig:
    return with_overrides(RunConfig(), [
        f"data.name={data}", f"train.epochs={epochs}", "model.dim=8", "model.layers=2", "model.kg_batch_size=33",
        "train.batch_size=37", "train.negatives=4", "train.num_threads=1", "eval.ks=[5]", "train.metric=ndcg@5",
    ])


def assert_no_writes(audit: Path) -> None:
    records = {path.name: json.loads(path.read_text()) for path in audit.glob("*.json")}
    assert set(records) == {"0.json", "1.json"}, records
    assert any("last.pt" in record for record in records["0.json"])  # the hook sees process 0 write
    assert records["1.json"] == [], records["1.json"][:5]


def test_two_processes_train_like_one_and_resume_and_only_process_0_writes(planted_files: Path, tmp_path: Path) -> None:
    config = run_config(planted_files, epochs=3)
    alone = fit_run(config, tmp_path / "alone", progress=False).metrics
    launch(2, audited_fit, (config, tmp_path / "two", False, tmp_path / "audit-two"))
    assert_no_writes(tmp_path / "audit-two")
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert two["epochs_run"] == alone["epochs_run"] == 3 and two["best_epoch"] == alone["best_epoch"]
    for part in ("valid", "test"):
        for key in ("ndcg@5", "recall@5"):
            assert two[part][key] == pytest.approx(alone[part][key], abs=1e-3), (part, key)
    weights = [torch.load(run / BEST, weights_only=True)["state_dict"] for run in (tmp_path / "alone", tmp_path / "two")]
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[1][key], value, atol=1e-4, rtol=0, msg=key)
    for name in ("config.yaml", "model.pt", "last.pt", "metrics.json", "history.csv", "curves.png", "rules.json", "split/train.tsv"):
        assert (tmp_path / "two" / name).exists(), name

    # interrupted after 2 epochs, resumed under --nproc 2: the weights of the uninterrupted 2-process run
    launch(2, audited_fit, (run_config(planted_files, epochs=2), tmp_path / "resumed", False, tmp_path / "audit-first"))
    launch(2, audited_fit, (config, tmp_path / "resumed", True, tmp_path / "audit-resumed"))
    assert_no_writes(tmp_path / "audit-first")
    assert_no_writes(tmp_path / "audit-resumed")
    resumed, straight = (torch.load(run / LAST, weights_only=False) for run in (tmp_path / "resumed", tmp_path / "two"))
    assert resumed["epoch"] == 3 and [row["epoch"] for row in resumed["result"]["history"]] == [1, 2, 3]
    for key, value in straight["model"].items():
        assert torch.equal(resumed["model"][key], value), key


def test_kgrec_train_nproc_2_and_under_torchrun(planted_files: Path, tmp_path: Path) -> None:
    """``kgrec train --nproc 2`` and ``torchrun --nproc-per-node 2 -m kgrec train`` (the documented rendezvous, on
    the loopback interface) print like one process and give the same metrics; torchrun's second process prints
    nothing."""
    out = tmp_path / "run"
    result = kgrec("train", str(planted_files), *FAST, "--nproc", "2", "--out", str(out), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"best epoch {metrics['best_epoch']}," in result.stdout and metrics["epochs_run"] == 3
    assert (out / "model.pt").exists() and (out / "rules.json").exists()

    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
                "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", "-m", "kgrec"]
    launched = subprocess.run([*torchrun, "train", str(planted_files), *FAST, "--out", str(tmp_path / "torchrun")],
                              check=False, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert launched.returncode == 0, launched.stderr
    assert launched.stdout.count("best epoch") == 1 and launched.stdout.strip().splitlines()[-1] == str(tmp_path / "torchrun")
    assert json.loads((tmp_path / "torchrun" / "metrics.json").read_text())["test"] == metrics["test"]


def test_bad_nproc_is_one_line(planted_files: Path, capsys) -> None:
    assert main(["train", str(planted_files), "--nproc", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["kgrec: error: --nproc must be a positive integer, got 0"]


def test_nproc_under_torchrun_is_refused(planted_files: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", str(planted_files), "--nproc", "2", "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "torchrun" in err[0] and "--nproc-per-node" in err[0]
    assert not (tmp_path / "never").exists()


def test_data_parallel_needs_cpu_or_cuda() -> None:
    from kgrec.errors import ConfigError

    with pytest.raises(ConfigError, match="cpu \\(gloo\\) or cuda \\(NCCL\\), not on mps"):
        launch(2, one_step, (Path("."),), device="mps")
