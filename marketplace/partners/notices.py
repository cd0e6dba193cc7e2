"""Telling an institution's admins that its cooperation status changed (admitted →
active, suspended, resumed, closed): in-site and by e-mail, after the change committed."""

from __future__ import annotations

from datetime import datetime

from marketplace.accounts.tables import User
from marketplace.db import transaction
from marketplace.i18n import _
from marketplace.inbox.services import notify_users
from marketplace.inbox.tables import InboxItem
from marketplace.institutions.statuses import INSTITUTION_MACHINE
from marketplace.institutions.tables import Institution
from marketplace.notifications.services import send_email

KIND = "institution.status"


async def institution_admins(institution_id: int) -> list[dict]:
    return await User.select(User.id, User.login_key).where(
        (User.kind == "staff")
        & (User.institution == institution_id)
        & (User.role == "institution_admin")
        & (User.status == "active")
    )


async def tell_status(institution_id: int, changed_at: str) -> int:
    """Idempotent: only for the institution's latest change, and once per change."""
    row = await Institution.select().where(Institution.id == institution_id).first()
    if row is None or row["status_changed_at"] is None:
        return 0
    if row["status_changed_at"] != datetime.fromisoformat(changed_at):
        return 0  # a later change supersedes this one and tells its own news
    admins = await institution_admins(institution_id)
    async with transaction():
        if await InboxItem.exists().where(
            InboxItem.recipient.is_in([a["id"] for a in admins] or [0])
            & (InboxItem.kind == KIND)
            & (InboxItem.created_at >= row["status_changed_at"])
        ):
            return 0
        title = _("合作状态：{status}", status=INSTITUTION_MACHINE.label(row["status"]))
        if row["status_reason"]:
            title = _("{title}（{reason}）", title=title, reason=row["status_reason"][:120])
        await notify_users([a["id"] for a in admins], KIND, title, "/console/")
        for admin in admins:
            await send_email(admin["login_key"], KIND, _("【LoanMart】{title}", title=title))
    return len(admins)


async def tell_status_job(ctx: dict, institution_id: int, changed_at: str, **_: object) -> int:
    return await tell_status(institution_id, changed_at)
