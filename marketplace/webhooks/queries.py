"""Read models for the webhooks console, scoped to the actor's institution."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marketplace.actors import Actor
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import N_, _
from marketplace.outbox.tables import OutboxStatus
from marketplace.security import decrypt_field
from marketplace.webhooks.events import EVENTS, event_label
from marketplace.webhooks.signing import verify
from marketplace.webhooks.tables import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# Badge colours in the design system.
STATUS_TONES: dict[str, str] = {
    DeliveryStatus.PENDING: "info",
    DeliveryStatus.DELIVERED: "success",
    DeliveryStatus.FAILED: "danger",
}
STATUS_LABELS: dict[str, str] = {
    DeliveryStatus.PENDING: N_("投递中"),
    DeliveryStatus.DELIVERED: N_("已送达"),
    DeliveryStatus.FAILED: N_("失败"),
}


SECRET_CONTEXT = "webhook.secret"  # noqa: S105 - the encryption context label


# A delivery's endpoint secrets, as `signing_secrets` reads them.
DELIVERY_SECRET_COLUMNS = (
    WebhookDelivery.endpoint.secret_encrypted.as_alias("secret"),
    WebhookDelivery.endpoint.previous_secret_encrypted.as_alias("previous_secret"),
    WebhookDelivery.endpoint.previous_valid_until.as_alias("previous_valid_until"),
)


def signing_secrets(row: dict[str, Any]) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during the overlap
    after a rotation. `row` has DELIVERY_SECRET_COLUMNS."""
    secrets = [decrypt_field(row["secret"], context=SECRET_CONTEXT)]
    until = row["previous_valid_until"]
    if row["previous_secret"] and until is not None and until > datetime.now(UTC):
        secrets.append(decrypt_field(row["previous_secret"], context=SECRET_CONTEXT))
    return secrets


def _require(actor: Actor) -> None:
    if not actor.can("webhook.manage"):
        raise PermissionDenied()


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    description: str
    events: tuple[str, ...]
    event_labels: tuple[str, ...]
    enabled: bool
    rotating_until: datetime | None  # the previous secret still signs until then
    created_at: datetime


def _endpoint(row: dict[str, Any]) -> Endpoint:
    until = row["previous_valid_until"]
    events = tuple(row["events"] or ())
    return Endpoint(
        id=row["id"],
        url=row["url"],
        description=row["description"],
        events=events,
        event_labels=tuple(event_label(event) for event in events),
        enabled=row["enabled"],
        rotating_until=until if until is not None and until > datetime.now(UTC) else None,
        created_at=row["created_at"],
    )


_ENDPOINT_COLUMNS = (
    WebhookEndpoint.id,
    WebhookEndpoint.url,
    WebhookEndpoint.description,
    WebhookEndpoint.events,
    WebhookEndpoint.enabled,
    WebhookEndpoint.previous_valid_until,
    WebhookEndpoint.created_at,
)


async def endpoints(actor: Actor) -> list[Endpoint]:
    _require(actor)
    rows = (
        await WebhookEndpoint.select(*_ENDPOINT_COLUMNS)
        .where(WebhookEndpoint.institution == actor.institution_id)
        .order_by(WebhookEndpoint.id)
    )
    return [_endpoint(row) for row in rows]


