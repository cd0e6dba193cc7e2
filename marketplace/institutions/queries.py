"""Read models of institutions for operators: the list with filters and one institution's
page with the lifecycle actions this operator may take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from piccolo.columns.combination import Combinable

from marketplace.actors import Actor
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.institutions.statuses import (
    INSTITUTION_MACHINE,
    OPERATOR_ACTIONS,
    InstitutionStatus,
)
from marketplace.institutions.tables import Institution
from marketplace.security import today_in_china
from marketplace.statemachine import Actions

I = Institution  # noqa: E741
STATUS_CHOICES = [str(status) for status in InstitutionStatus]


@dataclass(frozen=True)
class InstitutionRow:
    id: int
    name: str
    short_name: str
    credit_code: str
    city: str
    status: str
    status_label: str
    licence_expires_on: date | None
    licence_days_left: int | None
    business_licence_expires_on: date | None


@dataclass(frozen=True)
class InstitutionDetail(InstitutionRow):
    kind: str
    licence_no: str
    licence_issuer: str
    business_licence_no: str
    contact_name: str
    contact_email: str
    status_reason: str
    status_changed_at: datetime | None
    created_at: datetime
    actions: Actions


def _days_left(expires_on: date | None) -> int | None:
    return None if expires_on is None else (expires_on - today_in_china()).days


def _row_values(row: dict) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "short_name": row["short_name"],
        "credit_code": row["credit_code"] or "",
        "city": row["city"],
        "status": row["status"],
        "status_label": INSTITUTION_MACHINE.label(row["status"]),
        "licence_expires_on": row["licence_expires_on"],
        "licence_days_left": _days_left(row["licence_expires_on"]),
        "business_licence_expires_on": row["business_licence_expires_on"],
    }


def _require(actor: Actor) -> None:
    if not (actor.can("institution.view") or actor.can("institution.manage")):
        raise PermissionDenied()


async def institutions(
    actor: Actor, *, status: str = "", q: str = "", page: int = 1, per_page: int = 50
) -> tuple[list[InstitutionRow], int]:
    _require(actor)
    where: Combinable = I.id > 0
    if status:
        where &= I.status == status
    if q:
        where &= (
            I.name.ilike(f"%{q}%") | I.short_name.ilike(f"%{q}%") | (I.credit_code == q.upper())
        )
    total = await I.count().where(where)
    rows = (
        await I.select().where(where).order_by(I.id).offset((page - 1) * per_page).limit(per_page)
    )
    return [InstitutionRow(**_row_values(row)) for row in rows], total


async def institution_detail(actor: Actor, institution_id: int) -> InstitutionDetail:
    _require(actor)
    row = await I.select().where(I.id == institution_id).first()
    if row is None:
        raise NotFound(_("找不到该机构"))
    actions = INSTITUTION_MACHINE.actions(row["status"], actor)
    return InstitutionDetail(
        **_row_values(row),
        kind=row["kind"],
        licence_no=row["licence_no"],
        licence_issuer=row["licence_issuer"],
        business_licence_no=row["business_licence_no"],
        contact_name=row["contact_name"],
        contact_email=row["contact_email"],
        status_reason=row["status_reason"],
        status_changed_at=row["status_changed_at"],
        created_at=row["created_at"],
        actions=Actions(tuple(a for a in actions if a.name in OPERATOR_ACTIONS)),
    )
