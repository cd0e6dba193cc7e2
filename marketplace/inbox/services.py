"""In-site notifications (verbs): the notifier's channel for people while they use the site.

Verbs write inside the caller's transaction, so a notice exists exactly when the change it
reports was committed. Titles carry no personal data (no names, ID numbers or phones).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from marketplace.accounts.roles import permissions_of
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.db import Statement, by_column, fetch, transaction, write_before_commit
from marketplace.errors import NotFound
from marketplace.i18n import _
from marketplace.inbox.tables import InboxItem
from marketplace.notifications.services import send_user_sms
from marketplace.parameters.services import get_parameters
from marketplace.security import decrypt_field

TITLE_MAX = 200


def _safe_link(link: str) -> str:
    """Only paths inside this site: a notice can never send anyone elsewhere."""
    if not link.startswith("/") or link.startswith("//") or "\\" in link or len(link) > 300:
        raise ValueError(f"not a site path: {link!r}")
    return link


async def notify_users(user_ids: Iterable[int], kind: str, title: str, link: str = "") -> int:
    recipients = sorted(set(user_ids))
    if not recipients:
        return 0
    link = _safe_link(link) if link else ""
    # With the transaction's last writes: nothing in it reads the inbox back.
    await write_before_commit(
        _insert_items, *((user_id, kind, title[:TITLE_MAX], link) for user_id in recipients)
    )
    return len(recipients)


_INSERT_ITEMS_SQL = """
INSERT INTO inbox_item (recipient, kind, title, link)
SELECT recipient, kind, title, link
FROM unnest({}::integer[], {}::text[], {}::text[], {}::text[]) WITH ORDINALITY
  AS item (recipient, kind, title, link, position)
ORDER BY position
"""


def _insert_items(items: list[tuple[int, str, str, str]]) -> Statement:
    return _INSERT_ITEMS_SQL, by_column(items)


async def notify_borrower(
    user_id: int, kind: str, title: str, link: str = "", sms: str | None = None
) -> None:
    """In-site always; by SMS too when `sms` is given (a text with no personal data) and
    the borrower has not switched that kind of notice's SMS off."""
    await notify_users([user_id], kind, title, link)
    if sms is None:
        return
    row = await User.select(User.mobile_encrypted).where(User.id == user_id).first()
    if row and row["mobile_encrypted"]:
        mobile = decrypt_field(row["mobile_encrypted"], context="user.mobile")
        await send_user_sms(user_id, mobile, kind, sms)


_STAFF_SQL = (
    "SELECT id, role FROM app_user WHERE kind = 'staff' AND institution = {}"
    " AND status = 'active' AND ({}::integer IS NULL OR id = {})"
)


async def notify_institution(
    institution_id: int,
    kind: str,
    title: str,
    link: str = "",
    *,
    permission: str = "lead.view",
    assignee_id: int | None = None,
) -> int:
    """The staff who handle it: the assignee when there is one, otherwise every active
    member of the institution whose role has `permission`."""
    assignee = assignee_id or None
    rows = await fetch(_STAFF_SQL, institution_id, assignee, assignee)
    recipients = [r["id"] for r in rows if permission in permissions_of("staff", r["role"])]
    return await notify_users(recipients, kind, title, link)


async def purge_old() -> int:
    """Daily: notices older than the retention are deleted. How many."""
    days = int((await get_parameters("inbox_retention_days"))["inbox_retention_days"])
    before = datetime.now(UTC) - timedelta(days=days)
    async with transaction():
        rows = await InboxItem.delete().where(InboxItem.created_at < before).returning(InboxItem.id)
    return len(rows)


async def open_item(actor: Actor, item_id: int) -> str:
    """Mark one of the actor's notices read and hand back where it points ("" if nowhere).
    Someone else's notice is as absent as a missing one."""
    rows = (
        await InboxItem.update({InboxItem.read_at: datetime.now(UTC)})
        .where((InboxItem.id == item_id) & (InboxItem.recipient == actor.user_id))
        .returning(InboxItem.link)
    )
    if not rows:
        raise NotFound(_("找不到该通知"))
    return str(rows[0]["link"])


async def mark_all_read(actor: Actor) -> int:
    rows = (
        await InboxItem.update({InboxItem.read_at: datetime.now(UTC)})
        .where((InboxItem.recipient == actor.user_id) & InboxItem.read_at.is_null())
        .returning(InboxItem.id)
    )
    return len(rows)
