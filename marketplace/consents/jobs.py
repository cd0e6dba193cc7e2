"""The data export job (PIPL art. 45): everything the platform holds on one borrower, as
one JSON document, stored encrypted by consents.services.store_export.

It reads other contexts' tables in SQL (reading is allowed anywhere): importing their
modules from here would be an import cycle, as they import this context."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marketplace.consents.notices import DATA_ITEMS
from marketplace.consents.services import store_export
from marketplace.consents.tables import Consent, DataExport
from marketplace.security import DecryptionError, decrypt_field

EXPORT_FORMAT = "loanmart.data-export/1"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: _plain(value) for key, value in row.items()} for row in rows]


def _decrypt(token: str | None, context: str) -> str:
    if not token:
        return ""
    try:
        return decrypt_field(token, context=context)
    except DecryptionError:
        return ""


def _json(value: Any) -> Any:
    """A JSONB value as raw SQL returns it (text) or already decoded."""
    return json.loads(value) if isinstance(value, str) else value


async def _collect(borrower_id: int) -> dict[str, Any]:
    account = (
        await Consent.raw(
            "SELECT display_name, mobile_encrypted, created_at, last_login_at "
            "FROM app_user WHERE id = {}",
            borrower_id,
        )
    )[0]
    profiles = await Consent.raw(
        "SELECT real_name_encrypted, id_number_encrypted, birth_date, city, "
        "monthly_income_encrypted, employment_type, updated_at, address_encrypted, "
        "contact_name_encrypted, contact_relation, contact_mobile_encrypted "
        'FROM borrower_profile WHERE "user" = {}',
        borrower_id,
    )
    profile = None
    if profiles:
        row = profiles[0]
        profile = {
            "real_name": _decrypt(row["real_name_encrypted"], "borrower_profile.real_name"),
            "id_number": _decrypt(row["id_number_encrypted"], "borrower_profile.id_number"),
            "birth_date": _plain(row["birth_date"]),
            "city": row["city"],
            "monthly_income": _decrypt(
                row["monthly_income_encrypted"], "borrower_profile.monthly_income"
            ),
            "employment_type": row["employment_type"],
            "updated_at": _plain(row["updated_at"]),
            **{
                field: _decrypt(row[f"{field}_encrypted"], f"borrower_profile.{field}")
                for field in ("address", "contact_name", "contact_mobile")
            },
            "contact_relation": row["contact_relation"],
        }
    consents = await Consent.raw(
        "SELECT c.id, i.short_name AS institution, c.notice_version, c.notice_hash, c.purpose, "
        "c.data_items, c.retention, c.granted_at, c.withdrawn_at "
        "FROM consent c JOIN institution i ON i.id = c.institution "
        "WHERE c.borrower = {} ORDER BY c.id",
        borrower_id,
    )
    for consent in consents:
        consent["data_items"] = [DATA_ITEMS.get(item, item) for item in consent["data_items"]]
    applications = await Consent.raw(
        "SELECT a.id, a.reference, i.short_name AS institution, p.name AS product, a.amount, "
        "a.term_months, a.repayment_method, a.status, a.city, a.submitted_at, "
        "a.delivered_at, a.shared_data_encrypted "
        "FROM application a JOIN institution i ON i.id = a.institution "
        "JOIN product p ON p.id = a.product WHERE a.borrower = {} ORDER BY a.id",
        borrower_id,
    )
    events = await Consent.raw(
        "SELECT e.application, e.status, e.note, e.at FROM application_event e "
        "JOIN application a ON a.id = e.application WHERE a.borrower = {} ORDER BY e.id",
        borrower_id,
    )
    for application in applications:
        shared = _decrypt(application.pop("shared_data_encrypted"), "application.shared_data")
        application["shared_with_institution"] = json.loads(shared) if shared else {}
        application["timeline"] = _rows(
            [
                {key: e[key] for key in ("status", "note", "at")}
                for e in events
                if e["application"] == application["id"]
            ]
        )
    offers = await Consent.raw(
        "SELECT o.id, a.reference AS application, o.amount, o.term_months, "
        "o.repayment_method, o.rate, o.rate_period, o.apr, o.total_cost, o.status, "
        "o.expires_at, o.created_at FROM offer o JOIN application a ON a.id = o.application "
        "WHERE o.borrower = {} ORDER BY o.id",
        borrower_id,
    )
    loans = await Consent.raw(
        "SELECT l.id, a.reference AS application, l.principal, l.rate, l.rate_period, "
        "l.term_months, l.repayment_method, l.disbursed_on, l.receiving_account_masked, "
        "l.status, l.principal_outstanding, l.dpd, l.settled_on "
        "FROM loan l JOIN application a ON a.id = l.application "
        "WHERE l.borrower = {} ORDER BY l.id",
        borrower_id,
    )
    credit_history = await Consent.raw(
        "SELECT taken_on, score, factors FROM credit_snapshot WHERE borrower = {} "
        "ORDER BY taken_on",
        borrower_id,
    )
    sms = await Consent.raw("SELECT choices FROM sms_preference WHERE user_id = {}", borrower_id)
    # Documents: the borrower's saved files (我的资料) and the files sent to institutions
    # (names and sizes; the files themselves are downloadable from their pages).
    saved_documents = await Consent.raw(
        "SELECT kind, original_name AS name, content_type, size, uploaded_at "
        "FROM library_document WHERE owner = {} ORDER BY id",
        borrower_id,
    )
    sent_documents = await Consent.raw(
        "SELECT a.reference AS application, i.short_name AS institution, d.kind, "
        "d.original_name AS name, d.content_type, d.size, d.uploaded_at FROM document d "
        "JOIN document_request r ON r.id = d.document_request "
        "JOIN application a ON a.id = r.application "
        "JOIN institution i ON i.id = a.institution WHERE a.borrower = {} ORDER BY d.id",
        borrower_id,
    )
    return {
        "format": EXPORT_FORMAT,
        "generated_at": datetime.now(UTC).isoformat(),
        "account": {
            "display_name": account["display_name"],
            "mobile": _decrypt(account["mobile_encrypted"], "user.mobile"),
            "registered_at": _plain(account["created_at"]),
            "last_login_at": _plain(account["last_login_at"]),
        },
        "profile": profile,
        "consents": _rows(consents),
        "applications": _rows(applications),
        "offers": _rows(offers),
        "loans": _rows(loans),
        "credit_health": [
            {**_rows([row])[0], "factors": _json(row["factors"])} for row in credit_history
        ],
        "sms_preferences": _json(sms[0]["choices"]) if sms else {},
        "documents": {
            "saved": _rows(saved_documents),
            "sent_to_institutions": _rows(sent_documents),
        },
    }


async def build_export(ctx: dict, export_id: int, **_: object) -> bool:
    """The job (payload: the export's id). Idempotent: a stored export is left alone."""
    row = (
        await DataExport.select(DataExport.borrower, DataExport.status)
        .where(DataExport.id == export_id)
        .first()
    )
    if row is None or row["status"] != "pending":
        return False
    document = await _collect(row["borrower"])
    content = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    return await store_export(export_id, content)