async def endpoint(actor: Actor, endpoint_id: int) -> Endpoint:
    _require(actor)
    row = (
        await WebhookEndpoint.select(*_ENDPOINT_COLUMNS)
        .where(
            (WebhookEndpoint.id == endpoint_id)
            & (WebhookEndpoint.institution == actor.institution_id)
        )
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该接收地址"))
    return _endpoint(row)


def event_choices() -> list[tuple[str, str]]:
    return [(event, _(label)) for event, label in EVENTS.items()]


def status_choices() -> list[tuple[str, str]]:
    return [(status, _(label)) for status, label in STATUS_LABELS.items()]


@dataclass(frozen=True)
class DeliveryFilters:
    endpoint_id: int | None = None
    event: str = ""
    status: str = ""

    def as_query(self) -> dict[str, str]:
        return {
            "endpoint": str(self.endpoint_id or ""),
            "event": self.event,
            "status": self.status,
        }


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint_id: int
    endpoint_url: str
    event: str
    event_label: str
    status: DeliveryStatus
    status_label: str
    tone: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None  # while pending
    can_redeliver: bool


@dataclass(frozen=True)
class Attempt:
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str
    response_excerpt: str


@dataclass(frozen=True)
class DeliveryDetail:
    delivery: Delivery
    subject: dict[str, int]
    attempts: tuple[Attempt, ...]  # newest first

    @property
    def last_error(self) -> str:
        """Why the latest attempt failed ("" once delivered)."""
        if self.delivery.status is DeliveryStatus.DELIVERED or not self.attempts:
            return ""
        return self.attempts[0].error


@dataclass(frozen=True)
class DeliveryPage:
    rows: tuple[Delivery, ...]
    total: int


_DELIVERY_COLUMNS = (
    WebhookDelivery.id,
    WebhookDelivery.endpoint,
    WebhookDelivery.endpoint.url.as_alias("endpoint_url"),
    WebhookDelivery.event,
    WebhookDelivery.attempts,
    WebhookDelivery.created_at,
    WebhookDelivery.delivered_at,
    WebhookDelivery.subject,
    WebhookDelivery.outbox_message.status.as_alias("outbox_status"),
    WebhookDelivery.outbox_message.next_attempt_at.as_alias("next_attempt_at"),
)


def _status(row: dict[str, Any]) -> DeliveryStatus:
    if row["delivered_at"] is not None:
        return DeliveryStatus.DELIVERED
    if row["outbox_status"] == OutboxStatus.PENDING:
        return DeliveryStatus.PENDING
    # Dead, or done without a success (its endpoint was gone when it ran).
    return DeliveryStatus.FAILED


def _delivery(row: dict[str, Any]) -> Delivery:
    status = _status(row)
    return Delivery(
        id=row["id"],
        endpoint_id=row["endpoint"],
        endpoint_url=row["endpoint_url"],
        event=row["event"],
        event_label=event_label(row["event"]),
        status=status,
        status_label=_(STATUS_LABELS[status]),
        tone=STATUS_TONES[status],
        attempts=row["attempts"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        next_attempt_at=row["next_attempt_at"] if status is DeliveryStatus.PENDING else None,
        can_redeliver=status is not DeliveryStatus.PENDING,
    )


def _status_condition(status: str) -> Any:
    if status == DeliveryStatus.DELIVERED:
        return WebhookDelivery.delivered_at.is_not_null()
    pending = WebhookDelivery.outbox_message.status == OutboxStatus.PENDING
    if status == DeliveryStatus.PENDING:
        return WebhookDelivery.delivered_at.is_null() & pending
    return WebhookDelivery.delivered_at.is_null() & (
        WebhookDelivery.outbox_message.status != OutboxStatus.PENDING
    )


async def deliveries(
    actor: Actor, filters: DeliveryFilters, *, page: int, per_page: int
) -> DeliveryPage:
    """The deliveries log, newest first."""
    _require(actor)
    condition: Any = WebhookDelivery.institution == actor.institution_id
    if filters.endpoint_id:
        condition &= WebhookDelivery.endpoint == filters.endpoint_id
    if filters.event:
        condition &= WebhookDelivery.event == filters.event
    if filters.status:
        condition &= _status_condition(filters.status)
    rows = (
        await WebhookDelivery.select(*_DELIVERY_COLUMNS)
        .where(condition)
        .order_by(WebhookDelivery.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    total = await WebhookDelivery.count().where(condition)
    return DeliveryPage(tuple(_delivery(row) for row in rows), total)


async def delivery(actor: Actor, delivery_id: int) -> DeliveryDetail:
    _require(actor)
    row = (
        await WebhookDelivery.select(*_DELIVERY_COLUMNS)
        .where(
            (WebhookDelivery.id == delivery_id)
            & (WebhookDelivery.institution == actor.institution_id)
        )
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该投递记录"))
    attempts = (
        await WebhookAttempt.select(
            WebhookAttempt.attempted_at,
            WebhookAttempt.status_code,
            WebhookAttempt.duration_ms,
            WebhookAttempt.error,
            WebhookAttempt.response_excerpt,
        )
        .where(WebhookAttempt.delivery == delivery_id)
        .order_by(WebhookAttempt.id, ascending=False)
    )
    subject = row["subject"]
    return DeliveryDetail(
        delivery=_delivery(row),
        subject=subject if isinstance(subject, dict) else json.loads(subject),
        attempts=tuple(Attempt(**attempt) for attempt in attempts),
    )


async def signed_by_endpoint(delivery_id: int, header: str, body: bytes) -> bool:
    """Whether `header` is a fresh, valid signature of `body` by a secret of the endpoint
    that `delivery_id` went to (the demo's own receiver checks requests with it)."""
    row = (
        await WebhookDelivery.select(*DELIVERY_SECRET_COLUMNS)
        .where(WebhookDelivery.id == delivery_id)
        .first()
    )
    if row is None or not row["secret"]:
        return False
    return any(verify(secret, header, body) for secret in signing_secrets(row))
