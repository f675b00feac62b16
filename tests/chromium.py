"""Headless Chromium for the browser tests (pytest marker ``browser``): the run report and the explorer page of
``kgrec serve``.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages ending
in a NUL byte on file descriptors 3 and 4), so no Python package beyond the standard library is needed. The
binary is ``$CHROMIUM``, else ``chromium``, ``chromium-browser``, ``google-chrome`` on the PATH (Debian:
``apt-get install chromium``). When none is found the tests fail if ``$CI`` is set (CI installs Chromium, see
``.ci/run``) and skip, saying why, otherwise.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pytest

WIDTH, HEIGHT, TIMEOUT = 1200, 2000, 60.0
# argv: read fd, write fd, binary, flags...: put the pipe ends on fds 3 and 4 (DevTools' fixed numbers), exec
TRAMPOLINE = (
    "import os, sys\n"
    "r, w = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def chromium_binary() -> str | None:
    """The first Chromium found: ``$CHROMIUM``, then the usual names on the PATH; None without one."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if name and (found := shutil.which(name)):
            return found
    return None


class Browser:
    """One headless Chromium with a DevTools session on one page; collects errors and requested URLs."""

    def __init__(self, binary: str, profile: Path, size: tuple[int, int] = (WIDTH, HEIGHT)) -> None:
        self.width, self.height = size
        to_browser_r, to_browser_w = os.pipe()  # Chromium reads commands on fd 3 ...
        from_browser_r, from_browser_w = os.pipe()  # ... and writes replies and events on fd 4
        # copies at fd >= 10, which a small Python trampoline moves onto 3 and 4 before it execs Chromium
        read_end, write_end = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w))
        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio",
            "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={self.width},{self.height}",
            "--remote-debugging-pipe", "about:blank",
        ]
        self.process = subprocess.Popen(
            [sys.executable, "-c", TRAMPOLINE, str(read_end), str(write_end), binary, *flags],
            pass_fds=(read_end, write_end), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for fd in (to_browser_r, from_browser_w, read_end, write_end):
            os.close(fd)
        self.commands, self.replies = to_browser_w, from_browser_r
        self.buffer = b""
        self.next_id = 0
        self.session: str | None = None
        self.events: list[dict[str, Any]] = []

    # ---- protocol ----------------------------------------------------------------------------------------
    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.replies], [], [], remaining)[0]:
                raise TimeoutError("no reply from Chromium")
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                stderr = self.process.stderr.read().decode(errors="replace")[-2000:] if self.process.stderr else ""
                raise RuntimeError(f"Chromium closed the DevTools pipe; stderr:\n{stderr}")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, session: bool = True, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._receive(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    # ---- what the tests use ------------------------------------------------------------------------------
    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", session=False, url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", session=False, targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height, deviceScaleFactor=1, mobile=False)
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions, error log entries (failed loads, ...) and failed requests."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                words = (str(a.get("value", a.get("description", ""))) for a in params["args"])
                found.append("console: " + " ".join(words))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                found.append(f"network: {params.get('errorText')}")
        return found

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.send("Browser.close", session=False)
        except (OSError, RuntimeError, TimeoutError):
            pass
        finally:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stderr:
                self.process.stderr.close()
            os.close(self.commands)
            os.close(self.replies)


def in_ci() -> bool:
    """``$CI`` is set (CI services set ``CI=true``); empty, ``0`` and ``false`` count as unset."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def require_chromium() -> str:
    """The Chromium binary; without one, fail the calling test in CI and skip it elsewhere, saying why."""
    binary = chromium_binary()
    if binary is None:
        missing = (
            "no Chromium found: searched $CHROMIUM, chromium, chromium-browser, google-chrome, google-chrome-stable "
            "on the PATH (set $CHROMIUM or install Debian's chromium package: apt-get install chromium)"
        )
        if in_ci():  # .ci/run installs chromium: without it the browser tests would pass as skipped
            pytest.fail(f"{missing}; $CI is set, so the browser tests must run", pytrace=False)
        pytest.skip(f"{missing}; not in CI ($CI unset or false), so the browser tests are skipped")
    return binary


@contextmanager
def open_browser(profile: Path, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Iterator[Browser]:
    """A headless Chromium with a ``size`` (width, height) window and its profile in ``profile``, closed after."""
    started = Browser(require_chromium(), profile, size)
    try:
        yield started
    finally:
        started.close()


def not_blank(png: bytes, size: tuple[int, int] = (WIDTH, HEIGHT)) -> float:
    """Share of pixels of a ``size`` (width, height) PNG screenshot that differ from its most common colour."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    assert pixels.shape[:2] == (size[1], size[0])
    flat = (pixels.reshape(-1, 3) * 255).round().astype(np.int64)
    codes = flat[:, 0] * 65536 + flat[:, 1] * 256 + flat[:, 2]
    return float(np.mean(codes != np.bincount(codes).argmax()))
