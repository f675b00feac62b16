"""Benchmark of ``kgrec serve``: time to the first answer, then latency and throughput under concurrent clients.

Run: ``python pipelines/bench_serve.py RUN [--workers 2] [--requests 400] [--concurrency 1,8,32]
[--answers FILE] [--out bench_serve.json]``, on a run directory written by ``kgrec train``. It starts ``kgrec
serve RUN --port P --workers W [--answers FILE]`` on a free loopback port (``OMP_NUM_THREADS=1`` in every worker) and measures the seconds from the
start to the first ``/health`` answer, to the first explained top-k answer and to every worker's startup. Then,
for each concurrency level, ``--requests`` requests ``GET /users/{user}/recommendations?k=10&explain=true``
(users drawn at random, seed 0, from the run's training split) are sent by that many clients at once over
keep-alive connections (aiohttp on asyncio, in this process), and each level reports its p50 / p99 latency in
ms (from sending a request to its whole body), throughput (requests/s), errors (answers other than 200
with k recommendations, failed connections) and the client's own CPU time per request (it shares the cores).
The server is always stopped, also on an error or Ctrl-C. ``--profile`` then times each stage of the same
requests in this process (:func:`profile`). It prints markdown tables and writes every measure to ``--out``
(JSON). Targets: p99 ≤ 50 ms at ≥ 200 requests/s, first answer ≤ 5 s after the start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import httpx
import numpy as np
import orjson

from kgrec.atomic import atomic_write_text
from kgrec.net import free_port

#: Requests sent (and not measured) before the first level, so that every worker has answered once.
WARMUP = 20
#: What uvicorn logs once per worker when its app is loaded and it accepts connections.
STARTED = "Application startup complete"


@dataclass
class Server:
    """A running ``kgrec serve``: its process (leader of its own process group), base URL, log and start time."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    started: float

    def since_start(self) -> float:
        """Seconds since the process was started."""
        return time.perf_counter() - self.started

    def check_alive(self) -> None:
        """RuntimeError with the end of the server's log when the process has exited."""
        if self.process.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"kgrec serve exited with {self.process.returncode}:\n{tail}")


@contextmanager
def serving(run: Path, workers: int, log: Path, answers: Path | None = None) -> Iterator[Server]:
    """``kgrec serve RUN --port P --workers W [--answers FILE]`` for the duration of the block, with its output
    in ``log`` (a file: the access log must never fill a pipe), one torch thread per worker; its whole process group
    is stopped when the block ends, however it ends."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "kgrec", "serve", str(run), "--port", str(port), "--workers", str(workers),
               *(["--answers", str(answers)] if answers is not None else [])]
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        yield Server(process, f"http://127.0.0.1:{port}", log, started)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (uvicorn stops its workers), SIGKILL after 20 s."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def commit() -> str | None:
    """The short HEAD commit of the repository, with ``+`` when kgrec/ differs from it; None outside git."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "kgrec"], cwd=root, check=False).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+" if dirty else "")


def run_users(run: Path) -> list[str]:
    """The raw ids of the users of the run's training split, in order of first appearance."""
    lines = (run / "split" / "train.tsv").read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(line.split("\t", 1)[0] for line in lines if line))


def recommendations_path(user: str, k: int) -> str:
    """The URL path and query of the user's explained top-k."""
    return f"/users/{quote(user, safe='')}/recommendations?k={k}&explain=true"


def first_answer(server: Server, user: str, k: int, timeout: float) -> dict[str, float]:
    """Seconds from the start to the first ``/health`` answer and to the first explained top-k (polled every
    50 ms on new connections)."""
    times: dict[str, float] = {}
    deadline = time.perf_counter() + timeout
    for name, path in (("health_s", "/health"), ("first_answer_s", recommendations_path(user, k))):
        while name not in times:
            server.check_alive()
            if time.perf_counter() > deadline:
                raise RuntimeError(f"kgrec serve did not answer {path} within {timeout} s")
            try:
                if httpx.get(server.url + path, timeout=timeout).status_code == 200:
                    times[name] = server.since_start()
                    continue
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return times


def all_workers_ready(server: Server, workers: int, timeout: float) -> float:
    """Seconds from the start until every worker has logged its startup (workers still loading take no
    connections, so the levels wait for them)."""
    deadline = time.perf_counter() + timeout
    while server.log.read_text(errors="replace").count(STARTED) < workers:
        server.check_alive()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"not all {workers} workers of kgrec serve started within {timeout} s")
        time.sleep(0.05)
    return server.since_start()


#: One client's GET: a path to the status and body of its answer.
Get = Callable[[str], Awaitable[tuple[int, bytes]]]


