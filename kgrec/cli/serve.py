"""``kgrec serve RUN``: the run's explained recommendations over HTTP (FastAPI on uvicorn, ``docs/serve.md``)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import socket
from importlib.util import find_spec
from pathlib import Path

from kgrec.cli.common import check_positive, checked_run
from kgrec.errors import ConfigError

#: What a token may be: 8 or more printable ASCII characters without spaces (it travels in an HTTP header).
TOKEN = re.compile(r"[!-~]{8,}")
REQUIRED = ("fastapi", "uvicorn", "prometheus_client")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command."""
    serve = commands.add_parser("serve", help="serve a run's explained recommendations over HTTP (JSON; OpenAPI at /docs, "
                                  "explorer page at /)")
    serve.add_argument("run", type=Path, metavar="RUN")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any address "
                       "but loopback needs --token)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes, each with the run loaded (default 1)")
    serve.add_argument("--token", help="require 'Authorization: Bearer TOKEN' on every request but /health")
    serve.add_argument("--answers", type=Path, metavar="FILE",
                       help="answer the lists it holds from an export of this run (kgrec recommend RUN --all-users "
                       "-k K [--explain] --out FILE.jsonl); other requests are computed")
    serve.set_defaults(handler=run_serve)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any address
        return False


def check_options(args: argparse.Namespace) -> None:
    """ConfigError for a bad port, worker count or token, or a non-loopback host without a token."""
    check_positive("--workers", args.workers)
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, got {args.port}")
    if args.token is not None and not TOKEN.fullmatch(args.token):
        raise ConfigError("--token must be at least 8 printable ASCII characters without spaces")
    if args.token is None and not is_loopback(args.host):
        raise ConfigError(f"--host {args.host} is not a loopback address: serving beyond this machine needs --token TOKEN")
    missing = [name for name in REQUIRED if find_spec(name) is None]
    if missing:
        raise ConfigError(f"kgrec serve needs {', '.join(missing)}: pip install \"kgrec[serve]\"")


def check_port_free(host: str, port: int) -> None:
    """ConfigError when nothing can listen on ``host:port`` (in use, or not an address of this machine)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host.strip("[]"), port))
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def run_serve(args: argparse.Namespace) -> None:
    check_options(args)
    checked_run(args.run)
    check_port_free(args.host, args.port)
    import uvicorn

    from kgrec.recommender import freeze_imported_objects
    from kgrec.serve.app import ANSWERS_ENV, RUN_ENV, TOKEN_ENV, create_app  # fastapi: checked above
    from kgrec.serve.workers import can_fork, one_thread_per_worker, serve_forked

    forked = args.workers > 1 and can_fork()
    if forked:
        one_thread_per_worker()
    freeze_imported_objects()
    app = create_app(args.run, args.token, args.answers)  # a damaged or foreign run (or answers) is refused here
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    elif forked:  # the workers are forks of this process: the run is loaded once
        serve_forked(app, args.host, args.port, args.workers)
    else:  # no fork (Windows): uvicorn's workers each load the run
        del app
        os.environ[RUN_ENV] = str(args.run)
        if args.token is not None:
            os.environ[TOKEN_ENV] = args.token
        if args.answers is not None:
            os.environ[ANSWERS_ENV] = str(args.answers)
        uvicorn.run("kgrec.serve.app:app_from_environment", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="info")
