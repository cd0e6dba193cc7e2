"""Verbs on webhooks: an institution admin manages receiver endpoints and their secrets and
redelivers by hand; business verbs `publish` events inside their own transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from marketplace import outbox
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import engine, transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.outbox.tables import OutboxMessage, OutboxStatus
from marketplace.parameters.services import get_parameters
from marketplace.parsing import FormReader, column_length, first, parse_text
from marketplace.security import encrypt_field
from marketplace.webhooks.addresses import check_url
from marketplace.webhooks.events import EVENTS
from marketplace.webhooks.queries import SECRET_CONTEXT
from marketplace.webhooks.signing import new_secret
from marketplace.webhooks.tables import WebhookDelivery, WebhookEndpoint

SEND_JOB = "webhooks.send"


async def int_parameter(key: str) -> int:
    return int((await get_parameters(key))[key])


@dataclass(frozen=True)
class EndpointInput:
    url: str
    description: str
    events: tuple[str, ...]
    enabled: bool


def parse_endpoint(data: Mapping[str, Any]) -> EndpointInput:
    """Read the endpoint form; every error at once."""
    form = FormReader(data)
    url = form.field("url", lambda raw: check_url(first(raw)), "")
    description = form.field(
        "description",
        parse_text,
        "",
        label=_("备注"),
        max_length=column_length(WebhookEndpoint.description),
    )
    raw_events = data.get("events") or []
    chosen = raw_events if isinstance(raw_events, list | tuple) else [raw_events]
    events = tuple(event for event in EVENTS if event in chosen)
    if not events or len(events) != len(set(map(str, chosen))):
        form.fail("events", _("请至少选择一个事件") if not events else _("请选择列表中的事件"))
    form.raise_errors()
    return EndpointInput(url, description, events, enabled=bool(data.get("enabled")))


async def _own_endpoint(actor: Actor, endpoint_id: int) -> dict[str, Any]:
    """Lock one endpoint of the actor's institution; another tenant's is NotFound."""
    if not actor.can("webhook.manage"):
        raise PermissionDenied()
    row = (
        await WebhookEndpoint.select(WebhookEndpoint.id, WebhookEndpoint.secret_encrypted)
        .where(
            (WebhookEndpoint.id == endpoint_id)
            & (WebhookEndpoint.institution == actor.institution_id)
        )
        .lock_rows()
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该接收地址"))
    return row


async def create_endpoint(actor: Actor, data: Mapping[str, Any]) -> tuple[int, str]:
    """Add a receiver; returns its id and its secret, which is shown only this once."""
    if not actor.can("webhook.manage") or actor.institution_id is None:
        raise PermissionDenied()
    endpoint = parse_endpoint(data)
    limit = await int_parameter("webhook_endpoints_per_institution")
    secret = new_secret()
    async with transaction():
        # One admin at a time per institution, so parallel requests cannot pass the limit.
        await WebhookEndpoint.raw(
            "SELECT pg_advisory_xact_lock(hashtext('webhook_endpoint'), {})", actor.institution_id
        )
        if (
            await WebhookEndpoint.count().where(WebhookEndpoint.institution == actor.institution_id)
            >= limit
        ):
            raise DomainError(_("每个机构最多可添加{count}个接收地址", count=limit), field="url")
        rows = await WebhookEndpoint.insert(
            WebhookEndpoint(
                institution=actor.institution_id,
                url=endpoint.url,
                description=endpoint.description,
                events=list(endpoint.events),
                enabled=endpoint.enabled,
                secret_encrypted=encrypt_field(secret, context=SECRET_CONTEXT),
            )
        ).returning(WebhookEndpoint.id)
        endpoint_id: int = rows[0]["id"]
        await audit(
            actor, "webhook.create", "webhook_endpoint", endpoint_id, events=endpoint.events
        )
    return endpoint_id, secret


async def update_endpoint(actor: Actor, endpoint_id: int, data: Mapping[str, Any]) -> None:
    if not actor.can("webhook.manage"):
        raise PermissionDenied()
    endpoint = parse_endpoint(data)
    async with transaction():
        await _own_endpoint(actor, endpoint_id)
        await WebhookEndpoint.update(
            {
                WebhookEndpoint.url: endpoint.url,
                WebhookEndpoint.description: endpoint.description,
                WebhookEndpoint.events: list(endpoint.events),
                WebhookEndpoint.enabled: endpoint.enabled,
                WebhookEndpoint.updated_at: datetime.now(UTC),
            }
        ).where(WebhookEndpoint.id == endpoint_id)
        await audit(
            actor,
            "webhook.update",
            "webhook_endpoint",
            endpoint_id,
            events=endpoint.events,
            enabled=endpoint.enabled,
        )


async def delete_endpoint(actor: Actor, endpoint_id: int) -> None:
    """Remove a receiver with its deliveries log; sends still queued find nothing to do."""
    async with transaction():
        await _own_endpoint(actor, endpoint_id)
        await WebhookEndpoint.delete().where(WebhookEndpoint.id == endpoint_id)
        await audit(actor, "webhook.delete", "webhook_endpoint", endpoint_id)


async def rotate_secret(actor: Actor, endpoint_id: int) -> str:
    """A new secret becomes current; the old one keeps signing (both signatures are sent)
    for the overlap window, so receivers can switch without losing a delivery. Returns
    the new secret, shown only this once."""
    hours = await int_parameter("webhook_secret_overlap_hours")
    secret = new_secret()
    async with transaction():
        row = await _own_endpoint(actor, endpoint_id)
        now = datetime.now(UTC)
        await WebhookEndpoint.update(
            {
                WebhookEndpoint.secret_encrypted: encrypt_field(secret, context=SECRET_CONTEXT),
                WebhookEndpoint.previous_secret_encrypted: row["secret_encrypted"],
                WebhookEndpoint.previous_valid_until: now + timedelta(hours=hours),
                WebhookEndpoint.updated_at: now,
            }
        ).where(WebhookEndpoint.id == endpoint_id)
        await audit(
            actor, "webhook.rotate_secret", "webhook_endpoint", endpoint_id, overlap_hours=hours
        )
    return secret


async def publish(institution_id: int, event: str, **subject: int) -> int:
    """Record `event` for every enabled endpoint of the institution subscribed to it: one
    delivery row and one send job each. Call inside the business transaction, so the
    event exists exactly when the change does. `subject` holds ids only (never personal
    data). Returns how many deliveries were recorded."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if engine().current_transaction.get() is None:
        raise RuntimeError("publish() needs the caller's open transaction()")
    endpoints = await WebhookEndpoint.select(WebhookEndpoint.id).where(
        (WebhookEndpoint.institution == institution_id)
        & (WebhookEndpoint.enabled.eq(True))
        & WebhookEndpoint.events.any(event)
    )
    for endpoint in endpoints:
        rows = await WebhookDelivery.insert(
            WebhookDelivery(
                endpoint=endpoint["id"], institution=institution_id, event=event, subject=subject
            )
        ).returning(WebhookDelivery.id)
        await _send(rows[0]["id"])
    return len(endpoints)


async def _send(delivery_id: int) -> None:
    message_id = await outbox.record_now(SEND_JOB, delivery_id=delivery_id)
    await WebhookDelivery.update(
        {WebhookDelivery.outbox_message: message_id, WebhookDelivery.delivered_at: None}
    ).where(WebhookDelivery.id == delivery_id)


async def redeliver(actor: Actor, delivery_id: int) -> bool:
    """Send a delivery again by hand (重新投递), with a fresh series of attempts. False when
    it is still being sent (a double click): there is nothing to add."""
    if not actor.can("webhook.manage"):
        raise PermissionDenied()
    async with transaction():
        row = (
            await WebhookDelivery.select(WebhookDelivery.outbox_message)
            .where(
                (WebhookDelivery.id == delivery_id)
                & (WebhookDelivery.institution == actor.institution_id)
            )
            .lock_rows()
            .first()
        )
        if row is None:
            raise NotFound(_("找不到该投递记录"))
        if await OutboxMessage.exists().where(
            (OutboxMessage.id == row["outbox_message"])
            & (OutboxMessage.status == OutboxStatus.PENDING)
        ):
            return False
        await _send(delivery_id)
        await audit(actor, "webhook.redeliver", "webhook_delivery", delivery_id)
    return True
