"""Verbs on monitoring cases: open one (a flag, or an operator suspending a product
directly), assign, note, decide (suspend / dismiss / resume, each with a reason), and the
institution's response. Every write is audited in its transaction; the institution is told
in its inbox of a new case and of every decision."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from marketplace.accounts.roles import permissions_of
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.inbox.services import notify_institution, notify_users
from marketplace.institutions.services import change_status
from marketplace.institutions.statuses import INSTITUTION_MACHINE, InstitutionStatus
from marketplace.institutions.tables import Institution
from marketplace.monitoring.statuses import (
    CASE_MACHINE,
    MANAGE,
    RULE_LABELS,
    UNRESOLVED,
    CaseStatus,
    EventKind,
    Rule,
    Subject,
)
from marketplace.monitoring.tables import CaseEvent, MonitoringCase
from marketplace.parsing import FieldError, parse_text
from marketplace.products.services import change_platform_listing
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product

VIEW = "monitoring.view"
RESPOND = "monitoring.respond"
# Suspending or resuming an institution stays the institution lifecycle's permission.
INSTITUTION_MANAGE = "institution.manage"
REASON_MAX = 500
TEXT_MAX = 1000
DECISIONS = ("suspend", "dismiss", "resume")

# The automatic evaluation opens cases as the system.
MONITOR = Actor(user_id=None, kind="system", label="monitoring", role="system")


def subject_key(subject: Subject, subject_id: int) -> str:
    return f"{subject}:{subject_id}"


def console_link(case_id: int) -> str:
    return f"/console/cases/{case_id}"


def admin_link(case_id: int) -> str:
    return f"/admin/monitoring/cases/{case_id}"


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


def _text(raw: object, field: str, label: str, maximum: int) -> str:
    try:
        return parse_text(raw, label=label, max_length=maximum, min_length=1, multiline=True)
    except FieldError as exc:
        raise DomainError(exc.message, field=field) from exc


async def _event(case_id: int, kind: EventKind, actor: Actor, text: str = "", *, shared=True):
    await CaseEvent.insert(
        CaseEvent(
            case=case_id,
            kind=kind,
            actor_kind=actor.kind,
            actor=actor.user_id,
            actor_label=actor.label,
            text=text,
            shared=shared,
        )
    )


async def _subject_name(subject: Subject, subject_id: int) -> str:
    if subject is Subject.PRODUCT:
        row = await Product.select(Product.name).where(Product.id == subject_id).first()
    else:
        row = (
            await Institution.select(Institution.short_name.as_alias("name"))
            .where(Institution.id == subject_id)
            .first()
        )
    return row["name"] if row else ""


async def open_case(
    subject: Subject,
    subject_id: int,
    institution_id: int,
    rule: Rule,
    figures: Mapping[str, object],
    *,
    actor: Actor = MONITOR,
    reason: str = "",
) -> int | None:
    """A new case, or None when one is already unresolved for this subject and rule (the
    database's partial unique index decides, so parallel evaluations open one case)."""
    async with transaction():
        rows = (
            await MonitoringCase.insert(
                MonitoringCase(
                    subject_key=subject_key(subject, subject_id),
                    product=subject_id if subject is Subject.PRODUCT else None,
                    institution=institution_id,
                    rule=rule,
                    status=CaseStatus.OPEN,
                    figures=json.dumps(dict(figures)),
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(MonitoringCase.id)
        )
        if not rows:
            return None
        case_id = int(rows[0]["id"])
        await _event(case_id, EventKind.OPENED, actor, reason)
        await audit(
            actor,
            "monitoring.case_open",
            "monitoring_case",
            case_id,
            subject=subject_key(subject, subject_id),
            rule=str(rule),
        )
        await notify_institution(
            institution_id,
            "monitoring.case",
            _(
                "平台监控对“{name}”立案：{rule}。请查看并回复说明",
                name=await _subject_name(subject, subject_id),
                rule=_(RULE_LABELS[rule]),
            ),
            console_link(case_id),
            permission=RESPOND,
        )
    return case_id


async def _locked(case_id: int) -> dict:
    row = await MonitoringCase.select().where(MonitoringCase.id == case_id).lock_rows().first()
    if row is None:
        raise NotFound(_("找不到该案件"))
    return row


def _subject_of(case: Mapping) -> tuple[Subject, int]:
    kind, _sep, raw_id = str(case["subject_key"]).partition(":")
    return Subject(kind), int(raw_id)


async def assign(actor: Actor, case_id: int, assignee_id: int | None) -> None:
    """Hand the case to an operator who may decide cases (None: nobody)."""
    _require(actor, MANAGE)
    async with transaction():
        case = await _locked(case_id)
        label = ""
        if assignee_id is not None:
            user = (
                await User.select(User.id, User.role, User.display_name)
                .where(
                    (User.id == assignee_id) & (User.kind == "operator") & (User.status == "active")
                )
                .first()
            )
            if user is None or MANAGE not in permissions_of("operator", user["role"]):
                raise DomainError(_("请选择可以处理案件的运营人员"), field="assignee")
            label = user["display_name"]
        await MonitoringCase.update(
            {MonitoringCase.assignee: assignee_id, MonitoringCase.updated_at: datetime.now(UTC)}
        ).where(MonitoringCase.id == case["id"])
        await _event(case_id, EventKind.ASSIGNED, actor, label, shared=False)
        await audit(
            actor, "monitoring.case_assign", "monitoring_case", case_id, assignee=assignee_id or 0
        )
        if assignee_id is not None and assignee_id != actor.user_id:
            await notify_users(
                [assignee_id], "monitoring.assigned", _("你被指派处理监控案件"), admin_link(case_id)
            )


async def add_note(actor: Actor, case_id: int, raw_text: object) -> None:
    """An operator's note: kept inside the platform, never shown to the institution."""
    _require(actor, MANAGE)
    text = _text(raw_text, "note", _("备注"), TEXT_MAX)
    async with transaction():
        await _locked(case_id)
        await _event(case_id, EventKind.NOTE, actor, text, shared=False)
        await MonitoringCase.update({MonitoringCase.updated_at: datetime.now(UTC)}).where(
            MonitoringCase.id == case_id
        )
        await audit(actor, "monitoring.case_note", "monitoring_case", case_id)


async def _suspend_subject(actor: Actor, subject: Subject, subject_id: int, reason: str) -> None:
    if subject is Subject.PRODUCT:
        row = await Product.select(Product.status).where(Product.id == subject_id).first()
        if row is not None and row["status"] == ProductStatus.SUSPENDED:
            return  # another case suspended it already
        await change_platform_listing(actor, subject_id, "suspend", reason)
        return
    if not actor.can(INSTITUTION_MANAGE):
        raise PermissionDenied(_("暂停机构合作需要机构管理权限"))
    row = await Institution.select(Institution.status).where(Institution.id == subject_id).first()
    if row is not None and row["status"] == InstitutionStatus.SUSPENDED:
        return
    await change_status(actor, subject_id, "suspend", reason)


async def _resume_subject(actor: Actor, subject: Subject, subject_id: int, reason: str) -> bool:
    """Reinstate the subject unless another case still holds it suspended; True if so."""
    others = await MonitoringCase.exists().where(
        (MonitoringCase.subject_key == subject_key(subject, subject_id))
        & (MonitoringCase.status == CaseStatus.SUSPENDED)
    )
    if others:
        return False
    if subject is Subject.PRODUCT:
        row = await Product.select(Product.status).where(Product.id == subject_id).first()
        if row is None or row["status"] != ProductStatus.SUSPENDED:
            return False
        await change_platform_listing(actor, subject_id, "reinstate", reason)
        return True
    if not actor.can(INSTITUTION_MANAGE):
        raise PermissionDenied(_("恢复机构合作需要机构管理权限"))
    row = await Institution.select(Institution.status).where(Institution.id == subject_id).first()
    if row is None or "resume" not in INSTITUTION_MACHINE.transitions(row["status"]):
        return False
    await change_status(actor, subject_id, "resume", reason)
    return True


_DECISION_EVENTS = {
    "suspend": EventKind.SUSPENDED,
    "dismiss": EventKind.DISMISSED,
    "resume": EventKind.RESUMED,
}


async def decide(actor: Actor, case_id: int, action: str, raw_reason: object) -> bool:
    """Suspend the subject, dismiss the case, or resume the suspended subject, with a
    reason the institution reads. Returns False when resuming leaves the subject suspended
    because another case still holds it."""
    _require(actor, MANAGE)
    if action not in DECISIONS:
        raise NotFound()
    reason = _text(raw_reason, "reason", _("原因"), REASON_MAX)
    reinstated = True
    async with transaction():
        case = await _locked(case_id)
        target = CASE_MACHINE.target(case["status"], action, actor)
        subject, subject_id = _subject_of(case)
        await MonitoringCase.update(
            {MonitoringCase.status: target, MonitoringCase.updated_at: datetime.now(UTC)}
        ).where(MonitoringCase.id == case_id)
        if action == "suspend":
            await _suspend_subject(actor, subject, subject_id, reason)
        elif action == "resume":
            reinstated = await _resume_subject(actor, subject, subject_id, reason)
        await _event(case_id, _DECISION_EVENTS[action], actor, reason)
        await audit(actor, f"monitoring.case_{action}", "monitoring_case", case_id, reason=reason)
        name = await _subject_name(subject, subject_id)
        titles = {
            "suspend": _("平台已暂停“{name}”，原因见监控案件", name=name),
            "dismiss": _("平台已结束对“{name}”的监控案件，不作处理", name=name),
            "resume": _("平台已恢复“{name}”", name=name),
        }
        await notify_institution(
            case["institution"],
            "monitoring.decision",
            titles[action],
            console_link(case_id),
            permission=RESPOND,
        )
    return reinstated


async def suspend_product(actor: Actor, product_id: int, raw_reason: object) -> int:
    """An operator suspends a listed product directly (its review page): a case of its own
    (rule "manual"), decided at once, so the reason, the institution's response and the
    resumption live where every other suspension does. Returns the case."""
    _require(actor, MANAGE)
    reason = _text(raw_reason, "reason", _("原因"), REASON_MAX)
    async with transaction():
        product = await Product.select(Product.institution).where(Product.id == product_id).first()
        if product is None:
            raise NotFound(_("找不到该产品"))
        key = subject_key(Subject.PRODUCT, product_id)
        existing = (
            await MonitoringCase.select(MonitoringCase.id)
            .where(
                (MonitoringCase.subject_key == key)
                & (MonitoringCase.rule == Rule.MANUAL)
                & MonitoringCase.status.is_in(list(UNRESOLVED))
            )
            .first()
        )
        case_id = (
            existing["id"]
            if existing
            else await open_case(
                Subject.PRODUCT,
                product_id,
                product["institution"],
                Rule.MANUAL,
                {},
                actor=actor,
                reason=reason,
            )
        )
        if case_id is None:
            raise DomainError(_("该产品正在被处理，请刷新后重试"), field="reason")
        await decide(actor, case_id, "suspend", reason)
    return case_id


async def respond(actor: Actor, case_id: int, raw_text: object) -> None:
    """The institution answers a case about itself or one of its products."""
    _require(actor, RESPOND)
    text = _text(raw_text, "response", _("回复"), TEXT_MAX)
    async with transaction():
        case = await _locked(case_id)
        if case["institution"] != actor.institution_id:
            raise NotFound(_("找不到该案件"))
        if case["status"] not in UNRESOLVED:
            raise DomainError(_("案件已结案，不能再回复"), field="response")
        now = datetime.now(UTC)
        await MonitoringCase.update(
            {MonitoringCase.responded_at: now, MonitoringCase.updated_at: now}
        ).where(MonitoringCase.id == case_id)
        await _event(case_id, EventKind.RESPONSE, actor, text)
        await audit(actor, "monitoring.case_respond", "monitoring_case", case_id)
        if case["assignee"]:
            await notify_users(
                [case["assignee"]],
                "monitoring.response",
                _("机构已回复监控案件 #{id}", id=case_id),
                admin_link(case_id),
            )
