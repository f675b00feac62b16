"""The FastAPI app of ``kgrec serve``: one run directory, loaded once and read-only, answering JSON.

Everything a request reads is loaded (and warmed) when the app is created, so no request touches the disk and
no input names a file. The endpoints that read the model are ``async``: they compute on the event loop, one
request at a time per process and without a hop to a thread pool (the work is CPU-bound either way);
``kgrec serve --workers N`` runs N processes.
Endpoints, the ``remove`` syntax and the error bodies: ``docs/serve.md``; the explorer page at ``/``:
:mod:`kgrec.serve.explorer`.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run time, and the
bound on ``k`` is a local value (the run's number of items).
"""

import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.routing import Match
from starlette.types import Scope

from kgrec.atomic import json_bytes
from kgrec.errors import ConfigError, KgrecError, UnknownIdError, UnknownItemError
from kgrec.explain.render import path_row, recommendations_document, rule_row
from kgrec.recommender import Recommender, freeze_loaded_objects
from kgrec.serve.answers import StoredAnswers
from kgrec.serve.counterfactual import Counterfactual
from kgrec.serve.explorer import add_explorer
from kgrec.serve.guard import Guard
from kgrec.serve.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from kgrec.serve.params import MAX_K, MAX_PATH_LEN, MAX_REMOVALS, MAX_TOP, MIN_PATH_LEN, ParameterError, parse_removal
from kgrec.version import __version__

#: How ``kgrec serve --workers N`` hands the run directory, the token and the answers file to its worker
#: processes where it cannot fork them.
RUN_ENV, TOKEN_ENV, ANSWERS_ENV = "KGREC_SERVE_RUN", "KGREC_SERVE_TOKEN", "KGREC_SERVE_ANSWERS"