@asynccontextmanager
async def socket_client(url: str) -> AsyncIterator[Get]:
    """A client on one keep-alive connection to ``url`` (aiohttp: a fraction of httpx's CPU per request, and
    the client shares the cores with the server)."""
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def get(path: str) -> tuple[int, bytes]:
            async with session.get(path) as response:
                return response.status, await response.read()

        yield get


@asynccontextmanager
async def app_client(app: object) -> AsyncIterator[Get]:
    """A client of an ASGI app in this process, without a socket (httpx's ASGI transport)."""
    async with httpx.AsyncClient(base_url="http://kgrec.bench", transport=httpx.ASGITransport(app=app)) as client:
        async def get(path: str) -> tuple[int, bytes]:
            response = await client.get(path)
            return response.status_code, response.content

        yield get


async def _send(paths: Sequence[str], concurrency: int, k: int,
                open_client: Callable[[], AbstractAsyncContextManager[Get]]) -> tuple[list[float], list[str], float]:
    """Latencies (ms) of the answered requests, the errors and the wall seconds of sending ``paths`` from
    ``concurrency`` clients (``open_client()``) at once, each taking the next path when its previous answer
    is in.

    Each client is one keep-alive connection, opened (by a ``/health`` request) one after another before the
    clock starts: connections opened in a burst may all be accepted by the same uvicorn worker."""
    latencies: list[float] = []
    errors: list[str] = []
    pending = iter(paths)  # shared: each path is sent once, by whichever client is free
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(open_client()) for _ in range(concurrency)]
        for get in clients:
            status, body = await get("/health")
            if status != 200:
                raise RuntimeError(f"/health answered {status}: {body[:200]!r}")

        async def one_client(get: Get) -> None:
            for path in pending:
                started = time.perf_counter()
                try:
                    status, body = await get(path)
                except (aiohttp.ClientError, httpx.HTTPError, asyncio.TimeoutError) as error:
                    errors.append(f"{path}: {type(error).__name__}: {error}")
                    continue
                latencies.append(1000 * (time.perf_counter() - started))
                if status != 200 or len(orjson.loads(body).get("recommendations", [])) != k:
                    errors.append(f"{path}: {status} {body[:200].decode(errors='replace')}")

        started = time.perf_counter()
        await asyncio.gather(*(one_client(get) for get in clients))
        return latencies, errors, time.perf_counter() - started


def drawn_users(users: Sequence[str], requests: int, seed: int = 0) -> list[str]:
    """``requests`` users drawn at random with replacement (the same draw for the same seed)."""
    return [users[i] for i in np.random.default_rng(seed).choice(len(users), size=requests)]


def summary(times: Sequence[float]) -> dict[str, float]:
    """p50, p99, mean and max of milliseconds (NaN for none)."""
    values = np.asarray(times if len(times) else [np.nan], dtype=float)
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p99_ms": round(float(np.percentile(values, 99)), 2),
            "mean_ms": round(float(values.mean()), 2), "max_ms": round(float(values.max()), 2)}


def measure_level(url: str, users: Sequence[str], concurrency: int, requests: int, k: int = 10,
                  seed: int = 0) -> dict[str, object]:
    """One concurrency level: the explained top-k of ``requests`` users drawn from ``users`` (the same draw at
    every level), with its latency percentiles, throughput and errors."""
    paths = [recommendations_path(user, k) for user in drawn_users(users, requests, seed)]
    cpu = time.process_time()
    latencies, errors, seconds = asyncio.run(_send(paths, concurrency, k, lambda: socket_client(url)))
    client_cpu = 1000 * (time.process_time() - cpu) / requests  # the client shares the machine's cores
    return {"concurrency": concurrency, "requests": requests, **summary(latencies),
            "throughput_rps": round(requests / seconds, 1), "errors": len(errors), "first_errors": errors[:3],
            "client_cpu_ms_per_request": round(client_cpu, 2)}


def profile(run: Path, users: Sequence[str], requests: int, k: int = 10, seed: int = 0) -> dict[str, object]:
    """Where a request's time goes, in this process with one torch thread, for the users of the levels: the
    import and load (with warm-up) of the service, then per request the explained top-k (``recommend``), its
    JSON document, the JSON body (its encoding) and the whole FastAPI app (middleware included)
    without a socket. The HTTP levels' latency minus the app's is uvicorn's, the socket's and the client's."""
    started = time.perf_counter()
    import torch
    from kgrec.explain.render import recommendations_document
    from kgrec.serve.app import JSONBody, Service, build_app

    imported = time.perf_counter()
    torch.set_num_threads(1)
    service = Service(run)
    loaded = time.perf_counter()
    rec, drawn = service.rec, drawn_users(users, requests, seed)
    stages: dict[str, list[float]] = {"recommend": [], "document": [], "json_body": []}
    for user in drawn:
        t0 = time.perf_counter()
        uid = rec.user_id(user)
        explanations = rec.recommend(uid, k, explain=True)
        t1 = time.perf_counter()
        document = recommendations_document(uid, explanations, rec.graph, rec.phrases, {"run": service.run_dir})
        t2 = time.perf_counter()
        JSONBody(document)
        for name, seconds in zip(stages, (t1 - t0, t2 - t1, time.perf_counter() - t2)):
            stages[name].append(1000 * seconds)
    app = build_app(service)
    paths = [recommendations_path(user, k) for user in drawn]
    latencies, errors, _ = asyncio.run(_send(paths, 1, k, lambda: app_client(app)))
    return {"import_s": round(imported - started, 2), "load_s": round(loaded - imported, 2),
            **{name: summary(times) for name, times in stages.items()}, "app": summary(latencies),
            "app_errors": len(errors)}


