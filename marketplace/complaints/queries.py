"""Read models for the complaint pages: the borrower's list and timeline, the operators'
desk (filters, export), the institution's list, and each side's detail with the actions
it may take now (from the one transition table). Borrowers and institutions never see
internal notes; personal text is decrypted here for the page that shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from marketplace import storage
from marketplace.accounts.role_matrix import ensure_fresh
from marketplace.accounts.roles import permissions_of
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.collections.kinds import CHANNEL_LABELS, RESULT_LABELS, Channel, Result
from marketplace.complaints.services import (
    BODY_CONTEXT,
    CONTACT_CONTEXT,
    DESCRIPTION_CONTEXT,
    RATING_CONTEXT,
    own,
    scope,
)
from marketplace.complaints.statuses import (
    CATEGORIES,
    CATEGORY_LABELS,
    COMPLAINT_MACHINE,
    FILE,
    HANDLE,
    KIND_LABELS,
    REASSIGNABLE,
    SIDE_LABELS,
    VIEW,
    Category,
    ComplaintKind,
    ComplaintStatus,
    Side,
)
from marketplace.complaints.tables import Complaint, ComplaintAttachment, ComplaintMessage
from marketplace.db import transaction
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import N_, _
from marketplace.institutions.tables import Institution
from marketplace.loancalc import SHANGHAI
from marketplace.security import decrypt_field, mask_email, mask_mobile
from marketplace.spreadsheets import Export, export_file
from marketplace.statemachine import Actions

S = ComplaintStatus
MAX_EXPORT_ROWS = 10_000

# What the borrower reads as the next step, per status.
NEXT_STEPS: dict[ComplaintStatus, str] = {
    S.OPEN: N_("等待客服受理"),
    S.ASSIGNED: N_("客服处理中"),
    S.AWAITING_INSTITUTION: N_("等待机构答复"),
    S.RESOLVED: N_("请查看处理结果并评价"),
    S.ESCALATED: N_("平台复核中"),
    S.CLOSED: N_("已结束"),
}
EVENT_LABELS: dict[str, str] = {
    "filed": N_("提交"),
    "assign": N_("客服受理"),
    "reassign": N_("改派客服"),
    "forward": N_("转机构处理"),
    "answer": N_("机构答复"),
    "resolve": N_("办结"),
    "escalate": N_("升级处理"),
    "reopen": N_("不满意，重新投诉"),
    "close": N_("关闭"),
    "autoclose": N_("到期自动关闭"),
    "rate": N_("评价"),
    "reply": N_("回复"),
    "note": N_("内部备注"),
}
# Actions each side takes from its own page (the rest are other sides').
BORROWER_ACTIONS = ("rate", "reopen")
INSTITUTION_ACTIONS = ("answer",)


def _require(actor: Actor, *permissions: str) -> None:
    if not any(actor.can(p) for p in permissions):
        raise PermissionDenied()


def _decrypt(token: str, context: str) -> str:
    return decrypt_field(token, context=context) if token else ""


def _mask_contact(contact: str) -> str:
    if not contact:
        return ""
    return mask_email(contact) if "@" in contact else mask_mobile(contact)


@dataclass(frozen=True)
class Attachment:
    id: int
    name: str
    size: int


@dataclass(frozen=True)
class Step:
    event: str
    event_label: str
    side: str
    side_label: str
    author: str
    body: str
    internal: bool
    at: datetime
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class ComplaintRow:
    id: int
    reference: str
    kind: str
    kind_label: str
    category_label: str
    target: str  # the institution's short name, or 平台
    institution_id: int | None
    status: str
    status_label: str
    next_step: str
    due_at: datetime | None
    overdue: bool
    assignee: str
    created_at: datetime
    rating: int | None


@dataclass(frozen=True)
class ComplaintDetail(ComplaintRow):
    description: str = ""
    contact: str = ""  # masked, anonymous feedback only
    application_reference: str = ""
    loan_id: int | None = None
    # The collection contact the complaint is about, in one line (time, channel, result,
    # days overdue then), or "".
    collection_contact: str = ""
    rating_comment: str = ""
    resolved_within_sla: bool | None = None
    version: int = 0
    steps: tuple[Step, ...] = ()
    actions: Actions = field(default_factory=Actions)
    can_reply: bool = False
    can_reassign: bool = False


_ROW_COLUMNS = (
    Complaint.id,
    Complaint.reference,
    Complaint.kind,
    Complaint.category,
    Complaint.institution,
    Complaint.institution.short_name.as_alias("institution_name"),
    Complaint.status,
    Complaint.due_at,
    Complaint.overdue,
    Complaint.assignee.display_name.as_alias("assignee_name"),
    Complaint.created_at,
    Complaint.rating,
)


def _row(r: dict[str, Any]) -> dict[str, Any]:
    status = S(r["status"])
    return {
        "id": r["id"],
        "reference": r["reference"],
        "kind": r["kind"],
        "kind_label": _(KIND_LABELS[ComplaintKind(r["kind"])]),
        "category_label": _(CATEGORY_LABELS[Category(r["category"])]),
        "target": r["institution_name"] or _("平台"),
        "institution_id": r["institution"],
        "status": r["status"],
        "status_label": COMPLAINT_MACHINE.label(status),
        "next_step": _(NEXT_STEPS[status]),
        "due_at": r["due_at"] if status is not S.CLOSED else None,
        "overdue": bool(r["overdue"]),
        "assignee": r["assignee_name"] or "",
        "created_at": r["created_at"],
        "rating": r["rating"],
    }


async def own_complaints(actor: Actor) -> list[ComplaintRow]:
    _require(actor, FILE)
    rows = (
        await Complaint.select(*_ROW_COLUMNS)
        .where(Complaint.borrower == actor.user_id)
        .order_by(Complaint.created_at, ascending=False)
    )
    return [ComplaintRow(**_row(r)) for r in rows]


@dataclass(frozen=True)
class FilingOptions:
    institutions: list[tuple[int, str]]
    # (reference, "product · institution", institution id) of the borrower's applications
    applications: list[tuple[str, str, int]]
    categories: list[tuple[str, str]]


def categories_of(kind: ComplaintKind) -> list[tuple[str, str]]:
    return [(str(c), _(CATEGORY_LABELS[c])) for c in CATEGORIES[kind]]


async def filing_options(actor: Actor) -> FilingOptions:
    _require(actor, FILE)
    rows = (
        await Application.select(
            Application.reference,
            Application.institution,
            Application.institution.short_name.as_alias("institution_name"),
            Application.product.name.as_alias("product_name"),
        )
        .where(Application.borrower == actor.user_id)
        .order_by(Application.submitted_at, ascending=False)
    )
    institutions = {r["institution"]: r["institution_name"] for r in rows}
    return FilingOptions(
        institutions=sorted(institutions.items()),
        applications=[
            (r["reference"], f"{r['product_name']} · {r['institution_name']}", r["institution"])
            for r in rows
        ],
        categories=categories_of(ComplaintKind.COMPLAINT),
    )


async def _steps(complaint_id: int, *, internal: bool) -> tuple[Step, ...]:
    where: Any = ComplaintMessage.complaint == complaint_id
    if not internal:
        where &= ComplaintMessage.internal.eq(False)
    rows = (
        await ComplaintMessage.select(
            ComplaintMessage.id,
            ComplaintMessage.event,
            ComplaintMessage.side,
            ComplaintMessage.author.display_name.as_alias("author_name"),
            ComplaintMessage.body_encrypted,
            ComplaintMessage.internal,
            ComplaintMessage.created_at,
        )
        .where(where)
        .order_by(ComplaintMessage.created_at)
        .order_by(ComplaintMessage.id)
    )
    files: dict[int, list[Attachment]] = {}
    for f in await ComplaintAttachment.select(
        ComplaintAttachment.id,
        ComplaintAttachment.message,
        ComplaintAttachment.original_name,
        ComplaintAttachment.size,
    ).where(ComplaintAttachment.complaint == complaint_id):
        files.setdefault(f["message"], []).append(
            Attachment(f["id"], f["original_name"], f["size"])
        )
    return tuple(
        Step(
            event=r["event"],
            event_label=_(EVENT_LABELS.get(r["event"], r["event"])),
            side=r["side"],
            side_label=_(SIDE_LABELS[Side(r["side"])]),
            # Staff names stay inside their organisation: the borrower sees the side only.
            author=r["author_name"] or "" if internal else "",
            body=_decrypt(r["body_encrypted"], BODY_CONTEXT),
            internal=r["internal"],
            at=r["created_at"],
            attachments=tuple(files.get(r["id"], ())),
        )
        for r in rows
    )


def _collection_contact(r: dict[str, Any]) -> str:
    if r["collection_contact"] is None:
        return ""
    return _(
        "#{id} · {at} · {channel} · {result} · 当时逾期{dpd}天",
        id=r["collection_contact"],
        at=r["contacted_at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        channel=_(CHANNEL_LABELS[Channel(r["contact_channel"])]),
        result=_(RESULT_LABELS[Result(r["contact_result"])]),
        dpd=r["contact_dpd"],
    )


async def _detail(
    actor: Actor, where: Any, *, internal: bool, action_names: tuple[str, ...] | None
) -> ComplaintDetail:
    r = (
        await Complaint.select(
            *_ROW_COLUMNS,
            Complaint.description_encrypted,
            Complaint.contact_encrypted,
            Complaint.application.reference.as_alias("application_reference"),
            Complaint.loan,
            Complaint.collection_contact,
            Complaint.collection_contact.contacted_at.as_alias("contacted_at"),
            Complaint.collection_contact.channel.as_alias("contact_channel"),
            Complaint.collection_contact.result.as_alias("contact_result"),
            Complaint.collection_contact.dpd.as_alias("contact_dpd"),
            Complaint.rating_comment_encrypted,
            Complaint.resolved_within_sla,
            Complaint.version,
        )
        .where(where)
        .first()
    )
    if r is None:
        raise NotFound(_("找不到该投诉"))
    actions = COMPLAINT_MACHINE.actions(r["status"], actor)
    names = [a for a in actions.items if action_names is None or a.name in action_names]
    if r["institution"] is None:
        names = [a for a in names if a.name != "forward"]
    names = [a for a in names if a.name != "autoclose"]
    status = S(r["status"])
    side_can_reply = {
        "borrower": status in {S.OPEN, S.ASSIGNED, S.AWAITING_INSTITUTION, S.ESCALATED, S.RESOLVED},
        "operator": actor.can(HANDLE)
        and status in {S.OPEN, S.ASSIGNED, S.AWAITING_INSTITUTION, S.ESCALATED},
        "staff": status is S.AWAITING_INSTITUTION and actor.can("complaint.answer"),
    }
    return ComplaintDetail(
        **_row(r),
        description=_decrypt(r["description_encrypted"], DESCRIPTION_CONTEXT),
        contact=_mask_contact(_decrypt(r["contact_encrypted"], CONTACT_CONTEXT))
        if internal
        else "",
        application_reference=r["application_reference"] or "",
        loan_id=r["loan"],
        collection_contact=_collection_contact(r),
        rating_comment=_decrypt(r["rating_comment_encrypted"], RATING_CONTEXT),
        resolved_within_sla=r["resolved_within_sla"],
        version=r["version"],
        steps=await _steps(r["id"], internal=internal),
        actions=Actions(tuple(names)),
        can_reply=side_can_reply.get(actor.kind, False),
        can_reassign=actor.can(HANDLE) and status in REASSIGNABLE,
    )


async def own_complaint(actor: Actor, reference: str) -> ComplaintDetail:
    _require(actor, FILE)
    return await _detail(
        actor, own(actor, reference), internal=False, action_names=BORROWER_ACTIONS
    )


async def complaint_for_operator(actor: Actor, complaint_id: int) -> ComplaintDetail:
    _require(actor, VIEW, HANDLE)
    return await _detail(actor, scope(actor, complaint_id), internal=True, action_names=None)


async def complaint_for_institution(actor: Actor, complaint_id: int) -> ComplaintDetail:
    _require(actor, "complaint.answer")
    return await _detail(
        actor, scope(actor, complaint_id), internal=False, action_names=INSTITUTION_ACTIONS
    )


async def handlers() -> list[tuple[int, str]]:
    """Operators who may be assigned complaints: (id, name)."""
    rows = await User.select(User.id, User.role, User.display_name).where(
        (User.kind == "operator") & (User.status == "active")
    )
    await ensure_fresh()
    return [
        (r["id"], r["display_name"])
        for r in rows
        if HANDLE in permissions_of("operator", r["role"])
    ]


# --- the desk ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeskFilters:
    status: str = ""
    kind: str = ""
    institution_id: int | None = None  # 0: against the platform
    category: str = ""
    assignee_id: int | None = None
    overdue: bool = False
    since: date | None = None
    until: date | None = None

    def as_query(self) -> dict[str, str]:
        values = {
            "status": self.status,
            "kind": self.kind,
            "institution": "" if self.institution_id is None else str(self.institution_id),
            "category": self.category,
            "assignee": "" if self.assignee_id is None else str(self.assignee_id),
            "overdue": "1" if self.overdue else "",
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in values.items() if v}


def _desk_where(filters: DeskFilters) -> Any:
    where: Any = Complaint.id > 0
    if filters.status:
        where &= Complaint.status == filters.status
    if filters.kind:
        where &= Complaint.kind == filters.kind
    if filters.institution_id == 0:
        where &= Complaint.institution.is_null()
    elif filters.institution_id is not None:
        where &= Complaint.institution == filters.institution_id
    if filters.category:
        where &= Complaint.category == filters.category
    if filters.assignee_id is not None:
        where &= Complaint.assignee == filters.assignee_id
    if filters.overdue:
        where &= Complaint.overdue.eq(True)
    if filters.since:
        where &= Complaint.created_at >= datetime.combine(filters.since, time(), SHANGHAI)
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(), SHANGHAI)
        where &= Complaint.created_at < end
    return where


async def desk(
    actor: Actor, filters: DeskFilters, *, page: int = 1, per_page: int = 50
) -> tuple[list[ComplaintRow], int]:
    """Overdue first, then the nearest deadline, then the newest."""
    _require(actor, VIEW, HANDLE)
    where = _desk_where(filters)
    total = await Complaint.count().where(where)
    rows = (
        await Complaint.select(*_ROW_COLUMNS)
        .where(where)
        .order_by(Complaint.overdue, ascending=False)
        .order_by(Complaint.due_at)
        .order_by(Complaint.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [ComplaintRow(**_row(r)) for r in rows], total


async def desk_institutions() -> list[tuple[int, str]]:
    rows = await Institution.select(Institution.id, Institution.short_name).order_by(
        Institution.short_name
    )
    return [(r["id"], r["short_name"]) for r in rows]


async def export_desk(actor: Actor, filters: DeskFilters, file_format: str) -> Export:
    """The desk's rows as a file, audited with the filters; no complaint text (personal)."""
    rows, total = await desk(actor, filters, per_page=MAX_EXPORT_ROWS)
    async with transaction():
        await audit(
            actor,
            "complaint.export",
            "complaint_desk",
            "desk",
            filters=filters.as_query(),
            rows=len(rows),
            format=file_format,
        )
    headers = [
        _("编号"),
        _("类型"),
        _("类别"),
        _("投诉对象"),
        _("状态"),
        _("处理人"),
        _("提交时间"),
        _("当前阶段期限"),
        _("是否超期"),
        _("评分"),
    ]
    cells: list[list[object]] = [
        [
            r.reference,
            r.kind_label,
            r.category_label,
            r.target,
            r.status_label,
            r.assignee,
            r.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
            r.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if r.due_at else "",
            _("超期") if r.overdue else "",
            r.rating or "",
        ]
        for r in rows
    ]
    return export_file(
        file_format,
        "complaints",
        _("投诉与反馈"),
        headers,
        cells,
        limit=MAX_EXPORT_ROWS,
        truncated=total > len(rows),
    )


