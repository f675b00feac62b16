"""pipelines/bench_scale.py: the synthetic scale-up against a drawn dataset, and one small run of the benchmark
(no timing thresholds: speed is the benchmark's to report)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from pipelines import bench_scale
from kgrec.data.dataset import RecDataset
from tests.conftest import require_shared

REPO = Path(__file__).resolve().parents[1]


def test_three_copies_of_the_drawn_dataset(five_node_dataset: RecDataset) -> None:
    """u1 -> i1, u2 -> i2, u1 -> i2; i1 = e1 -> e3 <- e2 = i2, three times over."""
    base = five_node_dataset
    big = bench_scale.scaled(base, 3, seed=0)
    assert (big.n_users, big.n_items, big.n_entities) == (6, 6, 9)
    assert big.users.raw_ids.tolist() == ["u1", "u2", "u1#1", "u2#1", "u1#2", "u2#2"]
    # every copy of the KG is the original's, on that copy's entities; each item copy links to its entity copy
    expected = np.concatenate([base.triples + np.array([3 * c, 0, 3 * c]) for c in range(3)])
    assert big.triples.tolist() == expected.tolist()
    assert big.item_entity.tolist() == [e + 3 * c for c in range(3) for e in base.item_entity.tolist()]
    # a copied user keeps its degree and the original item of each interaction, in some copy
    assert len(big.interactions) == 9
    assert np.bincount(big.interactions.user).tolist() == [2, 1] * 3
    assert sorted(zip(big.interactions.user % 2, big.interactions.item % 2)) == sorted(
        list(zip(base.interactions.user, base.interactions.item)) * 3)
    again = bench_scale.scaled(base, 3, seed=0)
    assert again.interactions.item.tolist() == big.interactions.item.tolist()  # seeded


def test_most_interactions_stay_in_their_user_s_copy(five_node_dataset: RecDataset) -> None:
    base = five_node_dataset
    big = bench_scale.scaled(base, 50, seed=1)
    same = np.mean(big.interactions.user // base.n_users == big.interactions.item // base.n_items)
    assert abs(same - bench_scale.SAME_COPY) < 0.1  # 150 interactions: 0.8 ± a binomial spread of 0.033
    assert bench_scale.scaled(base, 1) is base


def test_growth_lines_are_the_targets_ratios() -> None:
    rows = [{"mode": "full", "scale": 1, "epoch_s": 2.0, "peak_mb": 500.0},
            {"mode": "full", "scale": 10, "epoch_s": 15.0, "peak_mb": 700.0},
            {"mode": "neighbor", "scale": 1, "epoch_s": 3.0, "peak_mb": 400.0},
            {"mode": "neighbor", "scale": 100, "epoch_s": 90.0, "peak_mb": 1000.0}]
    assert bench_scale.growth(rows) == ["full graph, seconds per epoch x10 / x1: 7.50 (target <= 10)",
                                        "neighbour sampling, peak RSS x100 / x1: 2.50 (target <= 2)"]


def test_the_benchmark_measures_two_scales_of_a_small_dataset(tmp_path: Path) -> None:
    require_shared("moviekg-omdb")
    out = tmp_path / "scale.json"
    done = subprocess.run([sys.executable, str(REPO / "pipelines" / "bench_scale.py"), "--dataset", "moviekg-omdb",
                           "--scales", "1,2", "--modes", "full", "--epochs", "1", "--max-steps", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [(r["scale"], r["mode"]) for r in rows] == [(1, "full"), (2, "full")]
    assert rows[1]["interactions"] == 2 * rows[0]["interactions"] and rows[1]["triples"] == 2 * rows[0]["triples"]
    assert rows[1]["batch_size"] == 2 * rows[0]["batch_size"]
    assert all(r["epoch_s"] > 0 and r["peak_mb"] > 0 and r["eval_users"] > 0 for r in rows)
    assert result["growth"] == []  # no x10 or x100 measured
