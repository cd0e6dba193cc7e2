"""The body of a webhook, built at each attempt from the ids the event recorded.

Only what the institution may see at that moment leaves: a lead's details while the
borrower's consent to this institution stands, ids alone once it is withdrawn. Every read
is scoped to the receiving institution. The rows belong to other contexts that publish
events through this one, so they are read with plain SQL instead of importing them (which
would make an import cycle)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marketplace.webhooks.tables import WebhookDelivery

Data = dict[str, Any]


async def _one(sql: str, *args: Any) -> Mapping[str, Any] | None:
    rows = await WebhookDelivery.raw(sql, *args)
    return rows[0] if rows else None


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _json(row: Mapping[str, Any]) -> Data:
    return {key: _plain(value) for key, value in row.items()}


async def _lead(institution_id: int, subject: Mapping[str, int]) -> Data | None:
    row = await _one(
        "SELECT a.id AS application_id, a.reference, a.product AS product_id, a.amount, "
        "a.term_months, a.city, a.submitted_at, a.delivered_at, "
        "c.withdrawn_at IS NULL AS consent_active "
        "FROM application a JOIN consent c ON c.id = a.consent "
        "WHERE a.id = {} AND a.institution = {}",
        subject["application_id"],
        institution_id,
    )
    if row is None:
        return None
    data = _json(row)
    if not row["consent_active"]:
        # Consent withdrawn since the event: ids only, nothing about the borrower.
        return {"application_id": row["application_id"], "consent_active": False}
    return data


async def _application(institution_id: int, subject: Mapping[str, int]) -> Data | None:
    row = await _one(
        "SELECT id AS application_id, reference, status FROM application "
        "WHERE id = {} AND institution = {}",
        subject["application_id"],
        institution_id,
    )
    return _json(row) if row else None


async def _consent(institution_id: int, subject: Mapping[str, int]) -> Data | None:
    rows = await WebhookDelivery.raw(
        "SELECT a.id FROM application a JOIN consent c ON c.id = a.consent "
        "WHERE c.id = {} AND c.institution = {} ORDER BY a.id",
        subject["consent_id"],
        institution_id,
    )
    return {
        "consent_id": subject["consent_id"],
        "application_ids": [row["id"] for row in rows],
    }


async def _offer(institution_id: int, subject: Mapping[str, int]) -> Data | None:
    row = await _one(
        "SELECT o.id AS offer_id, o.application AS application_id, a.reference, o.status, "
        "o.amount, o.term_months FROM offer o JOIN application a ON a.id = o.application "
        "WHERE o.id = {} AND o.institution = {}",
        subject["offer_id"],
        institution_id,
    )
    return _json(row) if row else None


async def _loan(institution_id: int, subject: Mapping[str, int]) -> Data | None:
    row = await _one(
        "SELECT l.id AS loan_id, l.application AS application_id, a.reference, l.principal, "
        "l.term_months, l.disbursed_on FROM loan l JOIN application a ON a.id = l.application "
        "WHERE l.id = {} AND l.institution = {}",
        subject["loan_id"],
        institution_id,
    )
    return _json(row) if row else None


BUILDERS: dict[str, Callable[[int, Mapping[str, int]], Awaitable[Data | None]]] = {
    "lead.delivered": _lead,
    "application.withdrawn": _application,
    "consent.withdrawn": _consent,
    "offer.accepted": _offer,
    "offer.declined": _offer,
    "loan.disbursed": _loan,
}


async def event_data(event: str, institution_id: int, subject: Mapping[str, int]) -> Data:
    """The `data` of the body; ids only when the row is gone or not this institution's."""
    return await BUILDERS[event](institution_id, subject) or dict(subject)
