"""Read models of a thread, and the one place that decides who may see which thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from marketplace.actors import Actor
from marketplace.applications.statuses import received_leads
from marketplace.applications.tables import Application
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import N_, _
from marketplace.messages.tables import BODY_MAX_LENGTH, Message
from marketplace.security import decrypt_field

BODY_CONTEXT = "message.body"


class MessageSide(StrEnum):
    BORROWER = "borrower"
    STAFF = "staff"


# Wording staff can start a message from: one system-wide list (no per-institution table),
# translated when shown. Keys are what the form sends.
MESSAGE_TEMPLATES: dict[str, tuple[str, str]] = {
    "documents": (
        N_("补充材料提醒"),
        N_("您好，为继续审核您的申请，请补充近6个月的收入证明或银行流水。如有疑问请在此回复。"),
    ),
    "progress": (
        N_("审核进度说明"),
        N_("您好，您的申请正在审核中，我们会在3个工作日内给出结果，请留意站内消息。"),
    ),
    "contact": (
        N_("预约联系时间"),
        N_("您好，审核人员需要与您电话核实部分信息，请回复方便接听电话的时间段。"),
    ),
}


@dataclass(frozen=True, kw_only=True)
class ThreadRef:
    """A thread the actor may open: its application and which side the actor writes on."""

    application_id: int
    reference: str
    borrower_id: int
    institution_id: int
    assignee_id: int | None
    side: MessageSide


@dataclass(frozen=True, kw_only=True)
class ThreadMessage:
    id: int
    mine: bool
    sender_label: str
    body: str
    at: datetime
    read: bool  # the other side has opened the thread since it arrived


@dataclass(frozen=True, kw_only=True)
class Thread:
    application_id: int
    reference: str
    product_name: str
    institution_name: str
    messages: tuple[ThreadMessage, ...]
    can_post: bool
    body_max_length: int = BODY_MAX_LENGTH


@dataclass(frozen=True, kw_only=True)
class MessageTemplate:
    key: str
    title: str
    body: str


def message_templates() -> tuple[MessageTemplate, ...]:
    return tuple(
        MessageTemplate(key=key, title=_(title), body=_(body))
        for key, (title, body) in MESSAGE_TEMPLATES.items()
    )


def template_body(key: str) -> str:
    """The translated text of a template, or "" for an unknown key (query strings)."""
    entry = MESSAGE_TEMPLATES.get(key)
    return _(entry[1]) if entry else ""


_REF_COLUMNS = (
    Application.id,
    Application.reference,
    Application.borrower,
    Application.institution,
    Application.assignee,
)


def _ref(row: dict[str, Any], side: MessageSide) -> ThreadRef:
    return ThreadRef(
        application_id=row["id"],
        reference=row["reference"],
        borrower_id=row["borrower"],
        institution_id=row["institution"],
        assignee_id=row["assignee"],
        side=side,
    )


async def borrower_thread_ref(actor: Actor, reference: str) -> ThreadRef:
    """The borrower's own application only; anyone else's is a 404."""
    if actor.kind != "borrower":
        raise NotFound(_("找不到该申请"))
    row = (
        await Application.select(*_REF_COLUMNS)
        .where((Application.reference == reference) & (Application.borrower == actor.user_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    return _ref(row, MessageSide.BORROWER)


async def staff_thread_ref(actor: Actor, application_id: int, *, permission: str) -> ThreadRef:
    """A delivered lead of the actor's institution whose borrower still consents to it;
    another institution's lead, an undelivered one or a withdrawn consent is a 404."""
    if actor.kind != "staff" or actor.institution_id is None:
        raise NotFound(_("找不到该申请"))
    if not actor.can(permission):
        raise PermissionDenied()
    row = (
        await Application.select(*_REF_COLUMNS)
        .where(
            (Application.id == application_id)
            & received_leads(actor)
            & Application.consent.withdrawn_at.is_null()
        )
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    return _ref(row, MessageSide.STAFF)


async def thread(ref: ThreadRef, *, can_post: bool) -> Thread:
    """Every message of the thread, oldest first, as the side of `ref` sees it."""
    head = (
        await Application.select(
            Application.product.name.as_alias("product_name"),
            Application.institution.name.as_alias("institution_name"),
        )
        .where(Application.id == ref.application_id)
        .first()
    )
    assert head is not None  # the ref was just resolved from this row
    rows = (
        await Message.select(
            Message.id,
            Message.side,
            Message.body_encrypted,
            Message.created_at,
            Message.read_at,
            Message.sender.display_name.as_alias("sender_name"),
        )
        .where(Message.application == ref.application_id)
        .order_by(Message.id)
    )
    messages = []
    for row in rows:
        mine = row["side"] == ref.side
        messages.append(
            ThreadMessage(
                id=row["id"],
                mine=mine,
                sender_label=_sender_label(row, ref.side, head["institution_name"]),
                body=decrypt_field(row["body_encrypted"], context=BODY_CONTEXT),
                at=row["created_at"],
                read=row["read_at"] is not None,
            )
        )
    return Thread(
        application_id=ref.application_id,
        reference=ref.reference,
        product_name=head["product_name"],
        institution_name=head["institution_name"],
        messages=tuple(messages),
        can_post=can_post,
    )


def _sender_label(row: dict[str, Any], viewer: MessageSide, institution_name: str) -> str:
    if row["side"] == MessageSide.BORROWER:
        return _("我") if viewer == MessageSide.BORROWER else _("借款人")
    # Borrowers see the institution, not the name of the staff member who wrote.
    return institution_name if viewer == MessageSide.BORROWER else row["sender_name"]


async def unread_count(ref: ThreadRef) -> int:
    """Messages from the other side that the side of `ref` has not opened yet."""
    return await Message.count().where(
        (Message.application == ref.application_id)
        & (Message.side != ref.side)
        & Message.read_at.is_null()
    )
