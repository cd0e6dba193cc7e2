"""The one notifier: every SMS and e-mail is recorded in a table, then delivered by a job."""

from __future__ import annotations

from marketplace import outbox
from marketplace.db import transaction
from marketplace.notifications.tables import Notification
from marketplace.security import (
    blind_index,
    encrypt_field,
    mask_email,
    mask_mobile,
    normalise_mobile,
)
from marketplace.settings import settings

BODY_CONTEXT = "notification.body"


async def send_sms(mobile: str, template: str, body: str) -> int:
    mobile = normalise_mobile(mobile)
    return await _record(
        "sms", blind_index(mobile, purpose="mobile"), mask_mobile(mobile), template, body
    )


async def send_email(address: str, template: str, body: str) -> int:
    address = address.strip().lower()
    return await _record(
        "email", blind_index(address, purpose="email"), mask_email(address), template, body
    )


async def _record(channel: str, index: str, masked: str, template: str, body: str) -> int:
    async with transaction():
        rows = await Notification.insert(
            Notification(
                channel=channel,
                recipient_index=index,
                recipient_masked=masked,
                template=template,
                body_encrypted=encrypt_field(body, context=BODY_CONTEXT),
            )
        ).returning(Notification.id)
        notification_id = rows[0]["id"]
        await outbox.record("notifications.deliver", notification_id=notification_id)
    if settings.demo_mode:
        # Demo only: there is no SMS gateway, so the message is shown on the console.
        print(f"[{channel}] {masked}: {body}", flush=True)  # noqa: T201
    return notification_id
