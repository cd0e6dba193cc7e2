"""Read model of an institution's API clients for the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from marketplace.actors import Actor
from marketplace.api_clients.scopes import SCOPES
from marketplace.api_clients.tables import ApiClient
from marketplace.applications.statuses import (
    APPLICATION_MACHINE,
    ApplicationStatus,
    received_leads,
)
from marketplace.applications.tables import Application
from marketplace.i18n import _


@dataclass(frozen=True, kw_only=True)
class ApiClientRow:
    id: int
    name: str
    client_id: str
    scope_labels: tuple[str, ...]
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None


async def institution_clients(actor: Actor) -> list[ApiClientRow]:
    """The actor's institution's clients, live ones first, newest first."""
    rows = (
        await ApiClient.select(
            ApiClient.id,
            ApiClient.name,
            ApiClient.client_id,
            ApiClient.scopes,
            ApiClient.created_at,
            ApiClient.created_by.display_name.as_alias("created_by"),
            ApiClient.last_used_at,
            ApiClient.revoked_at,
        )
        .where(ApiClient.institution == actor.institution_id)
        .order_by(ApiClient.created_at, ascending=False)
    )
    clients = [
        ApiClientRow(
            id=row["id"],
            name=row["name"],
            client_id=row["client_id"],
            scope_labels=tuple(_(SCOPES[s]) for s in row["scopes"] if s in SCOPES),
            created_at=row["created_at"],
            created_by=row["created_by"] or "",
            last_used_at=row["last_used_at"],
            revoked_at=row["revoked_at"],
        )
        for row in rows
    ]
    return sorted(clients, key=lambda client: client.revoked_at is not None)


@dataclass(frozen=True, kw_only=True)
class ApiLeadRow:
    """One lead as the Open API lists it: no personal data, and nothing drawn from the
    borrower's shared data once their consent is withdrawn."""

    id: int
    reference: str
    status: ApplicationStatus
    status_label: str
    product_id: int
    product_name: str
    amount: Decimal
    term_months: int
    city: str | None
    consent_withdrawn: bool
    submitted_at: datetime
    delivered_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class LeadCursor:
    """Where a page ended: leads are listed by (updated_at, id), oldest change first."""

    updated_at: datetime
    id: int


async def api_leads(
    actor: Actor,
    *,
    status: ApplicationStatus | None,
    updated_since: datetime | None,
    after: LeadCursor | None,
    limit: int,
) -> list[ApiLeadRow]:
    """A page of the actor's institution's leads, in the order a poller can resume from."""
    condition = received_leads(actor)
    if status is not None:
        condition &= Application.status == status
    if updated_since is not None:
        condition &= Application.updated_at >= updated_since
    if after is not None:
        condition &= (Application.updated_at > after.updated_at) | (
            (Application.updated_at == after.updated_at) & (Application.id > after.id)
        )
    rows = (
        await Application.select(
            Application.id,
            Application.reference,
            Application.status,
            Application.product.id.as_alias("product_id"),
            Application.product.name.as_alias("product_name"),
            Application.amount,
            Application.term_months,
            Application.city,
            Application.consent.withdrawn_at.as_alias("withdrawn_at"),
            Application.submitted_at,
            Application.delivered_at,
            Application.updated_at,
        )
        .where(condition)
        .order_by(Application.updated_at, Application.id)
        .limit(limit)
    )
    return [
        ApiLeadRow(
            id=row["id"],
            reference=row["reference"],
            status=APPLICATION_MACHINE.state(row["status"]),
            status_label=APPLICATION_MACHINE.label(row["status"]),
            product_id=row["product_id"],
            product_name=row["product_name"],
            amount=row["amount"],
            term_months=row["term_months"],
            city=None if row["withdrawn_at"] else row["city"],
            consent_withdrawn=row["withdrawn_at"] is not None,
            submitted_at=row["submitted_at"],
            delivered_at=row["delivered_at"],
            updated_at=row["updated_at"],
        )
        for row in rows
    ]
