"""``kgrec serve --workers N``: N processes answering on one socket, forked from the process that loaded the run.

The run is loaded, checked and warmed once, before anything listens; every worker is a fork of that process,
so the workers share its memory (copy-on-write: :func:`kgrec.recommender.freeze_loaded_objects` keeps the
garbage collector off the shared pages) and the first answer comes as soon as with one worker. Each worker
computes on one torch thread (N workers for N cores). The parent supervises: a worker that dies is replaced,
SIGINT or SIGTERM stops every worker and then the parent. Where ``os.fork`` does not exist (Windows)
uvicorn's own multiprocess mode runs instead, each worker loading the run itself.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

import torch
import uvicorn

from kgrec.errors import KgrecError

log = logging.getLogger("uvicorn.error")
#: A worker that exits sooner than this after its start is not restarted: something is wrong with every worker.
MIN_LIFETIME_S = 5.0


def can_fork() -> bool:
    """Whether this platform forks processes (``os.fork``: POSIX)."""
    return hasattr(os, "fork")


def one_thread_per_worker() -> None:
    """Compute on one torch thread, before anything is loaded: a parent that never starts a thread pool forks
    safely, and N one-thread workers fill N cores."""
    torch.set_num_threads(1)


def serve_forked(app: Any, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Serve ``app`` (already loaded) from ``workers`` forked processes on one listening socket, until SIGINT
    or SIGTERM; :class:`KgrecError` when a worker dies within :data:`MIN_LIFETIME_S` of its start."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level)
    sock = config.bind_socket()
    started: dict[int, float] = {}  # worker pid -> start time
    stopping = False

    def start_worker() -> None:
        pid = os.fork()
        if pid == 0:  # the worker: uvicorn handles SIGINT / SIGTERM (graceful shutdown), then exits by them
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                uvicorn.Server(config).run(sockets=[sock])
            finally:
                os._exit(0)
        started[pid] = time.monotonic()

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(started):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    failure = None
    try:
        for _ in range(workers):
            start_worker()
        while started:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            lifetime = time.monotonic() - started.pop(pid, time.monotonic())
            if stopping:
                continue
            if lifetime < MIN_LIFETIME_S:
                failure = f"a worker exited {lifetime:.1f} s after its start (status {status}); stopping the service"
                stop(signal.SIGTERM, None)
                continue
            log.warning("worker %d exited (status %d); starting another", pid, status)
            start_worker()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if failure is not None:
        raise KgrecError(failure)
