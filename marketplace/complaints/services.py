"""Verbs on complaints and feedback. Each takes the actor, runs in one transaction with
its audit row, and tells the other sides in their inbox (the borrower also by SMS, with
the reference only — never personal data).

Operators' state-changing verbs carry the `version` the page showed: two operators acting
on the same complaint at once (two "assign" clicks) — exactly one wins, the other is told
to reload. Every stage sets `due_at` (SLA parameters); `run_sla(now)` sends one reminder
per stage before it, marks the stage overdue after it, and closes resolved complaints the
borrower left unrated for `complaint_autoclose_days`.

Demo modules and tests call these verbs directly with Actor objects (no HTTP).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from marketplace import clock, storage
from marketplace.accounts.limits import Limit, reserve
from marketplace.accounts.role_matrix import ensure_fresh
from marketplace.accounts.roles import permissions_of
from marketplace.accounts.tables import User
from marketplace.actors import SYSTEM, Actor
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.collections.tables import CollectionContact
from marketplace.complaints.statuses import (
    ACTIVE,
    ANSWER,
    AUTOCLOSE,
    CATEGORIES,
    COMPLAINT_MACHINE,
    FILE,
    HANDLE,
    REASSIGNABLE,
    Category,
    ComplaintKind,
    ComplaintStatus,
    Side,
)
from marketplace.complaints.tables import (
    BODY_MAX_LENGTH,
    CONTACT_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    RATING_COMMENT_MAX_LENGTH,
    Complaint,
    ComplaintAttachment,
    ComplaintMessage,
)
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied, Throttled, ValidationFailed
from marketplace.files import UploadedFile, safe_name, sniff
from marketplace.i18n import _
from marketplace.inbox.services import notify_borrower, notify_institution, notify_users
from marketplace.loans.tables import Loan
from marketplace.notifications.services import send_email, send_sms
from marketplace.parameters.services import get_parameters
from marketplace.parsing import FieldError, column_length, parse_text
from marketplace.security import decrypt_field, encrypt_field, normalise_mobile, validate_mobile

S = ComplaintStatus
MAX_FILES = 3
MAX_FILE_BYTES = 5 * 1024 * 1024
HOUR = 3600
# Anonymous feedback per client address and hour (the public form's limit).
FEEDBACK_PER_HOUR = 5
# An answer to anonymous feedback that left a mobile goes out whole in one (long) SMS.
SMS_ANSWER_MAX_LENGTH = 300
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,63}\.[A-Za-z]{2,20}")

# The SLA run acts as the system: it may close resolved complaints nobody rated.
SLA_ACTOR = replace(SYSTEM, label="complaints.sla", permissions=frozenset({AUTOCLOSE}))

DESCRIPTION_CONTEXT = "complaint.description"
BODY_CONTEXT = "complaint.message"
CONTACT_CONTEXT = "complaint.contact"
RATING_CONTEXT = "complaint.rating_comment"

SLA_PARAMETERS = (
    "complaint_assign_hours",
    "complaint_institution_hours",
    "complaint_resolve_hours",
    "complaint_reminder_lead_hours",
    "complaint_autoclose_days",
)


@dataclass(frozen=True)
class ComplaintInput:
    """What a borrower filed: raw form values (parsed by `file_complaint`)."""

    target: str  # "platform" or an institution id
    category: str
    description: str
    application: str = ""  # an application reference of theirs, optional


@dataclass(frozen=True)
class FeedbackInput:
    category: str
    description: str
    contact: str = ""  # mobile or e-mail, anonymous senders only


def admin_link(complaint_id: int) -> str:
    return f"/admin/complaints/{complaint_id}"


def console_link(complaint_id: int) -> str:
    return f"/console/complaints/{complaint_id}"


def borrower_link(reference: str) -> str:
    return f"/me/complaints/{reference}"


def _text(raw: object, field: str, label: str, maximum: int, *, required: bool = True) -> str:
    try:
        return parse_text(
            raw, label=label, max_length=maximum, min_length=1 if required else 0, multiline=True
        )
    except FieldError as exc:
        raise DomainError(exc.message, field=field) from exc


def _category(raw: str, kind: ComplaintKind) -> Category:
    if raw not in {str(c) for c in CATEGORIES[kind]}:
        raise DomainError(_("请选择类别"), field="category")
    return Category(raw)


def check_files(files: Sequence[UploadedFile]) -> list[tuple[UploadedFile, str]]:
    """Every file or none: at most 3, each a JPEG, PNG or PDF (by its bytes) of ≤ 5 MB."""
    files = [f for f in files if f.filename or f.content]
    if len(files) > MAX_FILES:
        raise DomainError(_("最多上传{n}个附件", n=MAX_FILES), field="files")
    checked = []
    for upload in files:
        media_type = sniff(upload.filename, upload.content)
        if len(upload.content) > MAX_FILE_BYTES:
            raise DomainError(_("附件不能超过5MB"), field="files")
        if not upload.content:
            raise DomainError(_("附件是空的"), field="files")
        if media_type is None:
            raise DomainError(
                _("附件仅支持JPG、PNG图片或PDF文件，且文件内容须与文件名相符"), field="files"
            )
        checked.append((upload, media_type))
    return checked


async def _sla() -> dict[str, int]:
    return {key: int(value) for key, value in (await get_parameters(*SLA_PARAMETERS)).items()}


def _stage_due(status: S, row: Mapping[str, Any], now: datetime, sla: Mapping[str, int]) -> Any:
    """When the stage `status` begins now is due (None: nothing is due)."""
    if status is S.OPEN:
        return now + timedelta(hours=sla["complaint_assign_hours"])
    if status is S.ASSIGNED:
        return row["resolve_due_at"]
    if status is S.AWAITING_INSTITUTION:
        return now + timedelta(hours=sla["complaint_institution_hours"])
    if status is S.ESCALATED:
        return now + timedelta(hours=sla["complaint_resolve_hours"])
    if status is S.RESOLVED:
        return now + timedelta(days=sla["complaint_autoclose_days"])
    return None


async def _desk() -> list[int]:
    """The customer service desk: active operators who may handle complaints."""
    rows = await User.select(User.id, User.role).where(
        (User.kind == "operator") & (User.status == "active")
    )
    await ensure_fresh()
    return [r["id"] for r in rows if HANDLE in permissions_of("operator", r["role"])]


async def _valid_assignee(assignee_id: int) -> None:
    row = (
        await User.select(User.role)
        .where((User.id == assignee_id) & (User.kind == "operator") & (User.status == "active"))
        .first()
    )
    await ensure_fresh()
    if row is None or HANDLE not in permissions_of("operator", row["role"]):
        raise DomainError(_("请选择可以处理投诉的客服人员"), field="assignee")


async def _new_reference(now: datetime) -> str:
    rows = await Complaint.raw("SELECT nextval('complaint_reference_seq') AS n")
    return f"TS{clock.shanghai(now):%Y%m%d}-{int(rows[0]['n']):06d}"


async def _message(
    complaint_id: int,
    side: Side,
    actor: Actor,
    event: str,
    body: str = "",
    *,
    internal: bool = False,
    files: Sequence[tuple[UploadedFile, str]] = (),
) -> int:
    rows = await ComplaintMessage.insert(
        ComplaintMessage(
            complaint=complaint_id,
            side=side,
            author=actor.user_id,
            event=event,
            body_encrypted=encrypt_field(body, context=BODY_CONTEXT) if body else "",
            internal=internal,
            created_at=clock.now(),
        )
    ).returning(ComplaintMessage.id)
    message_id = int(rows[0]["id"])
    for upload, media_type in files:
        key = storage.new_key(f"complaints/{complaint_id}")
        await storage.put(key, upload.content, content_type=media_type)
        await ComplaintAttachment.insert(
            ComplaintAttachment(
                complaint=complaint_id,
                message=message_id,
                storage_key=key,
                content_type=media_type,
                original_name=safe_name(
                    upload.filename,
                    media_type,
                    max_length=column_length(ComplaintAttachment.original_name),
                    fallback=_("附件"),
                ),
                size=len(upload.content),
                sha256=hashlib.sha256(upload.content).hexdigest(),
            )
        )
    return message_id


def _side_of(actor: Actor) -> Side:
    return {
        "borrower": Side.BORROWER,
        "operator": Side.OPERATOR,
        "staff": Side.INSTITUTION,
    }.get(actor.kind, Side.SYSTEM)


async def _tell_borrower(row: Mapping[str, Any], title: str) -> None:
    if row["borrower"] is None:
        return
    sms = _("【LoanMart】您的投诉/反馈{ref}有新进展，请登录“我的投诉”查看。", ref=row["reference"])
    await notify_borrower(
        row["borrower"], "complaint.update", title, borrower_link(row["reference"]), sms=sms
    )


def sender_contact(row: Mapping[str, Any]) -> str:
    """The mobile or e-mail an anonymous sender left to be answered at, or ""."""
    if row["borrower"] is not None or not row["contact_encrypted"]:
        return ""
    return decrypt_field(row["contact_encrypted"], context=CONTACT_CONTEXT)


def _check_answer_length(row: Mapping[str, Any], body: str, field: str) -> None:
    if (
        "@" not in (contact := sender_contact(row))
        and contact
        and len(body) > SMS_ANSWER_MAX_LENGTH
    ):
        raise DomainError(
            _("对方留的是手机号，答复以短信发送，最多{n}字", n=SMS_ANSWER_MAX_LENGTH), field=field
        )


async def _answer_sender(row: Mapping[str, Any], body: str) -> None:
    """Anonymous feedback is answered where its sender asked: the operator's reply or
    result goes to the mobile (SMS) or e-mail they left, through the notifier (which keeps
    it encrypted); nothing is shown to the operator but the masked contact."""
    contact = sender_contact(row)
    if not contact:
        return
    text = _("【LoanMart】您的意见反馈{ref}有答复：{body}", ref=row["reference"], body=body)
    if "@" in contact:
        await send_email(contact, "complaint.answer", text)
    else:
        await send_sms(contact, "complaint.answer", text)


async def _tell_handler(row: Mapping[str, Any], title: str, *, skip: int | None = None) -> None:
    """The assignee, or the whole desk while nobody is assigned."""
    recipients = [row["assignee"]] if row["assignee"] else await _desk()
    await notify_users(
        [r for r in recipients if r != skip], "complaint.desk", title, admin_link(row["id"])
    )


async def _tell_institution(row: Mapping[str, Any], title: str) -> None:
    if row["institution"] is not None:
        await notify_institution(
            row["institution"],
            "complaint.institution",
            title,
            console_link(row["id"]),
            permission=ANSWER,
        )


# --- filing ---------------------------------------------------------------------------


async def _own_application(actor: Actor, reference: str) -> Mapping[str, Any]:
    row = (
        await Application.select(Application.id, Application.institution)
        .where((Application.reference == reference) & (Application.borrower == actor.user_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    return row


async def complaint_targets(actor: Actor) -> list[int]:
    """The institutions a borrower may complain about: those they applied to."""
    rows = (
        await Application.select(Application.institution)
        .where(Application.borrower == actor.user_id)
        .distinct()
    )
    return sorted(int(r["institution"]) for r in rows)


async def _insert(
    actor: Actor,
    kind: ComplaintKind,
    category: Category,
    description: str,
    *,
    borrower: int | None,
    institution: int | None = None,
    application: int | None = None,
    loan: int | None = None,
    collection_contact: int | None = None,
    contact: str = "",
    files: Sequence[tuple[UploadedFile, str]] = (),
) -> Mapping[str, Any]:
    now = clock.now()
    sla = await _sla()
    resolve_due = now + timedelta(hours=sla["complaint_resolve_hours"])
    reference = await _new_reference(now)
    rows = await Complaint.insert(
        Complaint(
            reference=reference,
            kind=kind,
            borrower=borrower,
            institution=institution,
            application=application,
            loan=loan,
            collection_contact=collection_contact,
            category=category,
            description_encrypted=encrypt_field(description, context=DESCRIPTION_CONTEXT),
            contact_encrypted=encrypt_field(contact, context=CONTACT_CONTEXT) if contact else "",
            status=S.OPEN,
            due_at=now + timedelta(hours=sla["complaint_assign_hours"]),
            resolve_due_at=resolve_due,
            created_at=now,
            updated_at=now,
        )
    ).returning(Complaint.id)
    complaint_id = int(rows[0]["id"])
    side = Side.BORROWER if borrower else Side.SYSTEM
    await _message(complaint_id, side, actor, "filed", files=files)
    await audit(
        actor,
        f"complaint.{'file' if kind is ComplaintKind.COMPLAINT else 'feedback'}",
        "complaint",
        complaint_id,
        reference=reference,
        category=str(category),
        institution=institution or 0,
    )
    await notify_users(
        await _desk(),
        "complaint.desk",
        _(
            "新的{kind}：{ref}",
            kind=_("投诉") if kind is ComplaintKind.COMPLAINT else _("反馈"),
            ref=reference,
        ),
        admin_link(complaint_id),
    )
    return {"id": complaint_id, "reference": reference}


async def file_complaint(
    actor: Actor, form: ComplaintInput, files: Sequence[UploadedFile] = ()
) -> str:
    """A borrower's complaint against the platform or an institution they applied to,
    optionally about one of their applications (and its loan); returns the reference.
    Someone else's application is a 404."""
    if not actor.can(FILE):
        raise PermissionDenied()
    errors: dict[str, str] = {}
    category: Category | None = None
    description = ""
    try:
        category = _category(form.category, ComplaintKind.COMPLAINT)
    except DomainError as exc:
        errors["category"] = exc.message
    try:
        description = _text(form.description, "description", _("投诉内容"), DESCRIPTION_MAX_LENGTH)
    except DomainError as exc:
        errors["description"] = exc.message
    institution: int | None = None
    if form.target != "platform":
        targets = await complaint_targets(actor)
        if (
            not form.target.isascii()
            or not form.target.isdigit()
            or int(form.target) not in targets
        ):
            errors["target"] = _("请选择投诉对象")
        else:
            institution = int(form.target)
    try:
        checked = check_files(files)
    except DomainError as exc:
        errors["files"] = exc.message
    if errors:
        raise ValidationFailed(errors)
    assert category is not None
    application = loan = contact = None
    if form.application:
        app = await _own_application(actor, form.application[:40])
        if institution is not None and app["institution"] != institution:
            raise ValidationFailed({"application": _("所选申请不属于该机构")})
        institution = institution or int(app["institution"])
        application = int(app["id"])
        loan_row = await Loan.select(Loan.id).where(Loan.application == application).first()
        loan = loan_row["id"] if loan_row else None
        if loan is not None and category is Category.COLLECTION_ABUSE:
            contact_row = (
                await CollectionContact.select(CollectionContact.id)
                .where(CollectionContact.loan == loan)
                .order_by(CollectionContact.contacted_at, ascending=False)
                .first()
            )
            contact = contact_row["id"] if contact_row else None
    async with transaction():
        row = await _insert(
            actor,
            ComplaintKind.COMPLAINT,
            category,
            description,
            borrower=actor.user_id,
            institution=institution,
            application=application,
            loan=loan,
            collection_contact=contact,
            files=checked,
        )
    return str(row["reference"])


