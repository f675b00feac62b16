"""``kgrec recommend / paths / rules / explain-eval`` on a small run of moviekg-omdb (real names)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import kgrec, train_run_dir
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def movie_run(tmp_path_factory) -> Path:
    require_shared("moviekg-omdb")
    return train_run_dir("moviekg-omdb", tmp_path_factory.mktemp("runs") / "movies")


def a_user(run: Path) -> str:
    return (run / "split" / "train.tsv").read_text().split("\t", 1)[0]


def test_training_saves_the_mined_rules(movie_run: Path) -> None:
    rules = json.loads((movie_run / "rules.json").read_text())
    assert rules["rules"], "no rules saved with the run"


def test_rules_lists_readable_rules_with_measures(movie_run: Path) -> None:
    result = kgrec("rules", str(movie_run), "--top", "10", cwd=movie_run)
    assert result.returncode == 0, result.stderr
    assert "same director" in result.stdout and "confidence" in result.stdout
    rows = json.loads(kgrec("rules", str(movie_run), "--format", "json", cwd=movie_run).stdout)
    director = next(r for r in rows if r["name"] == "same director")
    assert director["support"] <= director["connected"]
    assert director["confidence"] == pytest.approx(director["support"] / director["connected"])


def test_rules_constants_lists_the_rules_with_a_constant(movie_run: Path) -> None:
    from kgrec.explain.render import short_name

    saved = json.loads((movie_run / "rules.json").read_text())
    assert saved["version"] == 2 and saved["constant_rules"], "the run mined no rule with a constant"
    rows = json.loads(kgrec("rules", str(movie_run), "--constants", "--format", "json", cwd=movie_run).stdout)
    assert [(r["pattern"], r["constant"], r["support"]) for r in rows] == [
        (e["pattern"], e["constant"], e["support"]) for e in saved["constant_rules"][:30]
    ]
    for row, entry in zip(rows, saved["constant_rules"]):
        assert row["name"].startswith("same ") and row["name"].endswith(f": {short_name(entry['constant_name'])}")
        assert row["popularity_lift"] == entry["popularity_lift"] and row["p_value"] == entry["p_value"]
    result = kgrec("rules", str(movie_run), "--constants", "--top", "1", cwd=movie_run)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "pop. lift" in lines[0] and lines[0].split()[-1] == "p-value"
    assert lines[2].startswith(rows[0]["name"]) and len(lines) == 4  # header, rule, one row, the summary
    assert lines[3] == (
        f"{len(saved['rules']):,} pattern rules and {len(saved['constant_rules']):,} rules with a constant mined from "
        f"{saved['n_coliked']:,} item pairs co-liked by at least {saved['min_colikes']} user"
        f"{'s' if saved['min_colikes'] != 1 else ''} "
        f"(base rate {saved['base_rate']:.4g})"
    )
    plain = json.loads(kgrec("rules", str(movie_run), "--format", "json", cwd=movie_run).stdout)
    assert plain and all(r["constant"] is None for r in plain)


def test_recommend_explains_with_names(movie_run: Path) -> None:
    user = a_user(movie_run)
    result = kgrec("recommend", str(movie_run), "--user", user, "-k", "5", "--explain", cwd=movie_run)
    assert result.returncode == 0, result.stderr
    sentences = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("Recommended")]
    assert len(sentences) == 5
    forms = ("because it ", "because of shared taste", "because you liked", "no connecting path")
    assert all(any(form in s for form in forms) for s in sentences), sentences
    assert all(("(rule `" in s) == (" because it " in s) for s in sentences)  # a told rule reads from the item


def test_recommend_json_follows_the_documented_schema(movie_run: Path) -> None:
    user = a_user(movie_run)
    result = kgrec("recommend", str(movie_run), "--user", user, "-k", "3", "--explain", "--format", "json", cwd=movie_run)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {"schema_version", "dataset", "user", "recommendations"} <= set(document)
    assert [r["rank"] for r in document["recommendations"]] == [1, 2, 3]
    scores = [r["score"] for r in document["recommendations"]]
    assert scores == sorted(scores, reverse=True)


def test_recommend_html_writes_a_page_and_pictures(movie_run: Path) -> None:
    user = a_user(movie_run)
    result = kgrec("recommend", str(movie_run), "--user", user, "-k", "2", "--format", "html", cwd=movie_run)
    assert result.returncode == 0, result.stderr
    page = Path(result.stdout.strip().splitlines()[-1])
    assert page.exists() and "data:image/png;base64," in page.read_text()
    assert list(page.with_suffix("").glob("*.png"))


def test_paths_table_and_json(movie_run: Path) -> None:
    user = a_user(movie_run)
    top = json.loads(kgrec("recommend", str(movie_run), "--user", user, "-k", "1", "--format", "json", cwd=movie_run).stdout)
    item = top["recommendations"][0]["item_raw"] if "item_raw" in top["recommendations"][0] else top["recommendations"][0]["item"]
    result = kgrec("paths", str(movie_run), "--user", user, "--item", str(item), "--max-len", "3", "--format", "json", cwd=movie_run)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert all(1 <= r["length"] <= 3 for r in rows)
    table = kgrec("paths", str(movie_run), "--user", user, "--item", str(item), "--max-len", "3", cwd=movie_run)
    assert table.returncode == 0, table.stderr
    if rows:
        assert table.stdout.splitlines()[0].split()[:4] == ["#", "length", "weight", "path"]
        assert rows[0]["text"] in table.stdout
    weights = [r["weight"] for r in rows]
    assert weights == sorted(weights, reverse=True)


def test_explain_eval_reports_the_contract_keys(movie_run: Path) -> None:
    result = kgrec("explain-eval", str(movie_run), "--users", "20", "--format", "json", cwd=movie_run)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("path_coverage", "rule_coverage", "fidelity", "mean_rank_drop", "random_rank_drop"):
        assert key in report
    assert report["users"] == 20 and 0.0 <= report["path_coverage"] <= 1.0
    assert (movie_run / "explain_eval.json").exists()
    for key in NEW_KEYS:
        assert key in report, key
    for key in ("told_weight_share", "told_weight_share_median", "collaborative_share", "fidelity", "fidelity_strict_rank"):
        assert 0.0 <= report[key] <= 1.0, key
    assert report["fidelity_strict_rank"] <= report["fidelity"]  # a rank tie can only count against the strict form
    assert report["collaborative_share"] <= report["path_coverage"]
    assert report["named_coverage"] == 1.0  # moviekg-omdb names every movie and entity
    # the bar of the run's config (the defaults) and the rules with a constant it was mined with
    assert report["chance_bar"] == {"min_support": 5, "min_lift": 1.5, "min_popularity_lift": 1.3, "max_p_value": 0.01}
    assert report["constant_rules"] == len(json.loads((movie_run / "rules.json").read_text())["constant_rules"])
    assert 0.0 <= report["constant_rule_share"] <= 1.0


#: The told-evidence measures of explain-eval (JSON key names are a contract).
NEW_KEYS = ("named_coverage", "told_weight_share", "told_weight_share_median", "collaborative_share", "fidelity",
            "fidelity_strict_rank")


def test_explain_eval_text_shows_the_told_evidence_measures(movie_run: Path) -> None:
    result = kgrec("explain-eval", str(movie_run), "--users", "5", cwd=movie_run)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    for key in NEW_KEYS:
        assert key in rows, key


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recommend", "{run}", "--user", "no-such-user"], "unknown user 'no-such-user'"),
        (["paths", "{run}", "--user", "{user}", "--item", "Star Warz"], "did you mean 'Star Wars'"),
        (["recommend", "{run}", "--user", "{user}", "-k", "0"], "-k must be a positive integer"),
        (["paths", "{run}", "--user", "{user}", "--item", "Star Wars", "--max-len", "1"], "--max-len must be at least 2"),
        (["recommend", "/no/such/run", "--user", "{user}"], "no such run directory"),
    ],
)
def test_bad_input_is_one_line_exit_2(movie_run: Path, args: list[str], message: str) -> None:
    args = [a.format(run=movie_run, user=a_user(movie_run)) for a in args]
    result = kgrec(*args, cwd=movie_run)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_run_of_another_dataset_is_refused(movie_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(movie_run, copy)
    card = json.loads((copy / "dataset.json").read_text())
    card["items"] += 1
    (copy / "dataset.json").write_text(json.dumps(card))
    result = kgrec("recommend", str(copy), "--user", a_user(movie_run), cwd=tmp_path)
    assert result.returncode == 2
    assert "different dataset" in result.stderr and "items" in result.stderr


def test_movie_explanations_name_directors_and_actors(movie_run: Path) -> None:
    from kgrec.recommender import Recommender

    rec = Recommender.load(movie_run)
    people = []
    for user in range(0, rec.dataset.n_users, 5):
        for e in rec.recommend(user, 20, explain=True):
            if e.rule is not None and rec.phrases.rule_name(rec.graph, e.rule.pattern) in ("same director", "same actor"):
                person = rec.graph.node_name(e.path.nodes[2])
                assert person in e.text and not person.startswith("entity ")
                assert rec.dataset.items.name(e.item) in e.text
                people.append(person)
    assert people, "no same-director / same-actor explanation among the sampled users' top-20"
