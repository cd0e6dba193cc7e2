"""In-site notifications (reads): the header's unread count and the inbox pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marketplace.actors import Actor
from marketplace.inbox.tables import InboxItem

PAGE_SIZE = 20


@dataclass(frozen=True)
class InboxEntry:
    id: int
    title: str
    link: str
    created_at: datetime
    unread: bool


@dataclass(frozen=True)
class InboxPage:
    entries: tuple[InboxEntry, ...]
    unread: int
    total: int


async def unread_count(user_id: int) -> int:
    return await InboxItem.count().where(
        (InboxItem.recipient == user_id) & InboxItem.read_at.is_null()
    )


async def inbox(actor: Actor, page: int = 1) -> InboxPage:
    rows = (
        await InboxItem.select(
            InboxItem.id, InboxItem.title, InboxItem.link, InboxItem.created_at, InboxItem.read_at
        )
        .where(InboxItem.recipient == actor.user_id)
        .order_by(InboxItem.id, ascending=False)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    entries = tuple(
        InboxEntry(r["id"], r["title"], r["link"], r["created_at"], r["read_at"] is None)
        for r in rows
    )
    total = await InboxItem.count().where(InboxItem.recipient == actor.user_id)
    return InboxPage(entries, await unread_count(actor.user_id or 0), total)
