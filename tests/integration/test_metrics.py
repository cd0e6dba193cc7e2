"""/metrics: request figures per route name, job figures from the outbox table; open to
loopback or the bearer of METRICS_TOKEN, a 404 to anyone else. And the web process
answers a clear 503 (not a 500) while Redis is down."""

from __future__ import annotations

import socket
from dataclasses import replace

import httpx
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from marketplace import cache
from marketplace.db import transaction
from marketplace.outbox import record
from marketplace.outbox.tables import OutboxMessage, OutboxStatus
from server import metrics as metrics_module
from tests.fixtures import login, soup


def _client(app, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_expose_request_and_job_figures(app):
    async with transaction():
        await record("notifications.deliver", notification_id=1)
    await OutboxMessage.insert(
        OutboxMessage(
            job="notifications.deliver",
            payload={"notification_id": 2},
            status=OutboxStatus.DEAD.value,
            attempts=8,
            runs=8,
            last_error="Boom: x",
        ),
        OutboxMessage(
            job="applications.deliver",
            payload={"application_id": 3},
            status=OutboxStatus.DONE.value,
            attempts=3,
            runs=3,
        ),
    )
    # Overdue: not sent, lease over.
    await OutboxMessage.raw(
        "UPDATE outbox_message SET next_attempt_at = now() - interval '1 minute', "
        "created_at = now() - interval '90 seconds' WHERE status = 'pending'"
    )
    async with _client(app, "127.0.0.1") as local:
        # Request counters live in this process for the whole test session: compare.
        before = _samples((await local.get("/metrics")).text)
        await local.get("/products/12345678")  # an id in the path must not reach a label
        await local.get("/no/such/page/13912345678")
        response = await local.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    def added(name: str, **labels: str) -> float:
        return value(name, **labels) - before.get((name, tuple(sorted(labels.items()))), 0)

    route = {"route": "portal.products.detail", "method": "GET"}
    assert added("loanmart_http_requests_total", **route, status="404") == 1
    assert added("loanmart_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert added("loanmart_http_request_duration_seconds_count", **route) == 1
    label_values = {value for _, labels in samples for _, value in labels}
    assert not any("12345678" in label or "/" in label for label in label_values)

    assert value("loanmart_job_runs_total", job="notifications.deliver") == 8
    assert value("loanmart_job_failures_total", job="notifications.deliver") == 8
    assert value("loanmart_job_retries_total", job="notifications.deliver") == 7
    assert value("loanmart_job_runs_total", job="applications.deliver") == 3
    assert value("loanmart_job_failures_total", job="applications.deliver") == 2
    assert value("loanmart_job_retries_total", job="applications.deliver") == 2
    assert value("loanmart_outbox_rows", job="notifications.deliver", status="dead") == 1
    assert value("loanmart_outbox_rows", job="notifications.deliver", status="pending") == 1
    assert value("loanmart_outbox_rows", job="applications.deliver", status="done") == 1
    assert value("loanmart_outbox_rows", job="products.index", status="dead") == 0
    assert 85 <= value("loanmart_outbox_lag_seconds") < 3600


async def test_metrics_are_a_404_to_others_without_the_token(app, monkeypatch):
    async with _client(app, "198.51.100.7") as remote:
        assert (await remote.get("/metrics")).status_code == 404
        monkeypatch.setattr(
            metrics_module, "settings", replace(metrics_module.settings, metrics_token="s3cret")
        )
        assert (await remote.get("/metrics")).status_code == 404
        wrong = await remote.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 404
        right = await remote.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200 and "loanmart_outbox_lag_seconds" in right.text
    async with _client(app, "127.0.0.1") as proxied:
        # A reverse proxy on this host relays strangers from 127.0.0.1.
        relayed = await proxied.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert relayed.status_code == 404


def _redis_down(monkeypatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setattr(cache, "_redis", Redis.from_url(f"redis://127.0.0.1:{port}/0"))


async def test_pages_answer_503_with_retry_after_while_redis_is_down(client, world, monkeypatch):
    await login(client, "/login", world.borrower_mobile)
    token = await client.csrf_token()
    _redis_down(monkeypatch)
    for method, path in (("GET", "/me/applications"), ("GET", "/"), ("POST", "/logout")):
        response = await client.request(method, path, data={"_csrf_token": token})
        assert response.status_code == 503, path
        assert response.headers["retry-after"] == "30"
        assert "服务暂时不可用" in soup(response).select_one("h1").text
    assert (await client.get("/healthz")).status_code == 200, "liveness needs no Redis"
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["redis"] == "ConnectionError"
    client.cookies.clear()
    anonymous = await client.get("/products")
    assert anonymous.status_code == 200, "a visitor without a session still browses"
