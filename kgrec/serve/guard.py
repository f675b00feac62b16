"""What every request passes before it reaches an endpoint: a bounded URL and, when the service has a token,
``Authorization: Bearer <token>`` (``/health`` stays open, so a load balancer can probe it)."""

from __future__ import annotations

import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from kgrec.serve.params import MAX_URL

OPEN_PATHS = ("/health",)


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
        given = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
        if hmac.compare_digest(given, self.expected):
            return None
        reason = "no Authorization header" if not given else "wrong token"
        return JSONResponse({"detail": f"{reason}: this service needs 'Authorization: Bearer <token>'"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
