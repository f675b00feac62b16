"""Fixtures of the HTTP service's tests: two tiny runs of moviekg-omdb (kgrec and the graph-less bprmf, trained
side by side once per session), the real ``kgrec serve`` as a subprocess on a free loopback port, and the
app in-process for the tests that need many requests or the run's Python objects."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kgrec.net import free_port
from kgrec.recommender import Recommender
from kgrec.run.export import export_all
from kgrec.serve.app import create_app
from tests.cli_runner import FAST
from tests.conftest import require_shared

MODELS = ("kgrec", "bprmf")
TOKEN = "test-token-0123456789"


@dataclass
class Server:
    """A running ``kgrec serve`` subprocess: its base ``url`` and the file its output goes to."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        """GET ``path`` on a new connection (so that with several workers any of them may answer)."""
        headers = {"Connection": "close", **({"Authorization": f"Bearer {token}"} if token else {})}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_server(run: Path, *options: str, timeout: float = 90) -> Server:
    """``kgrec serve RUN --port P OPTIONS`` on a free port, once its ``/health`` answers."""
    port = free_port()
    log = run.parent / f"serve-{port}.log"
    with log.open("wb") as out:  # a file, not a pipe: the access log must never fill a pipe and block the server
        process = subprocess.Popen([sys.executable, "-m", "kgrec", "serve", str(run), "--port", str(port), *options],
                                   stdout=out, stderr=subprocess.STDOUT, cwd=run.parent)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"kgrec serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if server.get("/health").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"kgrec serve did not answer /health within {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run directories of a kgrec and a bprmf model on moviekg-omdb (3 epochs), trained at the same time."""
    require_shared("moviekg-omdb")
    root = tmp_path_factory.mktemp("serve-runs")
    jobs = {
        model: subprocess.Popen([sys.executable, "-m", "kgrec", "train", "moviekg-omdb", "--model", model, *FAST,
                                 "--out", str(root / model)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root)
        for model in MODELS
    }
    for model, job in jobs.items():
        out, err = job.communicate(timeout=600)
        assert job.returncode == 0, f"training {model} failed: {err}"
        assert out.strip().splitlines()[-1] == str(root / model)
    return {model: root / model for model in MODELS}


@pytest.fixture(scope="session")
def run(runs: dict[str, Path]) -> Path:
    return runs["kgrec"]


@pytest.fixture(scope="session")
def server(run: Path) -> Iterator[Server]:
    """The real service of the kgrec run: one worker, no token."""
    server = start_server(run)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def guarded(run: Path) -> Iterator[Server]:
    """The real service of the kgrec run with a token (:data:`TOKEN`) and two worker processes."""
    server = start_server(run, "--workers", "2", "--token", TOKEN)
    yield server
    server.stop()


def a_user(run: Path) -> str:
    """The raw id of the first user of the run's training split."""
    return (run / "split" / "train.tsv").read_text().split("\t", 1)[0]


@pytest.fixture(scope="session")
def rec(run: Path) -> Recommender:
    """The run loaded in this process, to check the service's answers against the library's own numbers."""
    return Recommender.load(run)


@pytest.fixture(scope="session")
def exported(run: Path, rec: Recommender, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every user's explained top-5 of the kgrec run, exported as ``kgrec recommend --all-users`` does."""
    out = tmp_path_factory.mktemp("answers") / "top5.jsonl"
    export_all(rec, out, k=5, explain=True, meta_run=str(run), progress=False)
    return out


@pytest.fixture(scope="session")
def app(run: Path) -> FastAPI:
    """The service's app of the kgrec run, in this process (no token)."""
    return create_app(run)


def call(app: FastAPI, path: str, **params: Any) -> httpx.Response:
    """GET ``path`` from an app in this process, through its whole ASGI stack (middleware included)."""

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kgrec.test") as client:
            return await client.get(path, params=params)

    return asyncio.run(get())
