"""What every request passes before it reaches an endpoint: a bounded URL and, when the service has a token,
``Authorization: Bearer <token>`` (``/health`` stays open, so a load balancer can probe it). The explorer page
and its files (``/``, ``/static/...``) also take the token as ``?token=``: a browser opening a page sends no
header. The endpoints do not: a token in a URL ends up in access logs and browser histories."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from kgrec.serve.params import MAX_URL

OPEN_PATHS = ("/health",)
PAGE_PATHS, PAGE_PREFIXES = ("/",), ("/static/",)  # the explorer page and its files: the token may be ?token=


def is_page(path: str) -> bool:
    """Whether a URL path is the explorer page or one of its files."""
    return path in PAGE_PATHS or path.startswith(PAGE_PREFIXES)


def query_token(scope: Scope) -> bytes:
    """``Bearer <token>`` from the ``token`` query parameter of a request for the explorer page or its files;
    b"" for any other request or without the parameter."""
    if not is_page(scope["path"]):
        return b""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return f"Bearer {values[0]}".encode() if values else b""


class Guard:
    """ASGI middleware: 414 for a URL (path and query string) longer than :data:`MAX_URL` bytes, 401 for a
    request without the token (compared in constant time)."""

    def __init__(self, app: ASGIApp, token: str | None = None) -> None:
        self.app = app
        self.expected = None if token is None else f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> JSONResponse | None:
        """The answer refusing the request, or None to let it through."""
        length = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if length > MAX_URL:
            return JSONResponse({"detail": f"URL of {length} bytes: at most {MAX_URL} accepted"}, status_code=414)
        if self.expected is None or scope["path"] in OPEN_PATHS:
            return None
        given = next((value for name, value in scope["headers"] if name == b"authorization"), b"") or query_token(scope)
        if hmac.compare_digest(given, self.expected):
            return None
        reason = "no Authorization header" if not given else "wrong token"
        page = " (the explorer page: /?token=<token>)" if is_page(scope["path"]) else ""
        return JSONResponse({"detail": f"{reason}: this service needs 'Authorization: Bearer <token>'{page}"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
