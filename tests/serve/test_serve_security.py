"""``kgrec serve`` with a token and two workers, and the runs and options it refuses to start with."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kgrec.cli.serve import is_loopback
from tests.cli_runner import kgrec
from kgrec.serve.workers import MIN_LIFETIME_S
from kgrec.net import free_port
from tests.serve.conftest import TOKEN, Server, a_user, start_server


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one stderr line of a command refused with exit code 2."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kgrec: error: "), result.stderr
    return lines[0]


# ---- the token ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/rules", "/metrics", "/openapi.json", "/docs", "/users/u_91/recommendations", "/nowhere"])
def test_every_request_but_health_needs_the_token(guarded: Server, path: str) -> None:
    missing = guarded.get(path)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["detail"].startswith("no Authorization header")
    wrong = guarded.get(path, token=TOKEN + "x")
    assert wrong.status_code == 401 and wrong.json()["detail"].startswith("wrong token")
    assert guarded.get(path, token=TOKEN).status_code == (404 if path == "/nowhere" else 200)


def test_health_is_open_with_a_token(guarded: Server) -> None:
    assert guarded.get("/health").json()["status"] == "ok"


# ---- workers ------------------------------------------------------------------------------------------
def test_two_workers_answer_identically(guarded: Server, server: Server, run: Path) -> None:
    """Forty requests on new connections, each answered as the one-worker service answers it."""
    user = a_user(run)
    top = server.get(f"/users/{user}/recommendations", k=3).json()["recommendations"]
    requests = [(f"/users/{user}/recommendations", {"k": 3}), ("/rules", {"top": 5})]
    for item in top:
        requests.append((f"/users/{user}/items/{item['item_raw']}/paths", {"max_len": 4}))
        requests.append((f"/users/{user}/items/{item['item_raw']}/counterfactual", {"remove": ["told", "relation:acted_by"]}))
    expected = [server.get(path, **params).json() for path, params in requests]
    for round_ in range(5):
        answers = [guarded.get(path, token=TOKEN, **params).json() for path, params in requests]
        assert answers == expected, f"round {round_}"
    started = set(re.findall(r"Started server process \[(\d+)\]", guarded.log.read_text()))
    assert len(started) == 2, guarded.log.read_text()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads the processes in /proc (Linux)")
def test_the_workers_are_forks_of_the_loaded_process_and_a_dead_one_is_replaced(run: Path) -> None:
    """Forked (same command line as the parent: nothing spawned loads the run again); a worker killed after
    its first seconds is replaced and the service keeps answering."""
    server = start_server(run, "--workers", "2")
    try:
        workers = wait_for_workers(server, 2)
        parent_command = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        for pid in workers:
            assert Path(f"/proc/{pid}/cmdline").read_bytes() == parent_command
            assert int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == server.process.pid
        time.sleep(MIN_LIFETIME_S)  # younger workers that die stop the service instead
        os.kill(workers[0], signal.SIGKILL)
        replaced = wait_for_workers(server, 3)
        assert workers[0] in replaced and len(set(replaced)) == 3
        assert all(server.get("/health").status_code == 200 for _ in range(6))
    finally:
        server.stop()


def wait_for_workers(server: Server, count: int, timeout: float = 60) -> list[int]:
    """The pids of the first ``count`` workers the server's log says started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = [int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", server.log.read_text())]
        if len(started) >= count:
            return started
        time.sleep(0.1)
    pytest.fail(f"fewer than {count} workers started:\n{server.log.read_text()}")


# ---- refusals -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "example.org", "::"])
def test_a_non_loopback_host_needs_a_token(run: Path, host: str) -> None:
    line = refused(kgrec("serve", str(run), "--host", host, cwd=run.parent))
    assert line == f"kgrec: error: --host {host} is not a loopback address: serving beyond this machine needs --token TOKEN"


@pytest.mark.parametrize("options, says", [
    (["--token", "short"], "--token must be at least 8 printable ASCII characters without spaces"),
    (["--port", "0"], "--port must be between 1 and 65535, got 0"),
    (["--workers", "0"], "--workers must be a positive integer, got 0"),
])
def test_bad_options_are_refused(run: Path, options: list[str], says: str) -> None:
    assert refused(kgrec("serve", str(run), *options, cwd=run.parent)) == f"kgrec: error: {says}"


def test_a_damaged_run_is_refused_before_listening(run: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(run, damaged)
    (damaged / "model.pt").write_bytes(b"not a checkpoint")
    line = refused(kgrec("serve", str(damaged), "--port", str(free_port()), cwd=tmp_path))
    assert line.startswith(f"kgrec: error: {damaged / 'model.pt'}: cannot read the checkpoint")


def test_a_run_of_another_version_is_refused(run: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    shutil.copytree(run, foreign)
    config = foreign / "config.yaml"
    config.write_text(re.sub(r"(?m)^kgrec_version: .*$", "kgrec_version: 0.0.1", config.read_text()))
    line = refused(kgrec("serve", str(foreign), cwd=tmp_path))
    assert line.startswith(f"kgrec: error: {config}: written by kgrec 0.0.1")


def test_a_missing_run_is_refused(tmp_path: Path) -> None:
    assert refused(kgrec("serve", str(tmp_path / "nothing"), cwd=tmp_path)) == f"kgrec: error: {tmp_path / 'nothing'}: no such run directory"


def test_a_port_in_use_is_refused(run: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = refused(kgrec("serve", str(run), "--port", str(port), cwd=run.parent))
    assert line == f"kgrec: error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_without_fastapi_the_command_says_what_to_install(run: Path) -> None:
    code = "import sys; sys.modules['fastapi'] = None; from kgrec.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run([sys.executable, "-c", code, "serve", str(run)], capture_output=True, text=True, cwd=run.parent,
                            check=False)
    assert refused(result) == 'kgrec: error: kgrec serve needs fastapi: pip install "kgrec[serve]"'


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True), ("::1", True),
                                            ("[::1]", True), ("0.0.0.0", False), ("10.0.0.1", False), ("myhost", False)])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
