from __future__ import annotations

from marketplace.notifications.tables import Notification


async def deliver_notification_job(ctx: dict, notification_id: int, **_: object) -> None:
    """Hand a recorded message to the gateway. No gateway is configured in this
    deployment shape, so delivery means marking it handed over; idempotent."""
    await Notification.update({Notification.status: "sent"}).where(
        (Notification.id == notification_id) & (Notification.status == "recorded")
    )
