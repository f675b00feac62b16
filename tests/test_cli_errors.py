"""Every error a user can cause, through the real ``kgrec`` command in a subprocess, and the typed exceptions
the Python API raises for the same damaged run directories.

kgrec's own errors print exactly one line, ``kgrec: error: <message>``, naming the offending key, id or
file, and exit with code 2; ``kgrec --debug ...`` shows the traceback instead.

Syntax errors are argparse's and keep its standard output (rows with ``argparse=True``): ``usage: ...``
(possibly wrapped over several lines) then ``kgrec <command>: error: <message>``, also with exit code 2.
They are an unknown ``--model``, ``--protocol``, ``--format`` or ``--split`` choice, a missing required
option or option value, and a non-integer where an integer is expected (``-k abc``).

``kgrec kge train``'s option errors (``--set epoch=2``, an unknown source) are checked in-process by
tests/training/test_kge.py: here each would spend seconds importing torch for the same one-line path.

The run directories are made once per module (a tiny planted dataset, a few seconds of training); every
damaged run is a fresh copy of one of them. The commands run two at a time: most of their time is Python
importing torch.
"""

from __future__ import annotations

import json
import random
import shlex
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from kgrec.errors import ConfigError, IncompatibleRunError, RunError
from tests.cli_runner import kgrec, train_run_dir
from tests.models.planted import write_planted_files
from tests.training.test_kge import write_tiny

Damage = Callable[[Path], object]


@dataclass(frozen=True)
class Places:
    """The module's inputs: a planted dataset, a kgrec run, a KG triples folder and its kge run, and files."""

    data: Path
    run: Path
    tiny: Path
    kge: Path
    files: Path


INPUT_FILES = {
    "unknown-key.yaml": "train:\n  epoch: 3\n",
    "unknown-section.yaml": "training:\n  epochs: 3\n",
    "invalid.yaml": "train: [unclosed\n",
    "list.yaml": "- train\n- eval\n",
    "bad-variant.yaml": "pipeline:\n  compare: [pop, transformer]\n",
    "wrong-type.yaml": "eval:\n  ks: many\n",
}


def train_kge_dir(triples: Path, out: Path) -> Path:
    """``kgrec kge train TRIPLES`` for one epoch into ``out``, checked to succeed."""
    args = ["kge", "train", str(triples), "--set", "epochs=1", "--no-progress", "--out", str(out)]
    result = kgrec(*args, cwd=out.parent)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> Places:
    root = tmp_path_factory.mktemp("errors")
    data, tiny, files = write_planted_files(root / "planted"), write_tiny(root / "tiny"), root / "files"
    files.mkdir()
    for name, text in INPUT_FILES.items():
        (files / name).write_text(text, encoding="utf-8")
    with ThreadPoolExecutor(max_workers=2) as pool:
        run, kge = pool.submit(train_run_dir, data, root / "run"), pool.submit(train_kge_dir, tiny, root / "kge")
        return Places(data, run.result(), tiny, kge.result(), files)


