"""Verbs on institutions: admit one (from an approved partner application), activate it
when its agreement is signed, and suspend / resume / close it.

A status change takes the institution's products off the portal or puts them back; the
search index follows through the products context's `products.index_institution` job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from marketplace import outbox
from marketplace.actors import SYSTEM, Actor
from marketplace.audit.services import record as audit
from marketplace.db import engine, transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.institutions.statuses import (
    ACTIVATE,
    INSTITUTION_MACHINE,
    MANAGE,
    OPERATOR_ACTIONS,
    InstitutionStatus,
)
from marketplace.institutions.tables import Institution
from marketplace.parsing import FormReader, first, parse_date
from marketplace.security import today_in_china

# The system's lifecycle steps: activation by a signed agreement, suspension when a
# licence expires. Kept here so the shared SYSTEM actor gains no permission it never uses.
LIFECYCLE_SYSTEM = replace(SYSTEM, permissions=SYSTEM.permissions | {ACTIVATE, MANAGE})
REASON_MAX = 500


@dataclass(frozen=True)
class NewInstitution:
    """What an approved partner application establishes (already validated)."""

    name: str
    short_name: str
    credit_code: str
    kind: str
    licence_no: str
    licence_issuer: str
    licence_expires_on: date
    business_licence_no: str
    business_licence_expires_on: date | None
    city: str
    contact_name: str
    contact_email: str


def expiry_date(form: FormReader, key: str, label: str, *, required: bool) -> date | None:
    """A licence's expiry date from a form: after today, within a century; empty is
    None when not required (长期有效)."""
    if not required and not first(form.data.get(key)).strip():
        return None
    value = form.field(key, parse_date, None, label=label)
    today = today_in_china()
    if value is not None and value <= today:
        form.fail(key, _("有效期须晚于今天"))
    elif value is not None and value.year >= today.year + 100:
        form.fail(key, _("有效期不正确，长期有效的营业执照请留空"))
    return value


def parse_licence_dates(data: Mapping[str, Any]) -> tuple[date, date | None]:
    """(financial licence expiry, business licence expiry or None for 长期)."""
    form = FormReader(data)
    licence = expiry_date(form, "licence_expires_on", _("金融许可证有效期至"), required=True)
    business = expiry_date(form, "business_licence_expires_on", _("营业执照有效期"), required=False)
    form.raise_errors()
    assert licence is not None  # required: raise_errors stopped otherwise
    return licence, business


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


async def _locked(institution_id: int) -> dict:
    row = (
        await Institution.select(Institution.id, Institution.status)
        .where(Institution.id == institution_id)
        .lock_rows()
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该机构"))
    return row


async def _move(actor: Actor, institution_id: int, action: str, reason: str, **detail) -> bool:
    row = await _locked(institution_id)
    target = INSTITUTION_MACHINE.target(row["status"], action, actor)
    now = datetime.now(UTC)
    await Institution.update(
        {
            Institution.status: target,
            Institution.status_reason: reason,
            Institution.status_changed_at: now,
        }
    ).where(Institution.id == institution_id)
    # The institution's admins are told by the partners context (in-site and e-mail).
    await outbox.record(
        "partners.tell_status", institution_id=institution_id, changed_at=now.isoformat()
    )
    await audit(
        actor, f"institution.{action}", "institution", institution_id, reason=reason, **detail
    )
    await outbox.record("products.index_institution", institution_id=institution_id)
    return True


async def admit_institution(actor: Actor, data: NewInstitution) -> int:
    """A new institution in `approved`: console usable, nothing listed, no leads.
    Joins the caller's transaction (the partner application's approval)."""
    _require(actor, "institution.review")
    async with transaction():
        if await Institution.exists().where(Institution.credit_code == data.credit_code):
            raise DomainError(_("该统一社会信用代码的机构已入驻平台"), field="credit_code")
        rows = await Institution.insert(
            Institution(
                code=f"P{data.credit_code}",
                name=data.name,
                short_name=data.short_name,
                credit_code=data.credit_code,
                kind=data.kind,
                licence_no=data.licence_no,
                licence_issuer=data.licence_issuer,
                licence_expires_on=data.licence_expires_on,
                business_licence_no=data.business_licence_no,
                business_licence_expires_on=data.business_licence_expires_on,
                city=data.city,
                contact_name=data.contact_name,
                contact_email=data.contact_email,
                status=InstitutionStatus.APPROVED,
                status_changed_at=datetime.now(UTC),
            )
        ).returning(Institution.id)
        institution_id = int(rows[0]["id"])
        await audit(actor, "institution.admit", "institution", institution_id, name=data.name)
    return institution_id


async def activate_after_agreement(institution_id: int) -> bool:
    """approved → active once its cooperation agreement is signed. Runs inside the
    caller's transaction (the signing); True if it moved now, False if it was already
    active (idempotent). Any other state is refused (InvalidTransition)."""
    if engine().current_transaction.get() is None:
        raise RuntimeError("activate_after_agreement() must run inside the signing transaction")
    row = await _locked(institution_id)
    if row["status"] == InstitutionStatus.ACTIVE:
        return False
    return await _move(LIFECYCLE_SYSTEM, institution_id, "activate", "")


async def change_status(actor: Actor, institution_id: int, action: str, reason: str) -> None:
    """An operator suspends, resumes or closes an institution, saying why."""
    _require(actor, MANAGE)
    if action not in OPERATOR_ACTIONS:
        raise NotFound()
    reason = reason.strip()
    if not reason:
        raise DomainError(_("请填写原因，机构将看到该说明"), field="reason")
    if len(reason) > REASON_MAX:
        raise DomainError(_("原因最多{n}个字", n=REASON_MAX), field="reason")
    async with transaction():
        await _move(actor, institution_id, action, reason)


async def update_licence_dates(
    actor: Actor,
    institution_id: int,
    *,
    licence_expires_on: date,
    business_licence_expires_on: date | None,
) -> None:
    """An operator records renewed licences (checked against the new certificates), so
    the daily licence check watches the new dates; resuming stays a separate decision."""
    _require(actor, MANAGE)
    async with transaction():
        await _locked(institution_id)
        await Institution.update(
            {
                Institution.licence_expires_on: licence_expires_on,
                Institution.business_licence_expires_on: business_licence_expires_on,
            }
        ).where(Institution.id == institution_id)
        await audit(
            actor,
            "institution.licences",
            "institution",
            institution_id,
            licence_expires_on=licence_expires_on.isoformat(),
            business_licence_expires_on=(
                business_licence_expires_on.isoformat() if business_licence_expires_on else ""
            ),
        )


async def suspend_for_expired_licence(institution_id: int, licence: str) -> bool:
    """The daily licence check: an active institution whose licence has expired is
    suspended (True); any other state is left alone (False)."""
    async with transaction():
        row = await _locked(institution_id)
        if "suspend" not in INSTITUTION_MACHINE.transitions(row["status"]):
            return False
        return await _move(
            LIFECYCLE_SYSTEM,
            institution_id,
            "suspend",
            _("许可证已过期，平台自动暂停合作"),
            licence=licence,
        )
