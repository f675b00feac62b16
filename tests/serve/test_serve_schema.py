"""Property-based tests over the service's OpenAPI schema (schemathesis, the app in-process): no request the
schema describes, nor one that breaks it, gets a 5xx; and no request reads a file."""

from __future__ import annotations

import builtins
import io
import os
import pathlib
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from tests.serve.conftest import a_user, call

#: Examples per operation, generation mode and choice of ids: enough to reach every parameter's bounds.
EXAMPLES = 40
#: Every operation: those with parameters also get requests that break the schema (negative), and those of a
#: user also requests for a real user and item (so that generated query parameters reach the recommender).
SCOPED = ["/users/{user}/recommendations", "/users/{user}/items/{item}/paths", "/users/{user}/items/{item}/counterfactual"]
CASES = [
    *[(path, mode, known) for path in SCOPED for mode in GenerationMode for known in (False, True)],
    *[("/rules", mode, False) for mode in GenerationMode],
    ("/health", GenerationMode.POSITIVE, False),
    ("/metrics", GenerationMode.POSITIVE, False),
]


@pytest.fixture(scope="module")
def api_schema(app: FastAPI) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("path, mode, known", CASES, ids=[f"{p}-{m}-{'known' if k else 'any'}" for p, m, k in CASES])
def test_no_request_gets_a_server_error(api_schema, run: Path, path: str, mode: GenerationMode, known: bool) -> None:
    """Requests drawn from the schema (positive) or breaking it (negative), with generated user and item ids or
    with a real user and item; every answer is one the endpoints document, never a 5xx."""
    ids = {key: value for key, value in (("user", a_user(run)), ("item", "112")) if "{" + key + "}" in path}
    strategy = api_schema[path]["GET"].as_strategy(generation_mode=mode, path_parameters=ids if known else None)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        response = case.call()
        assert response.status_code in (200, 404, 414, 422), (
            f"GET {case.formatted_path} {case.query}: {response.status_code} {response.text[:500]}")

    check()


def test_no_request_reads_a_file(app: FastAPI, run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every way of opening a file disabled, each endpoint still answers: all it reads was loaded at start."""
    user = a_user(run)
    opened: list[str] = []

    def refuse(*args, **kwargs):
        opened.append(str(args[0]) if args else "?")
        raise PermissionError("a request tried to open a file")

    for target, name in ((builtins, "open"), (io, "open"), (os, "open"), (pathlib.Path, "open")):
        monkeypatch.setattr(target, name, refuse)
    answers = [
        call(app, f"/users/{user}/recommendations", k=5),
        call(app, f"/users/{user}/items/112/paths", max_len=4),
        call(app, f"/users/{user}/items/112/counterfactual", remove=["told", "relation:has_genre", "path:0"]),
        call(app, "/rules"),
        call(app, "/health"),
        call(app, "/metrics"),
        call(app, "/openapi.json"),
    ]
    monkeypatch.undo()
    assert [a.status_code for a in answers] == [200] * len(answers) and opened == []