def bench(run: Path, workers: int, requests: int, concurrency: Sequence[int], k: int = 10,
          timeout: float = 300, answers: Path | None = None) -> dict[str, object]:
    """Start ``kgrec serve`` on the run (answering from ``answers``, an all-users export, if given), time its
    startup, measure every concurrency level, stop it."""
    users = run_users(run)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch, \
            serving(run, workers, Path(scratch) / "serve.log", answers) as server:
        startup = first_answer(server, users[0], k, timeout)
        startup["all_workers_s"] = all_workers_ready(server, workers, timeout)
        health = httpx.get(server.url + "/health", timeout=timeout).json()
        measure_level(server.url, users, max(concurrency), min(WARMUP, requests), k, seed=1)
        levels = [measure_level(server.url, users, level, requests, k) for level in concurrency]
    return {"run": str(run), "commit": commit(), "dataset": health["dataset"], "model": health["model"],
            "workers": workers, "k": k, "answers": None if answers is None else str(answers),
            "users": len(users), "load_avg_1min_before": round(load, 2),
            **{name: round(value, 2) for name, value in startup.items()}, "levels": levels}


def markdown(results: Sequence[dict[str, object]]) -> str:
    """One row per (workers, concurrency level); the startup times of each server under the table."""
    lines = ["| workers | answers | clients | requests | p50 ms | p99 ms | requests/s | errors | client CPU ms/request |",
             "|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for result in results:
        for level in result["levels"]:  # type: ignore[attr-defined]
            answered = "computed" if result.get("answers") is None else "stored"
            lines.append(f"| {result['workers']} | {answered} | {level['concurrency']} | {level['requests']} | {level['p50_ms']} | "
                         f"{level['p99_ms']} | {level['throughput_rps']} | {level['errors']} | "
                         f"{level['client_cpu_ms_per_request']} |")
        notes.append(f"{result['workers']} worker(s): /health after {result['health_s']} s, first top-{result['k']} "
                     f"after {result['first_answer_s']} s, every worker started after {result['all_workers_s']} s "
                     f"(1-min load average before: {result['load_avg_1min_before']}; commit {result['commit']})")
    return "\n".join(lines + [""] + notes)


def profile_markdown(result: dict[str, object]) -> str:
    """The stages of :func:`profile`, one row each, then the HTTP levels' single client for comparison."""
    stages = result["profile"]
    lines = ["| stage (in-process unless said) | p50 ms | p99 ms | mean ms |", "|---|---|---|---|"]
    for name in ("recommend", "document", "json_body", "app"):
        times = stages[name]  # type: ignore[index]
        lines.append(f"| {name} | {times['p50_ms']} | {times['p99_ms']} | {times['mean_ms']} |")
    for level in result["levels"]:  # type: ignore[attr-defined]
        if level["concurrency"] == 1:
            lines.append(f"| HTTP, 1 client, {result['workers']} worker(s) | {level['p50_ms']} | {level['p99_ms']} | "
                         f"{level['mean_ms']} |")
    return "\n".join(lines + ["", f"import {stages['import_s']} s, load and warm-up {stages['load_s']} s"])  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, metavar="RUN")
    parser.add_argument("--workers", type=int, default=2, help="kgrec serve --workers (default 2)")
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level (default 400)")
    parser.add_argument("--concurrency", default="1,8,32", help="concurrent clients per level, comma-separated")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--answers", type=Path, metavar="FILE", help="kgrec serve --answers FILE: an export of the run's "
                        "top-k (kgrec recommend RUN --all-users -k K --explain --out FILE.jsonl)")
    parser.add_argument("--profile", action="store_true", help="then time each stage of a request in this process")
    parser.add_argument("--out", type=Path, default=Path("bench_serve.json"))
    args = parser.parse_args()
    levels = [int(value) for value in args.concurrency.split(",")]
    result = bench(args.run, args.workers, args.requests, levels, args.k, answers=args.answers)
    print(markdown([result]))
    if args.profile:
        result["profile"] = profile(args.run, run_users(args.run), args.requests, args.k)
        print("\n" + profile_markdown(result))
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