# ---- damage done to a copy of a run directory --------------------------------------------------------------
def write(name: str, content: bytes | str) -> Damage:
    """Replace the run's file ``name`` with ``content``."""
    return lambda run: (run / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def remove(name: str) -> Damage:
    """Delete the run's file or folder ``name``."""
    return lambda run: shutil.rmtree(run / name) if (run / name).is_dir() else (run / name).unlink()


def truncate(name: str) -> Damage:
    """Keep the first half of the run's file ``name`` (a copy interrupted half-way)."""
    return lambda run: (run / name).write_bytes((run / name).read_bytes()[: (run / name).stat().st_size // 2])


def random_bytes(name: str) -> Damage:
    """Overwrite the run's file ``name`` with 4 KiB of seeded random bytes."""
    return write(name, random.Random(0).randbytes(4096))


def torch_file(name: str, make: Callable[[dict], object]) -> Damage:
    """A valid torch file, ``make(original contents)``, in place of the run's file ``name``."""
    return lambda run: torch.save(make(torch.load(run / name, weights_only=True)), run / name)


def edit(name: str, change: Callable[[dict], object]) -> Damage:
    """Apply ``change`` to the mapping in the run's YAML or JSON file ``name``, in place."""

    def damage(run: Path) -> None:
        path = run / name
        document = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
        change(document)
        path.write_text(json.dumps(document) if path.suffix == ".json" else yaml.safe_dump(document, sort_keys=False))

    return damage


def shrink_weights(checkpoint: dict) -> dict:
    """The same entries, with every weight of the wrong shape."""
    return {**checkpoint, "state_dict": {key: torch.zeros(1, 1) for key in checkpoint["state_dict"]}}


OTHER_VERSION = edit("config.yaml", lambda d: d.update(kgrec_version="0.0.1"))


@dataclass(frozen=True)
class Case:
    """One user error: ``command`` (``{data}``, ``{run}``, ``{kge}``, ``{tiny}``, ``{files}``, ``{tmp}`` are
    filled in), the text the message must contain (the offending key, id or file) and, optionally, a damage
    done first to a fresh copy of the kgrec run (``base="run"``) or of the kge run (``base="kge"``)."""

    command: str
    names: str
    damage: Damage | None = None
    base: str = "run"
    argparse: bool = False


CASES = {
    # datasets, --set, --config, options
    "unknown dataset": Case("train no-such-dataset", "'no-such-dataset'"),
    "unknown dataset (data stats)": Case("data stats no-such-dataset", "'no-such-dataset'"),
    "unknown --set key": Case("train {data} --set train.epoch=3", "'train.epoch'"),
    "unknown --set section": Case("train {data} --set training.epochs=3", "'training.epochs=3'"),
    "--set wrong type (int)": Case("train {data} --set train.epochs=abc", "train.epochs"),
    "--set wrong type (list)": Case("train {data} --set eval.ks=[x]", "eval.ks"),
    "--set empty list": Case("train {data} --set eval.ks=[]", "eval.ks"),
    "--set batch size 0": Case("train {data} --set train.batch_size=0", "train.batch_size: expected a value of at least 1, got 0"),
    "--set negative epochs": Case("train {data} --set train.epochs=-1", "train.epochs: expected a value of at least 0, got -1"),
    "--set a K of 0": Case("train {data} --set eval.ks=[5,0]", "eval.ks: expected values that are each a value of at least 1, got (5, 0)"),
    "--set without =": Case("train {data} --set train.epochs", "'train.epochs'"),
    "--set unknown aggregator": Case("train {data} --set model.aggregator=foo", "--set: model.aggregator: expected one of bi, sum, mean, got 'foo'"),
    "--set unknown kge": Case("train {data} --set model.kge=transr", "--set: model.kge: expected one of transh, transe, got 'transr'"),
    "--set negative lambda_kg": Case("train {data} --set model.lambda_kg=-0.5", "--set: model.lambda_kg: expected a value of at least 0, got -0.5"),
    "--set lr of 0": Case("train {data} --set train.lr=0", "--set: train.lr: expected a value above 0, got 0.0"),
    "--set NaN l2": Case("train {data} --set model.l2=.nan", "--set: model.l2: expected a value of at least 0, got nan"),
    "--set metric not computed": Case("train {data} --set train.metric=ndcg@7", "train.metric: ndcg@7 is not computed"),
    "--set explain range": Case("train {data} --set explain.rule_weight=1.5", "--set: explain.rule_weight: expected a value in [0, 1], got 1.5"),
    "--set unknown variant": Case("train {data} --set pipeline.compare=[kgat]", "--set: pipeline.compare: expected values that are each one of pop"),
    "--set value not YAML": Case("train {data} --set eval.ks=[1,", "eval.ks"),
    "--config missing": Case("train {data} --config {tmp}/none.yaml", "{tmp}/none.yaml"),
    "--config invalid YAML": Case("train {data} --config {files}/invalid.yaml", "{files}/invalid.yaml"),
    "--config not a mapping": Case("train {data} --config {files}/list.yaml", "{files}/list.yaml"),
    "--config unknown key": Case("train {data} --config {files}/unknown-key.yaml", "'epoch'"),
    "--config wrong type": Case("train {data} --config {files}/wrong-type.yaml", "eval.ks"),
    "unknown --model": Case("train {data} --model transformer", "'transformer'", argparse=True),
    "missing --split-dir": Case("train {data} --split-dir {tmp}/no-split", "{tmp}/no-split"),
    "--split-dir without value": Case("train {data} --split-dir", "--split-dir", argparse=True),
    "--resume without --out": Case("train {data} --resume", "--resume"),
    "--out under a file": Case("data split {data} --out {data}/interactions.tsv/split", "{data}/interactions.tsv"),
    # run directories
    "missing run directory": Case("evaluate {tmp}/no-such-run", "{tmp}/no-such-run"),
    "a file, not a run": Case("recommend {data}/interactions.tsv --user u1", "{data}/interactions.tsv"),
    "a directory, not a run": Case("evaluate {data}", "{data}/config.yaml"),
    "config.yaml missing": Case("evaluate {run}", "{run}/config.yaml", remove("config.yaml")),
    "config.yaml invalid YAML": Case("evaluate {run}", "{run}/config.yaml", write("config.yaml", "data: [unclosed\n")),
    "config.yaml not a mapping": Case("evaluate {run}", "{run}/config.yaml", write("config.yaml", "- data\n- train\n")),
    "config.yaml empty": Case("paths {run} --user u1 --item i1", "{run}/config.yaml", write("config.yaml", "")),
    "config.yaml unknown key": Case(
        "rules {run}", "'epoch'", edit("config.yaml", lambda d: d["train"].update(epoch=3))
    ),
    "config.yaml wrong type": Case(
        "explain-eval {run}", "model.dim", edit("config.yaml", lambda d: d["model"].update(dim="big"))
    ),
    "another kgrec version": Case("evaluate {run}", "{run}/config.yaml", OTHER_VERSION),
    "no kgrec version": Case(
        "recommend {run} --user u1", "{run}/config.yaml", edit("config.yaml", lambda d: d.pop("kgrec_version"))
    ),
    "dataset.json disagrees": Case(
        "recommend {run} --user u1",
        "{run}/dataset.json",
        edit("dataset.json", lambda d: d.update(items=d["items"] + 1)),
    ),
    "model.pt truncated": Case("evaluate {run}", "{run}/model.pt", truncate("model.pt")),
    "model.pt random bytes": Case("recommend {run} --user u1", "{run}/model.pt", random_bytes("model.pt")),
    "model.pt empty": Case("paths {run} --user u1 --item i1", "{run}/model.pt", write("model.pt", b"")),
    "model.pt wrong keys": Case("evaluate {run}", "{run}/model.pt", torch_file("model.pt", lambda c: {"weights": 1})),
    "model.pt wrong shapes": Case("evaluate {run}", "{run}/model.pt", torch_file("model.pt", shrink_weights)),
    # ids and numbers
    "unknown user": Case("recommend {run} --user nobody", "'nobody'"),
    "unknown item": Case("paths {run} --user u1 --item nothing", "'nothing'"),
    "-k 0": Case("recommend {run} --user u1 -k 0", "-k"),
    "-k negative": Case("recommend {run} --user u1 -k -3", "-3"),
    "-k not a number": Case("recommend {run} --user u1 -k abc", "'abc'", argparse=True),
    "explain-eval -k 0": Case("explain-eval {run} -k 0", "-k"),
    "explain-eval --users 0": Case("explain-eval {run} --users 0", "--users"),
    "rules --top 0": Case("rules {run} --top 0", "--top"),
    "paths --max-len 1": Case("paths {run} --user u1 --item i1 --max-len 1", "--max-len"),
    "missing --user": Case("recommend {run}", "--user", argparse=True),
    "unknown --protocol": Case("evaluate {run} --protocol auc", "'auc'", argparse=True),
    "unknown --format": Case("recommend {run} --user u1 --format xml", "'xml'", argparse=True),
    # pipelines
    "pipeline missing": Case("run {tmp}/none.yaml", "{tmp}/none.yaml"),
    "pipeline unknown key": Case("run {files}/unknown-key.yaml", "'epoch'"),
    "pipeline unknown section": Case("run {files}/unknown-section.yaml", "'training'"),
    "pipeline invalid YAML": Case("run {files}/invalid.yaml", "{files}/invalid.yaml"),
    "pipeline unknown variant": Case("run {files}/bad-variant.yaml", "'transformer'"),
    "pipeline and --resume": Case("run {files}/unknown-key.yaml --resume {run}", "--resume"),
    "--resume missing run": Case("run --resume {tmp}/no-such-run", "{tmp}/no-such-run"),
    "--resume another version": Case("run --resume {run}", "{run}/config.yaml", OTHER_VERSION),
    "demo unknown --set key": Case("demo --set train.epoch=3", "'train.epoch'"),
    # kge
    "kge missing run": Case("kge evaluate {tmp}/no-such-run", "{tmp}/no-such-run"),
    "kge evaluate on a kgrec run": Case("kge evaluate {run}", "{run}/config.yaml"),
    "kgrec evaluate on a kge run": Case("evaluate {kge}", "{kge}/config.yaml"),
    "kge config.yaml invalid YAML": Case(
        "kge evaluate {kge}", "{kge}/config.yaml", write("config.yaml", "kge: [unclosed\n"), base="kge"
    ),
    "kge model.pt random bytes": Case("kge evaluate {kge}", "{kge}/model.pt", random_bytes("model.pt"), base="kge"),
    "kge model.pt wrong shapes": Case(
        "kge evaluate {kge}", "{kge}/model.pt", torch_file("model.pt", shrink_weights), base="kge"
    ),
    "kge unknown --split": Case("kge evaluate {kge} --split train", "'train'", argparse=True),
}

#: Cases run again with ``kgrec --debug``: a ConfigError, an IncompatibleRunError, a RunError with its cause.
DEBUG_CASES = ("unknown --set key", "another kgrec version", "model.pt truncated")


def damaged_copy(places: Places, base: str, damage: Damage, tmp: Path) -> Path:
    """A copy of the module's kgrec run (``base="run"``) or kge run (``"kge"``) in ``tmp``, with ``damage`` done."""
    copy = tmp / f"damaged-{base}"
    shutil.copytree(places.run if base == "run" else places.kge, copy)
    damage(copy)
    return copy


def run_case(case: Case, places: Places, tmp: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """``kgrec [options] command`` on the case's (damaged) run with the placeholders filled in; returns the
    finished process and the text its error must contain."""
    runs = {"run": places.run, "kge": places.kge}
    if case.damage is not None:
        runs[case.base] = damaged_copy(places, case.base, case.damage, tmp)
    names = dict(data=places.data, tiny=places.tiny, files=places.files, tmp=tmp, **runs)
    args = [word.format(**names) for word in shlex.split(case.command)]
    return kgrec(*options, *args, cwd=tmp, timeout=300), case.names.format(**names)


@pytest.fixture(scope="module")
def outcomes(places: Places, tmp_path_factory) -> dict[tuple[str, bool], tuple[subprocess.CompletedProcess[str], str]]:
    """Every case run once (and the DEBUG_CASES once more with ``--debug``), two at a time; keyed by
    ``(name, debug)``."""
    jobs = [(name, False) for name in CASES] + [(name, True) for name in DEBUG_CASES]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {}
        for name, debug in jobs:  # the temporary folders are made here, in one thread
            options = ["--debug"] if debug else []
            futures[name, debug] = pool.submit(run_case, CASES[name], places, tmp_path_factory.mktemp("case"), *options)
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_a_user_error_is_one_line_and_exit_code_2(name: str, outcomes) -> None:
    case = CASES[name]
    result, names = outcomes[name, False]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    if case.argparse:
        command = " ".join(shlex.split(case.command)[:2 if case.command.startswith("kge ") else 1])
        assert lines[0].startswith(f"usage: kgrec {command}"), result.stderr
        assert lines[-1].startswith(f"kgrec {command}: error: "), result.stderr
    else:
        assert len(lines) == 1 and lines[0].startswith("kgrec: error: ") and lines[0] != "kgrec: error: ", result.stderr
    assert names in lines[-1], result.stderr


@pytest.mark.parametrize("name", DEBUG_CASES)
def test_debug_shows_the_traceback(name: str, outcomes) -> None:
    result, names = outcomes[name, True]
    assert result.returncode == 1 and "Traceback (most recent call last)" in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("kgrec.errors.") and names in last, result.stderr


# ---- the Python API raises the same errors, typed -----------------------------------------------------------
RUN_DAMAGES = {  # damage to a kgrec run -> (damage, the error Recommender.load raises, text of its message)
    "config.yaml missing": (remove("config.yaml"), RunError, "config.yaml: file not found"),
    "config.yaml invalid": (write("config.yaml", "data: [unclosed\n"), ConfigError, "config.yaml:2: not valid YAML"),
    "another version": (OTHER_VERSION, IncompatibleRunError, "written by kgrec 0.0.1"),
    "another dataset": (edit("dataset.json", lambda d: d.update(users=1)), IncompatibleRunError, "users = 1"),
    "dataset.json invalid": (write("dataset.json", "{not json"), RunError, "dataset.json: cannot read the dataset"),
    "model.pt missing": (remove("model.pt"), RunError, "model.pt: model file missing"),
    "model.pt truncated": (truncate("model.pt"), RunError, "model.pt: cannot read the checkpoint"),
    "model.pt text": (write("model.pt", "not a checkpoint\n"), RunError, "model.pt: cannot read the checkpoint"),
    "model.pt pickled object": (
        torch_file("model.pt", lambda c: {"state_dict": Path("x")}), RunError, "model.pt: cannot read the checkpoint"
    ),
    "model.pt a tensor": (torch_file("model.pt", lambda c: torch.zeros(3)), RunError, "expected a kgrec checkpoint"),
    "model.pt weights a list": (torch_file("model.pt", lambda c: {"state_dict": [1]}), RunError, "should be a dict"),
    "model.pt no weights": (torch_file("model.pt", lambda c: {"state_dict": {}}), RunError, "model.pt: no weight"),
    "model.pt extra weight": (
        torch_file("model.pt", lambda c: {"state_dict": {**c["state_dict"], "extra": torch.zeros(1)}}),
        RunError,
        "'extra'",
    ),
    "model.pt wrong shapes": (torch_file("model.pt", shrink_weights), RunError, "has shape (1, 1)"),
}


@pytest.mark.parametrize(("damage", "error", "text"), list(RUN_DAMAGES.values()), ids=list(RUN_DAMAGES))
def test_recommender_load_raises_typed_errors(
    places: Places, tmp_path: Path, damage: Damage, error: type[Exception], text: str
) -> None:
    from kgrec.recommender import Recommender

    run = damaged_copy(places, "run", damage, tmp_path)
    with pytest.raises(error) as raised:
        Recommender.load(run)
    assert str(run) in str(raised.value) and text in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_run_directory_is_a_run_error(tmp_path: Path) -> None:
    from kgrec.recommender import Recommender
    from kgrec.run.fit import evaluate_run

    with pytest.raises(RunError, match="no such run directory"):
        Recommender.load(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="unknown protocol 'auc'"):  # before looking at the directory
        evaluate_run(tmp_path / "nothing", "auc")


KGE_DAMAGES = {  # kge model.pt damage -> text of the RunError
    "missing": (remove("model.pt"), "model.pt: file not found"),
    "truncated": (truncate("model.pt"), "cannot read the checkpoint"),
    "random bytes": (random_bytes("model.pt"), "cannot read the checkpoint"),
    "empty": (write("model.pt", b""), "cannot read the checkpoint"),
    "wrong keys": (torch_file("model.pt", lambda c: {"weights": 1}), "no 'model' entry"),
    "unknown model": (torch_file("model.pt", lambda c: {**c, "model": "rotate"}), "cannot rebuild the 'rotate' model"),
    "wrong arguments": (torch_file("model.pt", lambda c: {**c, "arguments": {"size": 3}}), "cannot rebuild"),
    "wrong shapes": (torch_file("model.pt", shrink_weights), "has shape (1, 1)"),
}


@pytest.mark.parametrize(("damage", "text"), list(KGE_DAMAGES.values()), ids=list(KGE_DAMAGES))
def test_kge_load_checkpoint_raises_run_errors(places: Places, tmp_path: Path, damage: Damage, text: str) -> None:
    from kgrec.training.kge import load_checkpoint

    run = damaged_copy(places, "kge", damage, tmp_path)
    with pytest.raises(RunError) as raised:
        load_checkpoint(run / "model.pt")
    assert str(run / "model.pt") in str(raised.value) and text in str(raised.value)
    assert "\n" not in str(raised.value)
