"""``kgrec serve RUN --answers FILE``: the lists of an all-users export answered as stored, the others computed,
and a file that is not this run's refused before the service listens."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from kgrec.errors import ConfigError
from kgrec.net import free_port
from kgrec.recommender import Recommender
from kgrec.run.export import export_all
from kgrec.serve.app import Service, build_app
from tests.cli_runner import kgrec
from tests.serve.conftest import a_user, call, start_server
from tests.serve.test_serve_security import refused


def written(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_stored_lists_are_answered_without_computing_and_others_are_computed(run: Path, exported: Path) -> None:
    service = Service(run, exported)
    assert (service.answers.k, service.answers.explain) == (5, True)
    live = build_app(Service(run))
    user = a_user(run)
    computed = service.rec.recommend

    def refuse(*args, **kwargs):
        raise AssertionError("a stored list was computed")

    service.rec.recommend = refuse  # the stored request must not reach the model
    stored = call(build_app(service), f"/users/{user}/recommendations", k=5, explain="true")
    assert stored.status_code == 200 and stored.headers["content-type"] == "application/json"
    assert stored.content == service.answers.lines[service.rec.user_id(user)]
    assert orjson.loads(stored.content) == orjson.loads(call(live, f"/users/{user}/recommendations", k=5, explain="true").content)

    service.rec.recommend = computed  # k = 3 and explain = false are not in the file: computed as without it
    app = build_app(service)
    for params in ({"k": 3, "explain": "true"}, {"k": 5, "explain": "false"}):
        answer = call(app, f"/users/{user}/recommendations", **params)
        assert answer.json() == call(live, f"/users/{user}/recommendations", **params).json()
        assert len(answer.json()["recommendations"]) == params["k"]


def test_the_run_is_named_as_the_service_names_it(run: Path, exported: Path, tmp_path: Path) -> None:
    lines = exported.read_bytes().splitlines()
    elsewhere = written(tmp_path / "moved.jsonl", [orjson.dumps({**orjson.loads(line), "meta": {"run": "/old/place"}}) for line in lines])
    service = Service(run, elsewhere)
    assert {orjson.loads(line)["meta"]["run"] for line in service.answers.lines} == {str(run)}


def test_an_export_without_explanations_answers_explain_false(run: Path, rec: Recommender, tmp_path: Path) -> None:
    out = tmp_path / "plain.jsonl"
    export_all(rec, out, k=4, explain=False, meta_run=str(run), progress=False)
    answers = Service(run, out).answers
    assert (answers.k, answers.explain) == (4, False)
    assert answers.get(0, 4, False) == answers.lines[0] and answers.get(0, 4, True) is None and answers.get(0, 5, False) is None


def test_answers_that_are_not_this_runs_are_refused(run: Path, exported: Path, tmp_path: Path) -> None:
    lines = exported.read_bytes().splitlines()
    users = len(lines)
    short = written(tmp_path / "short.jsonl", lines[:-1])
    with pytest.raises(ConfigError, match=rf"^--answers {short}: {users - 1} lines, but the run has {users} users; expected"):
        Service(run, short)
    other = orjson.loads(lines[0])
    other["recommendations"][0]["score"] += 0.5  # a retrained model's list
    changed = written(tmp_path / "changed.jsonl", [orjson.dumps(other), *lines[1:]])
    with pytest.raises(ConfigError, match=rf"^--answers {changed}: the stored lists of users \[0, {users // 2}, {users - 1}\] "
                                          r"are not the ones this run computes \(k=5, with or without --explain\)"):
        Service(run, changed)
    broken = written(tmp_path / "broken.jsonl", [*lines[:-1], b"{not json"])
    with pytest.raises(ConfigError, match=rf"^--answers {broken}: line {users} is not JSON"):
        Service(run, broken)
    middle = users // 2
    foreign = written(tmp_path / "foreign.jsonl", [*lines[:middle], b"[1]", *lines[middle + 1:]])
    with pytest.raises(ConfigError, match=rf"^--answers {foreign}: line {middle + 1} is not a recommendations document$"):
        Service(run, foreign)


def test_the_command_refuses_answers_of_another_shape_with_one_line(run: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    line = refused(kgrec("serve", str(run), "--port", str(free_port()), "--answers", str(missing), cwd=tmp_path))
    assert line == f"kgrec: error: --answers {missing}: No such file or directory"


def test_the_real_service_answers_from_the_file(run: Path, exported: Path) -> None:
    server = start_server(run, "--answers", str(exported), "--workers", "2")
    try:
        user = a_user(run)
        answer = server.get(f"/users/{user}/recommendations", k=5, explain="true")
        assert answer.status_code == 200
        lines = exported.read_bytes().splitlines()
        assert answer.content in lines
        assert len(server.get(f"/users/{user}/recommendations", k=2).json()["recommendations"]) == 2
    finally:
        server.stop()
