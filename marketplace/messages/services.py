"""Verbs of a thread: open it (marking what arrived as read) and post to it."""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace.accounts.limits import Limit, reserve
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import Throttled
from marketplace.i18n import _
from marketplace.inbox.services import notify_borrower, notify_institution
from marketplace.messages.queries import (
    BODY_CONTEXT,
    MessageSide,
    Thread,
    ThreadRef,
    borrower_thread_ref,
    staff_thread_ref,
    thread,
)
from marketplace.messages.tables import BODY_MAX_LENGTH, Message
from marketplace.parsing import FormReader, parse_text
from marketplace.security import encrypt_field

# Posting is limited per person across all threads: enough for a conversation, too few
# to flood an institution's inbox or a borrower's phone.
POST_LIMIT = 20
POST_WINDOW_SECONDS = 600
# The SMS says only that something arrived: no body, no name, no number.
SMS_TEMPLATE = "message.new"


async def open_borrower_thread(actor: Actor, reference: str) -> Thread:
    ref = await borrower_thread_ref(actor, reference)
    await _mark_read(ref)
    return await thread(ref, can_post=True)


async def open_staff_thread(actor: Actor, application_id: int) -> Thread:
    ref = await staff_thread_ref(actor, application_id, permission="lead.view")
    await _mark_read(ref)
    return await thread(ref, can_post=actor.can("lead.work"))


async def _mark_read(ref: ThreadRef) -> None:
    await Message.update({Message.read_at: datetime.now(UTC)}).where(
        (Message.application == ref.application_id)
        & (Message.side != ref.side)
        & Message.read_at.is_null()
    )


def parse_body(raw: object) -> str:
    form = FormReader({"body": raw})
    body = form.field(
        "body",
        parse_text,
        "",
        label=_("消息内容"),
        min_length=1,
        max_length=BODY_MAX_LENGTH,
        multiline=True,
    )
    form.raise_errors()
    return body


async def post_borrower_message(actor: Actor, reference: str, raw_body: object) -> int:
    ref = await borrower_thread_ref(actor, reference)
    return await _post(actor, ref, parse_body(raw_body))


async def post_staff_message(actor: Actor, application_id: int, raw_body: object) -> int:
    ref = await staff_thread_ref(actor, application_id, permission="lead.work")
    return await _post(actor, ref, parse_body(raw_body))


async def _post(actor: Actor, ref: ThreadRef, body: str) -> int:
    # Counted atomically before writing, so parallel posts cannot all slip under the limit.
    wait = await reserve(Limit(f"messages:post:{actor.user_id}", POST_LIMIT, POST_WINDOW_SECONDS))
    if wait:
        raise Throttled(_("发送过于频繁，请稍后再试"), field="body", retry_after=wait)
    async with transaction():
        await _notify_other_side(ref)
        rows = await Message.insert(
            Message(
                application=ref.application_id,
                side=ref.side,
                sender=actor.user_id,
                body_encrypted=encrypt_field(body, context=BODY_CONTEXT),
            )
        ).returning(Message.id)
        message_id: int = rows[0]["id"]
        await audit(actor, "message.post", "application", ref.application_id, message_id=message_id)
    return message_id


async def _notify_other_side(ref: ThreadRef) -> None:
    """One notice per batch of unread messages: none while earlier ones from the same side
    are still unread. The borrower is told in-site and by SMS; the institution's staff (the
    lead's officer, or everyone working leads while it is unassigned) in-site."""
    if await Message.exists().where(
        (Message.application == ref.application_id)
        & (Message.side == ref.side)
        & Message.read_at.is_null()
    ):
        return
    if ref.side == MessageSide.STAFF:
        await notify_borrower(
            ref.borrower_id,
            SMS_TEMPLATE,
            _("机构给您发来新消息（申请编号 {ref}）", ref=ref.reference),
            f"/me/applications/{ref.reference}/messages",
            sms=_("【LoanMart】您有一条新消息，请登录查看。"),
        )
    else:
        await notify_institution(
            ref.institution_id,
            SMS_TEMPLATE,
            _("借款人发来新消息（申请编号 {ref}）", ref=ref.reference),
            f"/console/leads/{ref.application_id}/messages",
            assignee_id=ref.assignee_id,
        )
