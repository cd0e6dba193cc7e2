"""The one notifier: every SMS and e-mail is recorded in a table, then delivered by a job."""

from __future__ import annotations

from collections.abc import Collection

from marketplace import outbox
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.i18n import _
from marketplace.notifications.preferences import SWITCHABLE, wants_sms
from marketplace.notifications.queries import saved_choices
from marketplace.notifications.tables import Notification, SmsPreference
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


async def send_user_sms(user_id: int, mobile: str, kind: str, body: str) -> int | None:
    """A notice's SMS to a borrower, unless it is of a kind they switched off (the in-site
    notice is the caller's and is always written). None when not sent."""
    if not wants_sms(kind, await saved_choices(user_id)):
        return None
    return await send_sms(mobile, kind, body)


async def set_sms_preferences(actor: Actor, wanted: Collection[str]) -> None:
    """Save which switchable kinds also come by SMS: `wanted` are the ticked ones, every
    other switchable kind is off. Kinds that are always sent cannot be switched."""
    if not actor.can("notice.settings") or not actor.user_id:
        raise PermissionDenied()
    unknown = set(wanted) - {c.value for c in SWITCHABLE}
    if unknown:
        raise ValidationFailed({"sms": _("所选的通知类型不存在或不能关闭，请重新选择")})
    choices = {c.value: c.value in wanted for c in SWITCHABLE}
    async with transaction():
        await SmsPreference.insert(
            SmsPreference(user_id=actor.user_id, choices=choices)
        ).on_conflict(
            target=SmsPreference.user_id,
            action="DO UPDATE",
            values=[SmsPreference.choices, SmsPreference.updated_at],
        )
        await audit(
            actor,
            "notifications.sms_preferences",
            "user",
            actor.user_id,
            sms=sorted(c for c, on in choices.items() if on),
        )


async def forget_sms_preferences(user_id: int) -> None:
    """Account deletion: the choices go with the account (inside the caller's transaction)."""
    await SmsPreference.delete().where(SmsPreference.user_id == user_id)


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
