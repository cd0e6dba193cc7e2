"""/metrics in Prometheus text format.

Request figures are counted per route *name* by a pure ASGI middleware (no raw paths, so
no ids or personal data in labels). Job figures are computed from the outbox table at
scrape time, so they are right however many worker processes there are."""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Iterator
from typing import cast

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.types import HTTPScope, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from marketplace.outbox.queries import OutboxFigures, outbox_figures
from marketplace.settings import settings
from server.asgi import HttpMiddleware

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "loanmart_http_requests",
    "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "loanmart_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name.",
    ["route", "method"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Anything else would let a client mint label values (and time series) at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
FORWARDING_HEADERS = frozenset({b"forwarded", b"x-forwarded-for", b"x-real-ip"})


class MetricsMiddleware(HttpMiddleware):
    """Counts every answer, matched or not (unmatched paths share one label)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            handler = scope.get("route_handler")  # type: ignore[call-overload]
            route = (handler.name or "unnamed") if handler is not None else "unmatched"
            method: str = cast("HTTPScope", scope)["method"]
            if method not in METHODS:
                method = "other"
            REQUESTS.labels(route, method, str(status)).inc()
            LATENCY.labels(route, method).observe(time.perf_counter() - started)


class _OutboxCollector(Collector):
    def __init__(self, figures: OutboxFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "loanmart_job_runs", "Job runs (attempts), successful or not.", labels=["job"]
        )
        failures = CounterMetricFamily(
            "loanmart_job_failures", "Job runs that failed.", labels=["job"]
        )
        retries = CounterMetricFamily(
            "loanmart_job_retries", "Job runs after a row's first.", labels=["job"]
        )
        rows = GaugeMetricFamily(
            "loanmart_outbox_rows", "Outbox rows by job and status.", labels=["job", "status"]
        )
        for job in self.figures.jobs:
            runs.add_metric([job.job], job.runs)
            failures.add_metric([job.job], job.failures)
            retries.add_metric([job.job], job.retries)
            for status, count in job.rows_by_status.items():
                rows.add_metric([job.job, status.value], count)
        yield from (runs, failures, retries, rows)
        yield GaugeMetricFamily(
            "loanmart_outbox_lag_seconds",
            "Age of the oldest pending outbox row that is due (0 when none is).",
            value=self.figures.lag_seconds,
        )


def _may_scrape(request: Request) -> bool:
    """Loopback clients (not relayed by a proxy on this host), or the bearer of the token."""
    if settings.metrics_token:
        supplied = request.headers.get("authorization", "")
        expected = f"Bearer {settings.metrics_token}"
        if hmac.compare_digest(supplied.encode(), expected.encode()):
            return True
    if any(name in FORWARDING_HEADERS for name, _ in request.scope["headers"]):
        return False
    client = request.scope.get("client")
    try:
        return client is not None and ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


@get(
    "/metrics", name="metrics", opt={"access": "public", "session": False}, include_in_schema=False
)
async def metrics(request: Request) -> Response:
    if not _may_scrape(request):
        raise NotFoundException()
    jobs = CollectorRegistry()
    jobs.register(_OutboxCollector(await outbox_figures()))
    return Response(
        content=generate_latest(REGISTRY) + generate_latest(jobs), media_type=CONTENT_TYPE_LATEST
    )