def _contact(raw: str) -> str:
    text = _text(raw, "contact", _("联系方式"), CONTACT_MAX_LENGTH, required=False)
    if not text:
        return ""
    if "@" in text:
        if not _EMAIL.fullmatch(text):
            raise DomainError(_("请填写正确的手机号或邮箱"), field="contact")
        return text
    if validate_mobile(text) is not None or not normalise_mobile(text).isascii():
        raise DomainError(_("请填写正确的手机号或邮箱"), field="contact")
    return normalise_mobile(text)


async def send_feedback(actor: Actor, form: FeedbackInput) -> str:
    """Feedback from anyone: a signed-in borrower's is theirs (in their complaints list);
    an anonymous sender may leave a mobile or e-mail (encrypted). Limited per address."""
    signed_in = actor.kind == "borrower" and actor.user_id is not None
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field, parse in (
        ("category", lambda: _category(form.category, ComplaintKind.FEEDBACK)),
        (
            "description",
            lambda: _text(form.description, "description", _("反馈内容"), DESCRIPTION_MAX_LENGTH),
        ),
        ("contact", lambda: "" if signed_in else _contact(form.contact)),
    ):
        try:
            values[field] = parse()
        except DomainError as exc:
            errors[field] = exc.message
    if errors:
        raise ValidationFailed(errors)
    if not signed_in and (
        wait := await reserve(Limit(f"complaints:feedback:{actor.ip}", FEEDBACK_PER_HOUR, HOUR))
    ):
        raise Throttled(
            _("提交过于频繁，请{minutes}分钟后再试", minutes=max(1, wait // 60)), retry_after=wait
        )
    async with transaction():
        row = await _insert(
            actor,
            ComplaintKind.FEEDBACK,
            values["category"],
            values["description"],
            borrower=actor.user_id if signed_in else None,
            contact=values["contact"],
        )
    return str(row["reference"])


# --- finding a complaint as each side ------------------------------------------------


async def _locked(where: Any) -> dict[str, Any]:
    row = await Complaint.select().where(where).lock_rows().first()
    if row is None:
        raise NotFound(_("找不到该投诉"))
    return row


def scope(actor: Actor, complaint_id: int) -> Any:
    """Where-clause for a complaint this actor may see by id (operators: any; staff: their
    institution's, once forwarded to them). Borrowers go by reference (`own`)."""
    if actor.kind == "operator":
        if not (actor.can(HANDLE) or actor.can("complaint.view")):
            raise PermissionDenied()
        return Complaint.id == complaint_id
    if actor.kind == "staff" and actor.institution_id is not None:
        return (
            (Complaint.id == complaint_id)
            & (Complaint.institution == actor.institution_id)
            & Complaint.forwarded_at.is_not_null()
        )
    raise NotFound(_("找不到该投诉"))


def own(actor: Actor, reference: str) -> Any:
    return (Complaint.reference == reference[:24]) & (Complaint.borrower == (actor.user_id or 0))


def _check_version(row: Mapping[str, Any], version: int | None) -> None:
    if version is not None and row["version"] != version:
        raise DomainError(_("该投诉刚被他人处理过，请刷新页面查看最新状态"))


# --- moving through the lifecycle ------------------------------------------------------

_TIMES = {
    S.ASSIGNED: "assigned_at",
    S.AWAITING_INSTITUTION: "forwarded_at",
    S.RESOLVED: "resolved_at",
    S.ESCALATED: "escalated_at",
    S.CLOSED: "closed_at",
}


async def _move(
    actor: Actor,
    row: dict[str, Any],
    action: str,
    *,
    body: str = "",
    files: Sequence[tuple[UploadedFile, str]] = (),
    extra: Mapping[Any, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Take `action` on the locked `row`: the new state, its deadline (reminder and overdue
    marks reset), the step on the timeline, the audit row. Returns the updated row."""
    target = COMPLAINT_MACHINE.target(row["status"], action, actor)
    now = now or clock.now()
    due = _stage_due(target, row, now, await _sla())
    values: dict[Any, Any] = {
        Complaint.status: target,
        Complaint.due_at: due,
        Complaint.reminded_at: None,
        Complaint.overdue: False,
        Complaint.overdue_at: None,
        Complaint.version: row["version"] + 1,
        Complaint.updated_at: now,
    }
    if target in _TIMES:
        values[getattr(Complaint, _TIMES[target])] = now
    if target is S.RESOLVED and row["resolved_within_sla"] is None:
        values[Complaint.resolved_within_sla] = now <= row["resolve_due_at"]
    if action == "answer":
        values[Complaint.answered_at] = now
    values.update(extra or {})
    await Complaint.update(values).where(Complaint.id == row["id"])
    await _message(row["id"], _side_of(actor), actor, action, body, files=files)
    await audit(actor, f"complaint.{action}", "complaint", row["id"], reference=row["reference"])
    return {**row, **{column._meta.name: value for column, value in values.items()}}


async def assign(
    actor: Actor, complaint_id: int, assignee_id: int | None = None, *, version: int | None = None
) -> None:
    """Take an open complaint (or hand it to another operator who may handle complaints).
    Two operators assigning at once: the second finds the version moved and is refused."""
    if not actor.can(HANDLE):
        raise PermissionDenied()
    assignee = assignee_id or actor.user_id
    assert assignee is not None
    await _valid_assignee(assignee)
    async with transaction():
        row = await _locked(scope(actor, complaint_id))
        _check_version(row, version)
        if row["status"] in REASSIGNABLE:
            now = clock.now()
            await Complaint.update(
                {
                    Complaint.assignee: assignee,
                    Complaint.version: row["version"] + 1,
                    Complaint.updated_at: now,
                }
            ).where(Complaint.id == row["id"])
            await _message(row["id"], Side.OPERATOR, actor, "reassign", internal=True)
            await audit(actor, "complaint.assign", "complaint", row["id"], assignee=assignee)
        else:
            row = await _move(actor, row, "assign", extra={Complaint.assignee: assignee})
            await _tell_borrower(row, _("您的{ref}已受理，客服正在处理", ref=row["reference"]))
        if assignee != actor.user_id:
            await notify_users(
                [assignee],
                "complaint.desk",
                _("你被指派处理投诉 {ref}", ref=row["reference"]),
                admin_link(row["id"]),
            )


async def forward(
    actor: Actor, complaint_id: int, raw_body: object, *, version: int | None = None
) -> None:
    """Hand a complaint against an institution to it (→ awaiting_institution), with the
    operator's note to the institution (visible to the borrower too)."""
    body = _text(raw_body, "body", _("转办说明"), BODY_MAX_LENGTH)
    async with transaction():
        row = await _locked(scope(actor, complaint_id))
        _check_version(row, version)
        if row["institution"] is None:
            raise DomainError(_("针对平台的投诉和意见反馈由平台直接办结，不能转机构"))
        row = await _move(actor, row, "forward", body=body)
        await _tell_institution(row, _("平台转来投诉 {ref}，请在期限内答复", ref=row["reference"]))
        await _tell_borrower(row, _("您的投诉{ref}已转机构处理", ref=row["reference"]))


async def answer(
    actor: Actor,
    complaint_id: int,
    raw_body: object,
    files: Sequence[UploadedFile] = (),
    *,
    version: int | None = None,
) -> None:
    """The institution's answer resolves the complaint: the borrower then rates it, or
    reopens it (escalated back to the operators) if not satisfied."""
    body = _text(raw_body, "body", _("答复内容"), BODY_MAX_LENGTH)
    checked = check_files(files)
    async with transaction():
        row = await _locked(scope(actor, complaint_id))
        _check_version(row, version)
        row = await _move(actor, row, "answer", body=body, files=checked)
        await _tell_borrower(row, _("机构已答复您的投诉{ref}，请查看并评价", ref=row["reference"]))
        await _tell_handler(row, _("机构已答复投诉 {ref}", ref=row["reference"]))


async def resolve(
    actor: Actor, complaint_id: int, raw_body: object, *, version: int | None = None
) -> None:
    body = _text(raw_body, "body", _("处理结果"), BODY_MAX_LENGTH)
    async with transaction():
        row = await _locked(scope(actor, complaint_id))
        _check_version(row, version)
        _check_answer_length(row, body, "body")
        row = await _move(actor, row, "resolve", body=body)
        await _tell_borrower(row, _("您的{ref}已办结，请查看处理结果并评价", ref=row["reference"]))
        await _answer_sender(row, body)
        if row["forwarded_at"] is not None:
            await _tell_institution(row, _("投诉 {ref} 已由平台办结", ref=row["reference"]))


async def escalate(
    actor: Actor, complaint_id: int, raw_body: object, *, version: int | None = None
) -> None:
    body = _text(raw_body, "body", _("升级原因"), BODY_MAX_LENGTH)
    async with transaction():
        row = await _locked(scope(actor, complaint_id))
        _check_version(row, version)
        row = await _move(actor, row, "escalate", body=body)
        await _tell_borrower(row, _("您的投诉{ref}已升级处理", ref=row["reference"]))


async def close(actor: Actor, complaint_id: int, *, version: int | None = None) -> None:
    async with transaction():
        row = await _locked(scope(actor, complaint_id))
        _check_version(row, version)
        row = await _move(actor, row, "close")
        await _tell_borrower(row, _("您的{ref}已关闭", ref=row["reference"]))


def parse_rating(raw: object) -> int:
    text = str(raw or "").strip()
    if len(text) != 1 or text not in "12345":
        raise DomainError(_("请选择1到5分"), field="rating")
    return int(text)


async def rate(actor: Actor, reference: str, raw_rating: object, raw_comment: object) -> None:
    """The borrower's satisfaction (1–5, an optional comment) closes a resolved complaint."""
    rating = parse_rating(raw_rating)
    comment = _text(raw_comment, "comment", _("评价"), RATING_COMMENT_MAX_LENGTH, required=False)
    async with transaction():
        row = await _locked(own(actor, reference))
        row = await _move(
            actor,
            row,
            "rate",
            body=comment,
            extra={
                Complaint.rating: rating,
                Complaint.rated_at: clock.now(),
                Complaint.rating_comment_encrypted: encrypt_field(comment, context=RATING_CONTEXT)
                if comment
                else "",
            },
        )
        await _tell_handler(row, _("投诉 {ref} 已评价：{n}分", ref=row["reference"], n=rating))


async def reopen(actor: Actor, reference: str, raw_body: object) -> None:
    """Not satisfied (重新投诉), within `complaint_autoclose_days` of the resolution:
    escalated back to the operators."""
    body = _text(raw_body, "reason", _("不满意的原因"), BODY_MAX_LENGTH)
    async with transaction():
        row = await _locked(own(actor, reference))
        row = await _move(actor, row, "reopen", body=body)
        await _tell_handler(row, _("借款人对 {ref} 的处理不满意，已重新投诉", ref=row["reference"]))


# --- the thread ------------------------------------------------------------------------


async def reply(
    actor: Actor,
    complaint: int | str,
    raw_body: object,
    files: Sequence[UploadedFile] = (),
) -> None:
    """A reply on the thread: the borrower (by reference), an operator, or the institution
    (while it holds the complaint). Each other side is told."""
    body = _text(raw_body, "reply", _("回复内容"), BODY_MAX_LENGTH)
    checked = check_files(files)
    side = _side_of(actor)
    async with transaction():
        if side is Side.BORROWER:
            if not actor.can(FILE):
                raise PermissionDenied()
            row = await _locked(own(actor, str(complaint)))
        else:
            row = await _locked(scope(actor, int(complaint)))
            if not actor.can(HANDLE if side is Side.OPERATOR else ANSWER):
                raise PermissionDenied()
        allowed = ACTIVE if side is not Side.BORROWER else ACTIVE | {S.RESOLVED}
        if S(row["status"]) not in allowed or (
            side is Side.INSTITUTION and row["status"] != S.AWAITING_INSTITUTION
        ):
            raise DomainError(_("该投诉已结束，不能再回复"))
        if side is Side.OPERATOR:
            _check_answer_length(row, body, "reply")
        await _message(row["id"], side, actor, "reply", body, files=checked)
        await Complaint.update({Complaint.updated_at: clock.now()}).where(Complaint.id == row["id"])
        await audit(actor, "complaint.reply", "complaint", row["id"], reference=row["reference"])
        title = _("投诉 {ref} 有新回复", ref=row["reference"])
        if side is not Side.BORROWER:
            await _tell_borrower(row, title)
        if side is Side.OPERATOR:
            await _answer_sender(row, body)
        if side is not Side.OPERATOR:
            await _tell_handler(row, title)
        if side is not Side.INSTITUTION and row["status"] == S.AWAITING_INSTITUTION:
            await _tell_institution(row, title)


async def add_note(actor: Actor, complaint_id: int, raw_body: object) -> None:
    """An operator's internal note: never shown to the borrower or the institution."""
    if not actor.can(HANDLE):
        raise PermissionDenied()
    body = _text(raw_body, "note", _("内部备注"), BODY_MAX_LENGTH)
    async with transaction():
        row = await _locked(scope(actor, complaint_id))
        await _message(row["id"], Side.OPERATOR, actor, "note", body, internal=True)
        await audit(actor, "complaint.note", "complaint", row["id"])


# --- SLA ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaRun:
    reminded: int = 0
    overdue: int = 0
    closed: int = 0


async def _remind(row: Mapping[str, Any]) -> None:
    title = _("投诉 {ref} 即将到期，请尽快处理", ref=row["reference"])
    if row["status"] == S.AWAITING_INSTITUTION:
        await _tell_institution(row, title)
    else:
        await _tell_handler(row, title)


async def run_sla(now: datetime) -> SlaRun:
    """One pass: a reminder once per stage within the lead time before its deadline, the
    overdue mark once per stage after it, and resolved complaints closed once their
    rating window is over. Each step is a conditional update on the stage's own
    deadline, so a second (or parallel) run does nothing twice."""
    sla = await _sla()
    lead = timedelta(hours=sla["complaint_reminder_lead_hours"])
    active = [str(s) for s in ACTIVE]
    reminded = overdue = closed = 0
    due_soon = await Complaint.select(Complaint.id, Complaint.due_at).where(
        Complaint.status.is_in(active)
        & Complaint.reminded_at.is_null()
        & (Complaint.due_at > now)
        & (Complaint.due_at <= now + lead)
    )
    for candidate in due_soon:
        async with transaction():
            rows = (
                await Complaint.update({Complaint.reminded_at: now})
                .where(
                    (Complaint.id == candidate["id"])
                    & Complaint.reminded_at.is_null()
                    & (Complaint.due_at == candidate["due_at"])
                    & Complaint.status.is_in(active)
                )
                .returning(*Complaint.all_columns())
            )
            if rows:
                await _remind(rows[0])
                await audit(SLA_ACTOR, "complaint.sla_reminder", "complaint", candidate["id"])
                reminded += 1
    late = await Complaint.select(Complaint.id, Complaint.due_at).where(
        Complaint.status.is_in(active) & Complaint.overdue.eq(False) & (Complaint.due_at <= now)
    )
    for candidate in late:
        async with transaction():
            rows = (
                await Complaint.update({Complaint.overdue: True, Complaint.overdue_at: now})
                .where(
                    (Complaint.id == candidate["id"])
                    & Complaint.overdue.eq(False)
                    & (Complaint.due_at == candidate["due_at"])
                    & Complaint.status.is_in(active)
                )
                .returning(Complaint.id, Complaint.reference)
            )
            if rows:
                await notify_users(
                    await _desk(),
                    "complaint.overdue",
                    _("投诉 {ref} 已超期", ref=rows[0]["reference"]),
                    admin_link(candidate["id"]),
                )
                await audit(SLA_ACTOR, "complaint.overdue", "complaint", candidate["id"])
                overdue += 1
    expired = await Complaint.select(Complaint.id).where(
        (Complaint.status == S.RESOLVED) & (Complaint.due_at <= now)
    )
    for candidate in expired:
        async with transaction():
            row = (
                await Complaint.select()
                .where(
                    (Complaint.id == candidate["id"])
                    & (Complaint.status == S.RESOLVED)
                    & (Complaint.due_at <= now)
                )
                .lock_rows()
                .first()
            )
            if row is not None:
                await _move(SLA_ACTOR, row, "autoclose", now=now)
                closed += 1
    return SlaRun(reminded, overdue, closed)
