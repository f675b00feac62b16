"""``kgrec run`` / ``run_pipeline``: the whole pipeline on the planted dataset, resume after a kill, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kgrec.config import VARIANT_NAMES
from kgrec.errors import ConfigError
from kgrec.pipeline import is_baseline, load_pipeline_config, model_label, run_pipeline, variant_config
from tests.cli_runner import kgrec
from tests.models.planted import write_planted_files


def pipeline_yaml(directory: Path, data: Path, epochs: int = 4, report: bool = False) -> Path:
    config = {
        "data": {"name": str(data)},
        "split": {"scheme": "ratio", "seed": 3},
        "model": {"model": "kgrec", "dim": 8, "layers": 2, "attention": False},
        "train": {"epochs": epochs, "batch_size": 64, "patience": epochs, "seed": 3, "num_threads": 1},
        "eval": {"ks": [5]},
        "explain": {"min_support": 1, "eval_k": 5},
        "pipeline": {"compare": ["pop", "bprmf"], "explain_users": 10, "gallery_users": 2, "gallery_k": 3, "report": report},
    }
    config["train"]["metric"] = "ndcg@5"
    path = directory / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_planted_files(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def finished(data_dir: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    result = run_pipeline(pipeline_yaml(root, data_dir, report=True), root / "run", progress=False)
    assert result.run_dir == root / "run"
    assert result.report == (root / "run" / "report.html", root / "run" / "report.md")
    return root / "run"


def test_pipeline_writes_every_artefact(finished: Path) -> None:
    for name in ("config.yaml", "metrics.json", "rules.json", "comparison.json", "explain_eval.json", "gallery.json",
                 "dataset_stats.json", "compare/pop/metrics.json", "compare/bprmf/metrics.json", "report.html", "report.md",
                 "inspect/relations.json", "inspect/relations.png", "inspect/entities.json", "inspect/entities.png"):
        assert (finished / name).exists(), name
    rows = json.loads((finished / "comparison.json").read_text())["rows"]
    assert [r["name"] for r in rows] == ["kgrec", "Pop", "BPR-MF"]
    main = json.loads((finished / "metrics.json").read_text())
    assert rows[0]["test"] == main["test"]
    gallery = json.loads((finished / "gallery.json").read_text())
    assert len(gallery["users"]) == 2 and all(len(u["recommendations"]) == 3 for u in gallery["users"])
    assert list((finished / "gallery").glob("*.png"))
    relations = json.loads((finished / "inspect" / "relations.json").read_text())
    assert relations["users"] == 10 and relations["k"] == 5  # the pipeline's explain_users and eval_k
    assert "What the model leans on" in (finished / "report.html").read_text(encoding="utf-8")
    saved = yaml.safe_load((finished / "config.yaml").read_text())
    assert saved["pipeline"]["compare"] == ["pop", "bprmf"]


def test_compared_models_use_the_main_runs_split(finished: Path) -> None:
    for name in ("pop", "bprmf"):
        sub = finished / "compare" / name
        assert (sub / "split" / "test.tsv").read_text() == (finished / "split" / "test.tsv").read_text()


def test_resume_of_a_finished_run_retrains_nothing(finished: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in [finished / "model.pt", finished / "compare" / "pop" / "metrics.json"]}
    result = run_pipeline(load_pipeline_config(finished / "config.yaml"), finished, resume=True, progress=False)
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert result.comparison[0]["test"] == json.loads((finished / "metrics.json").read_text())["test"]


def test_killed_run_resumes_to_the_same_metrics(data_dir: Path, tmp_path: Path) -> None:
    config = pipeline_yaml(tmp_path, data_dir, epochs=60)
    reference = kgrec("run", str(config), "--out", str(tmp_path / "reference"), cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    run = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "kgrec", "run", str(config), "--out", str(run)], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:  # kill once a few epochs are checkpointed
        history = run / "history.csv"
        if history.exists() and len(history.read_text().splitlines()) >= 6:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait()
    assert not (run / "metrics.json").exists(), "the run finished before it could be killed"
    resumed = kgrec("run", "--resume", str(run), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    expected = json.loads((tmp_path / "reference" / "comparison.json").read_text())["rows"]
    got = json.loads((run / "comparison.json").read_text())["rows"]
    assert [r["test"] for r in got] == [r["test"] for r in expected]
    assert [r["best_epoch"] for r in got] == [r["best_epoch"] for r in expected]


def test_unknown_variant_and_bad_override_are_clear_errors(data_dir: Path, tmp_path: Path) -> None:
    config = pipeline_yaml(tmp_path, data_dir)
    with pytest.raises(ConfigError, match="valid keys: .*pipeline.compare"):
        load_pipeline_config(config, ["pipeline.compares=[pop]"])
    result = kgrec("run", str(config), "--set", "pipeline.compare=[popular]", "--out", str(tmp_path / "x"), cwd=tmp_path)
    assert result.returncode == 2 and "pipeline.compare: expected values that are each one of pop, bprmf" in result.stderr
    assert "got ('popular',)" in result.stderr
    assert not (tmp_path / "x" / "model.pt").exists()  # refused before training
    result = kgrec("run", str(config), "--set", "pipeline.baseline_set=[model.nope=1]", "--out", str(tmp_path / "x"), cwd=tmp_path)
    assert result.returncode == 2 and "variant 'pop'" in result.stderr and "unknown key 'model.nope'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "x" / "model.pt").exists()
    result = kgrec("run", cwd=tmp_path)
    assert result.returncode == 2 and "pipeline YAML, or --resume RUN" in result.stderr
    # the documented variants change the main config (kgrec, attention off) as their names say
    main = load_pipeline_config(config)
    models = {name: variant_config(main, name, tmp_path).model for name in VARIANT_NAMES}  # every name has overrides
    assert [models[name].model for name in VARIANT_NAMES] == ["pop", "bprmf", "lightgcn"] + ["kgrec"] * 5
    changed = (models["no_kg"].use_kg, models["attention"].attention, models["transe"].kge, models["no_kg_loss"].lambda_kg)
    assert changed == (False, True, "transe", 0.0) and models["no_attention"].attention is False
    before = (main.model.use_kg, main.model.attention, main.model.kge, main.model.lambda_kg)
    assert all(new != old for new, old in zip(changed, before)), before


def test_baselines_train_with_plain_bpr_and_ablations_keep_the_main_objective(data_dir: Path, tmp_path: Path) -> None:
    config = load_pipeline_config(pipeline_yaml(tmp_path, data_dir), ["train.negatives=8", "train.loss=softmax"])
    for name in ("lightgcn", "bprmf", "pop"):
        train = variant_config(config, name, tmp_path).train
        assert (train.negatives, train.loss) == (1, "bpr"), name
    for name in ("no_kg", "transe", "no_kg_loss"):
        train = variant_config(config, name, tmp_path).train
        assert (train.negatives, train.loss) == (8, "softmax"), name


def test_a_main_baseline_run_is_labelled_by_its_model() -> None:
    assert (model_label("lightgcn"), model_label("pop"), model_label("kgrec")) == ("LightGCN", "Pop", "kgrec")


def test_baseline_set_applies_to_the_baselines_only(data_dir: Path, tmp_path: Path) -> None:
    config = load_pipeline_config(pipeline_yaml(tmp_path, data_dir), [
        "train.loss=softmax", "train.negatives=64", "model.l2=0.015", "pipeline.baseline_set=[model.l2=0.001]"])
    for name in ("lightgcn", "bprmf", "pop"):
        variant = variant_config(config, name, tmp_path)
        assert (variant.train.loss, variant.train.negatives, variant.model.l2) == ("bpr", 1, 0.001), name
    for name in ("no_kg", "transe", "no_kg_loss"):
        variant = variant_config(config, name, tmp_path)
        assert (variant.train.loss, variant.train.negatives, variant.model.l2) == ("softmax", 64, 0.015), name


def test_the_demo_note_and_comment_state_the_preset_the_demo_runs() -> None:
    from importlib import resources

    from kgrec.cli.pipeline import DEMO_PRESET_NOTE

    demo = resources.files("kgrec") / "demo.yaml"
    with resources.as_file(demo) as path:
        config = load_pipeline_config(path, [])
    assert (config.data.name, config.data.min_user_interactions, config.split.scheme, config.split.seed) == (
        "lastfm-dbpedia", 5, "ratio", 2026)
    assert (config.model.attention, config.train.loss, config.train.negatives) == (False, "bpr", 1)
    preset = f"batches of {config.train.batch_size:,} pairs, at most {config.train.epochs} epochs"
    assert f"(uniform weights, one-negative BPR, {preset})" in DEMO_PRESET_NOTE
    assert "`kgrec run pipelines/lastfm-dbpedia.yaml` trains the tuned configuration" in DEMO_PRESET_NOTE
    comment = demo.read_text(encoding="utf-8").split("\ndata:")[0]
    assert comment.startswith("# `kgrec demo`: lastfm-dbpedia") and "`kgrec run pipelines/lastfm-dbpedia.yaml`" in comment


def test_demo_says_it_is_a_fast_preset_then_prints_the_table_the_lists_and_the_report(tmp_path: Path) -> None:
    """``kgrec demo`` on the real lastfm-dbpedia (2 epochs here): the preset line first, the report path last."""
    from kgrec.cli.pipeline import DEMO_PRESET_NOTE
    from tests.conftest import SHARED_DATASETS, require_shared

    require_shared("lastfm-dbpedia")
    short = ["--set", "train.epochs=2", "--set", "pipeline.explain_users=3", "--set", "pipeline.inspect=false"]
    result = subprocess.run(
        [sys.executable, "-m", "kgrec", "demo", *short, "--out", str(tmp_path / "demo")],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env={**os.environ, "KGREC_DATA_DIR": str(SHARED_DATASETS), "KGREC_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == DEMO_PRESET_NOTE
    assert [line.split()[0] for line in lines[3:6]] == ["kgrec", "Pop", "BPR-MF"]
    assert sum(line.startswith("user ") and line.endswith(":") for line in lines) == 3
    assert lines[-1] == str(tmp_path / "demo" / "report.html")
    card = json.loads((tmp_path / "demo" / "dataset.json").read_text(encoding="utf-8"))
    assert (card["name"], card["users"]) == ("lastfm-dbpedia", 1875)  # the named DBpedia KG, users with ≥ 5 artists


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "pipelines").glob("*.yaml")),
                         ids=lambda path: path.name)
def test_every_shipped_pipeline_file_loads_and_its_baselines_keep_their_overrides(path: Path) -> None:
    """Each pipelines/*.yaml passes the config checks; a baseline gets its own model and every
    ``pipeline.baseline_set`` override (lastfm-dbpedia: λ₂ 0.001 and the 500-epoch schedule)."""
    config = load_pipeline_config(path)
    for name in filter(is_baseline, config.pipeline.compare):  # ablations of kgrec keep kgrec's settings
        variant = variant_config(config, name, Path("split"))
        for assignment in config.pipeline.baseline_set or ():
            dotted, value = assignment.split("=", 1)
            section, key = dotted.split(".")
            assert str(getattr(getattr(variant, section), key)) == value, (name, assignment)
    if path.name == "lastfm-dbpedia.yaml":
        assert (config.model.lambda_kg, config.model.l2, config.train.epochs) == (0.1, 0.005, 200)
        lightgcn = variant_config(config, "lightgcn", Path("split"))
        assert (lightgcn.model.model, lightgcn.model.l2, lightgcn.train.epochs, lightgcn.train.lr_cosine_epochs) == (
            "lightgcn", 0.001, 500, 400)
