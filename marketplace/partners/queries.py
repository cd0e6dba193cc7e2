"""Read models of partner onboarding: the operators' queue and detail, and the page the
applicant's status link opens. Labels are translated when read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from piccolo.columns.combination import Combinable

from marketplace.actors import Actor
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.partners.services import (
    DOCUMENT_KINDS,
    INSTITUTION_KINDS,
    application_id_for_token,
)
from marketplace.partners.statuses import PARTNER_MACHINE, STATUS_HINTS, PartnerStatus
from marketplace.partners.tables import PartnerApplication, PartnerDocument, PartnerMessage
from marketplace.statemachine import Actions

P = PartnerApplication


@dataclass(frozen=True)
class QueueRow:
    id: int
    reference: str
    company_name: str
    credit_code: str
    kind_label: str
    city: str
    status: str
    status_label: str
    submitted_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DocumentRow:
    id: int
    kind_label: str
    name: str
    media_type: str
    size_kb: int
    uploaded_at: datetime

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


@dataclass(frozen=True)
class MessageRow:
    author_kind: str
    author_label: str
    status_label: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class ApplicationDetail:
    id: int
    reference: str
    company_name: str
    short_name: str
    credit_code: str
    kind_label: str
    city: str
    business_licence_no: str
    business_licence_expires_on: date | None
    licence_type: str
    licence_no: str
    licence_issuer: str
    licence_expires_on: date
    contact_name: str
    contact_mobile_masked: str
    contact_email_masked: str
    status: str
    status_label: str
    status_hint: str
    institution_id: int | None
    submitted_at: datetime
    documents: list[DocumentRow]
    messages: list[MessageRow]
    actions: Actions


STATUS_CHOICES = [str(status) for status in PartnerStatus]


def _kind_label(kind: str) -> str:
    return _(INSTITUTION_KINDS[kind]) if kind in INSTITUTION_KINDS else kind


def _status_label(status: str) -> str:
    return PARTNER_MACHINE.label(status)


async def review_queue(
    actor: Actor, *, status: str = "", q: str = "", page: int = 1, per_page: int = 50
) -> tuple[list[QueueRow], int]:
    """Open applications first (oldest first), filtered by status and by name, code or
    reference."""
    if not actor.can("institution.review"):
        raise PermissionDenied()
    where: Combinable = P.id > 0
    if status:
        where &= P.status == status
    if q:
        where &= (
            P.company_name.ilike(f"%{q}%")
            | P.short_name.ilike(f"%{q}%")
            | (P.credit_code == q.upper())
            | (P.reference == q.upper())
        )
    total = await P.count().where(where)
    rows = (
        await P.select(
            P.id,
            P.reference,
            P.company_name,
            P.credit_code,
            P.kind,
            P.city,
            P.status,
            P.submitted_at,
            P.updated_at,
        )
        .where(where)
        .order_by(P.submitted_at)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [
        QueueRow(
            id=row["id"],
            reference=row["reference"],
            company_name=row["company_name"],
            credit_code=row["credit_code"],
            kind_label=_kind_label(row["kind"]),
            city=row["city"],
            status=row["status"],
            status_label=_status_label(row["status"]),
            submitted_at=row["submitted_at"],
            updated_at=row["updated_at"],
        )
        for row in rows
    ], total


async def _documents(application_id: int) -> list[DocumentRow]:
    rows = (
        await PartnerDocument.select()
        .where(PartnerDocument.application == application_id)
        .order_by(PartnerDocument.id)
    )
    return [
        DocumentRow(
            id=row["id"],
            kind_label=_(DOCUMENT_KINDS.get(row["kind"], row["kind"])),
            name=row["original_name"],
            media_type=row["media_type"],
            size_kb=max(1, row["size_bytes"] // 1024),
            uploaded_at=row["uploaded_at"],
        )
        for row in rows
    ]


async def _messages(application_id: int) -> list[MessageRow]:
    rows = (
        await PartnerMessage.select()
        .where(PartnerMessage.application == application_id)
        .order_by(PartnerMessage.id)
    )
    return [
        MessageRow(
            author_kind=row["author_kind"],
            author_label=_("平台审核") if row["author_kind"] == "operator" else _("申请机构"),
            status_label=_status_label(row["status"]),
            body=row["body"],
            created_at=row["created_at"],
        )
        for row in rows
    ]


async def _detail(application_id: int, actor: Actor) -> ApplicationDetail:
    row = await P.select().where(P.id == application_id).first()
    if row is None:
        raise NotFound(_("找不到该入驻申请"))
    status = PARTNER_MACHINE.state(row["status"])
    return ApplicationDetail(
        id=row["id"],
        reference=row["reference"],
        company_name=row["company_name"],
        short_name=row["short_name"],
        credit_code=row["credit_code"],
        kind_label=_kind_label(row["kind"]),
        city=row["city"],
        business_licence_no=row["business_licence_no"],
        business_licence_expires_on=row["business_licence_expires_on"],
        licence_type=row["licence_type"],
        licence_no=row["licence_no"],
        licence_issuer=row["licence_issuer"],
        licence_expires_on=row["licence_expires_on"],
        contact_name=row["contact_name"],
        contact_mobile_masked=row["contact_mobile_masked"],
        contact_email_masked=row["contact_email_masked"],
        status=status,
        status_label=PARTNER_MACHINE.label(status),
        status_hint=_(STATUS_HINTS[status]),
        institution_id=row["institution"],
        submitted_at=row["submitted_at"],
        documents=await _documents(application_id),
        messages=await _messages(application_id),
        actions=PARTNER_MACHINE.actions(status, actor),
    )


async def application_for_review(actor: Actor, application_id: int) -> ApplicationDetail:
    if not actor.can("institution.review"):
        raise PermissionDenied()
    return await _detail(application_id, actor)


async def application_for_applicant(applicant: Actor, token: str) -> ApplicationDetail:
    """What the status link shows; `actions` holds "reply" when more is asked for."""
    return await _detail(await application_id_for_token(token), applicant)
