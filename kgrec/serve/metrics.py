"""Request counts and latencies of the service, per endpoint, in the Prometheus text format (``GET /metrics``).

An ASGI middleware times every request, refused ones included; the endpoint label is the template of the
route the URL matches (``/users/{user}/recommendations``), or ``unmatched``, so the number of series stays
fixed whatever clients send. Each app has its own registry: with ``--workers N`` a scrape sees the
counters of the worker that answered it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Latency buckets in seconds: a cached score lookup takes milliseconds, a long path search a second or more.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's counters: ``kgrec_http_requests_total`` and ``kgrec_http_request_duration_seconds``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("kgrec_http_requests", "HTTP requests answered, by endpoint, method and status code",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("kgrec_http_request_duration_seconds", "Time to answer an HTTP request, by endpoint",
                                 ["endpoint"], buckets=BUCKETS, registry=self.registry)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def exposition(self) -> bytes:
        """Every series in the Prometheus text exposition format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware that records each HTTP request in a :class:`Metrics`; ``endpoint`` labels a request's
    scope (the matching route's template)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, endpoint: Callable[[Scope], str]) -> None:
        self.app, self.metrics, self.endpoint = app, metrics, endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status, endpoint = time.perf_counter(), 500, self.endpoint(scope)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(endpoint, scope.get("method", ""), status, time.perf_counter() - start)