class JSONBody(Response):
    """A JSON answer encoded by :func:`kgrec.atomic.json_bytes` (orjson: the standard encoder takes longer
    than the explanation it encodes)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


class ErrorBody(BaseModel):
    """Every error answer: ``detail`` says what was wrong and what was expected."""

    detail: str
    parameter: str | None = None
    kind: str | None = None
    query: str | None = None
    matches: list[str] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "unknown user or item: `query` and the closest `matches`"},
    422: {"model": ErrorBody, "description": "a parameter outside what the endpoint accepts, named in `parameter`"},
}


class Service:
    """A run loaded for serving: the recommender, its counterfactual scorer and, with ``answers``, the stored
    lists of an all-users export (:mod:`kgrec.serve.answers`)."""

    def __init__(self, run_dir: str | Path, answers: str | Path | None = None) -> None:
        self.run_dir = str(run_dir)
        self.rec = Recommender.load(run_dir)
        self.counterfactual = Counterfactual(self.rec)
        self.answers = None if answers is None else StoredAnswers.load(answers, self.rec.dataset.n_users, self.document, self.run_dir)
        self._warm()

    def document(self, user: int, k: int, explain: bool) -> dict[str, Any]:
        """The recommendations document of ``user`` (a user id), computed now."""
        explanations = self.rec.recommend(user, k, explain=explain)
        return recommendations_document(user, explanations, self.rec.graph, self.rec.phrases, {"run": self.run_dir})

    def _warm(self) -> None:
        """Load and build now what the first request would: rules, phrases, explainer, cached embeddings."""
        users = self.rec.users_with_history()
        _ = self.rec.rules  # read rules.json (or mine and save it) before any request
        if len(users):
            user = int(users[0])
            top = self.rec.recommend(user, 1, explain=True)
            if top and self.counterfactual.deletion is not None:
                self.counterfactual.answer(user, top[0].item, [])
        freeze_loaded_objects()


def create_app(run_dir: str | Path, token: str | None = None, answers: str | Path | None = None) -> FastAPI:
    """The service of the run in ``run_dir``; with ``token`` every request but ``/health`` must carry
    ``Authorization: Bearer <token>``; with ``answers`` (an all-users export of the run) the requests it holds
    are answered from it. A missing, damaged or foreign run, or answers not of this run, raise here."""
    return build_app(Service(run_dir, answers), token)


def app_from_environment() -> FastAPI:
    """:func:`create_app` of the run, token and answers in :data:`RUN_ENV` / :data:`TOKEN_ENV` /
    :data:`ANSWERS_ENV` (a worker process of ``kgrec serve --workers N`` builds its app this way)."""
    run_dir = os.environ.get(RUN_ENV)
    if not run_dir:
        raise ConfigError(f"{RUN_ENV} is not set: start the service with `kgrec serve RUN`")
    return create_app(run_dir, os.environ.get(TOKEN_ENV) or None, os.environ.get(ANSWERS_ENV) or None)


def build_app(service: Service, token: str | None = None) -> FastAPI:
    """The FastAPI app answering from ``service``."""
    rec = service.rec
    app = FastAPI(title="kgrec", version=__version__,
                  description="Explained recommendations of one kgrec run: lists, paths, counterfactuals, rules.")
    metrics = Metrics()
    max_k = max(1, min(MAX_K, rec.dataset.n_items))

    @app.get("/users/{user}/recommendations", responses=ERRORS)
    async def recommendations(
        user: str,
        k: Annotated[int, Query(ge=1, le=max_k, description="list length")] = 10,
        explain: Annotated[bool, Query(description="add paths, rule, sentence and measures")] = True,
    ) -> JSONBody:
        """The user's top-k (raw id or name) with scores, sentences, told paths, rules and measures: the
        document of `kgrec recommend RUN --user U -k K --explain --format json`."""
        uid = rec.user_id(user)
        stored = None if service.answers is None else service.answers.get(uid, k, explain)
        if stored is not None:
            return Response(stored, media_type=JSONBody.media_type)
        return JSONBody(service.document(uid, k, explain))

    @app.get("/users/{user}/items/{item}/paths", responses=ERRORS)
    async def paths(
        user: str,
        item: str,
        max_len: Annotated[int, Query(ge=MIN_PATH_LEN, le=MAX_PATH_LEN, description="longest path in edges")] = 3,
        top: Annotated[int, Query(ge=1, le=MAX_TOP, description="paths shown, heaviest first")] = 50,
    ) -> JSONBody:
        """Every path from the user to the item with its weight, heaviest first: the rows of
        `kgrec paths RUN --user U --item I --max-len L --format json`."""
        rows = [path_row(p, rec.graph, rec.phrases) for p in rec.paths(user, item, max_len)[:top]]
        return JSONBody(rows)

    @app.get("/users/{user}/items/{item}/counterfactual", responses=ERRORS)
    async def counterfactual(
        user: str,
        item: str,
        remove: Annotated[list[str] | None, Query(max_length=MAX_REMOVALS, description=(
            "what to leave out of the propagation, repeatable: history:<item>, relation:<name>, path:<k>, "
            "told, edge:<node>-<node>"))] = None,
    ) -> JSONBody:
        """The item's score and rank for the user before and after leaving the `remove` entries out of the
        model's propagation, and how many edges that is."""
        removals = [parse_removal(value) for value in remove or []]
        answer = service.counterfactual.answer(rec.user_id(user), rec.item_id(item), removals)
        return JSONBody(answer)

    @app.get("/rules", responses=ERRORS)
    async def rules(
        top: Annotated[int, Query(ge=1, le=MAX_TOP, description="rules shown, best first")] = 30,
        constants: Annotated[bool, Query(description="the rules with a constant (one named node between the items)")] = False,
    ) -> JSONBody:
        """The rules mined from the run's training interactions: the rows of `kgrec rules RUN [--constants]
        --format json`."""
        mined = rec.rules.constants if constants else rec.rules.rules
        return JSONBody([rule_row(r, rec.graph, rec.phrases) for r in mined[:top]])

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """The service is up: the run, its dataset and model (open even when the service has a token)."""
        return {"status": "ok", "run": service.run_dir, "dataset": rec.dataset.name, "model": rec.config.model.model,
                "users": rec.dataset.n_users, "items": rec.dataset.n_items, "kgrec_version": __version__}

    @app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus() -> Response:
        """Request counts and latency histograms per endpoint, Prometheus text format (this worker's)."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    add_explorer(app)
    _answer_errors(app)
    app.add_middleware(Guard, token=token)
    app.add_middleware(MetricsMiddleware, metrics=metrics, endpoint=lambda scope: _endpoint(app, scope))
    return app


def _endpoint(app: FastAPI, scope: Scope) -> str:
    """The template of the route the request's URL matches, or ``unmatched``."""
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match != Match.NONE:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


def _answer_errors(app: FastAPI) -> None:
    """Bad input answers 404 (unknown user or item) or 422 (a parameter), each with one-line ``detail``."""

    @app.exception_handler(UnknownIdError)
    def unknown(request: Request, error: UnknownIdError) -> JSONResponse:
        kind = "item" if isinstance(error, UnknownItemError) else "user"
        return JSONResponse({"detail": str(error), "kind": kind, "query": error.query, "matches": list(error.matches)},
                            status_code=404)

    @app.exception_handler(ParameterError)
    def bad_parameter(request: Request, error: ParameterError) -> JSONResponse:
        return JSONResponse({"detail": str(error), "parameter": error.parameter}, status_code=422)

    @app.exception_handler(KgrecError)
    def refused(request: Request, error: KgrecError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        detail = "; ".join(f"{_where(p.get('loc', ()))}: {p.get('msg', 'invalid value')}, got {_shown(p.get('input'))}"
                           for p in problems)
        names = [str(p["loc"][-1]) for p in problems if p.get("loc")]
        return JSONResponse({"detail": detail, "parameter": names[0] if names else None}, status_code=422)


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    """``query parameter k`` from pydantic's location ``("query", "k")``."""
    parts = [str(part) for part in loc]
    if len(parts) >= 2 and parts[0] in ("query", "path", "header"):
        return f"{parts[0]} parameter {'.'.join(parts[1:])}"
    return ".".join(parts) or "request"


def _shown(value: Any) -> str:
    """A rejected value as the error shows it, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
