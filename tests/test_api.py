"""The public Python API: ``kgrec.train`` → ``Recommender.save / load / recommend / evaluate``."""

from __future__ import annotations

from pathlib import Path

import pytest

import kgrec
from kgrec.errors import ConfigError
from tests.models.planted import planted_dataset, write_planted_files

FAST = ["train.epochs=3", "model.dim=8", "model.layers=2", "eval.ks=[5]", "train.metric=ndcg@5", "train.num_threads=1"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> kgrec.Recommender:
    data = write_planted_files(tmp_path_factory.mktemp("data"))
    return kgrec.train(str(data), overrides=FAST, out=tmp_path_factory.mktemp("runs") / "run", progress=False)


def test_the_documented_names_are_importable() -> None:
    for name in ("load_dataset", "split", "train", "Recommender", "run_pipeline", "Explanation", "UnknownUserError"):
        assert hasattr(kgrec, name), name


def test_train_returns_a_fitted_recommender_with_its_run_directory(fitted: kgrec.Recommender) -> None:
    assert (fitted.run_dir / "model.pt").exists() and (fitted.run_dir / "rules.json").exists()
    metrics = fitted.evaluate()
    assert 0.0 <= metrics["ndcg@5"] <= 1.0 and metrics["users"] > 0
    listed = fitted.recommend("u3", k=4, explain=True)
    assert [e.rank for e in listed] == [1, 2, 3, 4] and all(e.text for e in listed)


def test_save_and_load_give_the_same_recommendations(fitted: kgrec.Recommender, tmp_path: Path) -> None:
    saved = fitted.save(tmp_path / "saved")
    assert not (saved / "last.pt").exists() and (saved / "model.pt").exists()
    loaded = kgrec.Recommender.load(saved)
    before = [(e.item, round(e.score, 5)) for e in fitted.recommend("u3", k=5)]
    after = [(e.item, round(e.score, 5)) for e in loaded.recommend("u3", k=5)]
    assert before == after
    assert loaded.evaluate()["ndcg@5"] == pytest.approx(fitted.evaluate()["ndcg@5"])


def test_train_on_an_in_memory_dataset_and_split(tmp_path: Path) -> None:
    dataset = planted_dataset()
    parts = kgrec.split(dataset, scheme="ratio", seed=5)
    rec = kgrec.train(dataset, split=parts, overrides=FAST, out=tmp_path / "mem", progress=False)
    assert rec.split is parts
    assert (tmp_path / "mem" / "split" / "test.tsv").read_text().count("\n") == len(parts.test)


def test_save_without_a_run_directory_is_a_clear_error(fitted: kgrec.Recommender) -> None:
    orphan = kgrec.Recommender(fitted.config, fitted.dataset, fitted.split, fitted.graph, fitted.model)
    with pytest.raises(ConfigError, match="no run directory"):
        orphan.save("anywhere")
