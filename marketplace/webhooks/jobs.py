"""Sending one delivery: the `webhooks.send` job (through the outbox, so a failure is
retried with the outbox's backoff and parks as dead after the last attempt)."""

from __future__ import annotations

import json
import ssl
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx

from marketplace.db import transaction
from marketplace.i18n import _
from marketplace.outbox.services import RecordedFailure
from marketplace.security import redact_sensitive
from marketplace.webhooks.addresses import UnsafeAddress, check_resolved, pinned
from marketplace.webhooks.payloads import event_data
from marketplace.webhooks.queries import DELIVERY_SECRET_COLUMNS, signing_secrets
from marketplace.webhooks.services import int_parameter
from marketplace.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from marketplace.webhooks.tables import WebhookAttempt, WebhookDelivery

EXCERPT_BYTES = 300
USER_AGENT = "LoanMart-Webhooks/1"


class DeliveryFailed(RecordedFailure):
    """The receiver did not answer 2xx; the message names the cause, never the body. The
    attempt is logged with the outbox's record of the failed run (the job's own
    transaction rolls back)."""

    def __init__(self, attempt: WebhookAttempt) -> None:
        super().__init__(attempt.error)
        self.attempt = attempt

    async def record(self) -> None:
        await _record(self.attempt, delivered=False)


async def send_job(ctx: dict, delivery_id: int, **_: object) -> None:
    await send(delivery_id)


async def send(delivery_id: int) -> None:
    """One attempt. Idempotent: a delivered (or deleted) delivery is not sent again."""
    row = (
        await WebhookDelivery.select(
            WebhookDelivery.id,
            WebhookDelivery.event,
            WebhookDelivery.subject,
            WebhookDelivery.institution,
            WebhookDelivery.created_at,
            WebhookDelivery.delivered_at,
            WebhookDelivery.endpoint.url.as_alias("url"),
            *DELIVERY_SECRET_COLUMNS,
        )
        .where(WebhookDelivery.id == delivery_id)
        .first()
    )
    if row is None or row["delivered_at"] is not None:
        return
    subject = row["subject"] if isinstance(row["subject"], dict) else json.loads(row["subject"])
    body = json.dumps(
        {
            "id": str(delivery_id),
            "event": row["event"],
            "created_at": row["created_at"].isoformat(),
            "data": await event_data(row["event"], row["institution"], subject),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: row["event"],
        DELIVERY_HEADER: str(delivery_id),
        SIGNATURE_HEADER: signature_header(signing_secrets(row), timestamp, body),
    }
    timeout = await int_parameter("webhook_timeout_seconds")
    started = time.monotonic()
    status_code, excerpt, error = await _post(row["url"], body, headers, timeout)
    attempt = WebhookAttempt(
        delivery=delivery_id,
        status_code=status_code,
        duration_ms=int((time.monotonic() - started) * 1000),
        error=error,
        response_excerpt=excerpt,
    )
    if error:
        raise DeliveryFailed(attempt)
    # Committed with the outbox row's `done`, in the job's transaction.
    await _record(attempt, delivered=True)


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process, as httpx would make it (certifi's CAs, or
    SSL_CERT_FILE): building one loads the whole CA bundle, which per attempt was half
    the job worker's CPU for a delivered lead (issue 14, bench_submit)."""
    return httpx.create_ssl_context()


async def _post(
    url: str, body: bytes, headers: dict[str, str], wait_seconds: float
) -> tuple[int | None, str, str]:
    """(status code, redacted start of the answer, error or "")."""
    try:
        target, host, extensions = pinned(url, await check_resolved(url))
        # Redirects are not followed: they could lead to an address the check refused.
        async with (
            httpx.AsyncClient(
                timeout=wait_seconds, follow_redirects=False, verify=_tls()
            ) as client,
            client.stream(
                "POST", target, content=body, headers={**headers, **host}, extensions=extensions
            ) as response,
        ):
            head = b""
            async for chunk in response.aiter_bytes():
                head += chunk
                if len(head) >= EXCERPT_BYTES:
                    break
    except UnsafeAddress as exc:
        return None, "", str(exc)
    except httpx.TimeoutException as exc:
        return None, "", _("等待响应超时（{kind}）", kind=type(exc).__name__)
    except httpx.ConnectError:
        return None, "", _("无法连接接收地址")
    except httpx.HTTPError as exc:
        return None, "", _("请求失败（{kind}）", kind=type(exc).__name__)
    excerpt = redact_sensitive(head[:EXCERPT_BYTES].decode("utf-8", "replace"))[:EXCERPT_BYTES]
    ok = 200 <= response.status_code < 300
    return response.status_code, excerpt, "" if ok else f"HTTP {response.status_code}"


async def _record(attempt: WebhookAttempt, *, delivered: bool) -> None:
    async with transaction():
        if not await WebhookDelivery.exists().where(WebhookDelivery.id == attempt.delivery):
            return  # its endpoint was deleted meanwhile
        await WebhookAttempt.insert(attempt)
        changes: dict[Any, Any] = {WebhookDelivery.attempts: WebhookDelivery.attempts + 1}
        if delivered:
            changes[WebhookDelivery.delivered_at] = datetime.now(UTC)
        await WebhookDelivery.update(changes).where(WebhookDelivery.id == attempt.delivery)