async def institution_complaints(actor: Actor) -> list[ComplaintRow]:
    """The complaints forwarded to the actor's institution: awaiting an answer first."""
    _require(actor, "complaint.answer")
    rows = (
        await Complaint.select(*_ROW_COLUMNS)
        .where(
            (Complaint.institution == actor.institution_id) & Complaint.forwarded_at.is_not_null()
        )
        .order_by(Complaint.created_at, ascending=False)
    )
    items = [ComplaintRow(**_row(r)) for r in rows]
    return sorted(items, key=lambda c: c.status != S.AWAITING_INSTITUTION)


# --- attachments ---------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentFile:
    name: str
    content_type: str
    content: bytes


async def attachment(actor: Actor, complaint: int | str, attachment_id: int) -> AttachmentFile:
    """A file on a complaint the actor may see (a borrower by reference, staff and
    operators by id); internal notes' files are operators' only. Staff and operators'
    downloads are audited."""
    if actor.kind == "borrower":
        _require(actor, FILE)
        where = own(actor, str(complaint))
    else:
        where = scope(actor, int(complaint))
    row = await Complaint.select(Complaint.id).where(where).first()
    if row is None:
        raise NotFound(_("找不到该附件"))
    query = ComplaintAttachment.select(
        ComplaintAttachment.storage_key,
        ComplaintAttachment.original_name,
        ComplaintAttachment.content_type,
    ).where(
        (ComplaintAttachment.id == attachment_id) & (ComplaintAttachment.complaint == row["id"])
    )
    if actor.kind != "operator":
        query = query.where(ComplaintAttachment.message._.internal == False)  # noqa: E712
    found = await query.first()
    if found is None:
        raise NotFound(_("找不到该附件"))
    if actor.kind != "borrower":
        async with transaction():
            await audit(
                actor, "complaint.attachment_download", "complaint", row["id"], file=attachment_id
            )
    return AttachmentFile(
        found["original_name"], found["content_type"], await storage.get(found["storage_key"])
    )
