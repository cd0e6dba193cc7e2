"""The privacy policy's data inventory is derived from the real data model: every column it
names exists, and every personal column (encrypted, masked or blind-indexed) of a table that
holds borrowers' data is disclosed with a purpose, a recipient and a retention."""

from __future__ import annotations

import re

from marketplace.contexts import all_contexts
from marketplace.legal.inventory import DATA_ITEMS
from marketplace.legal.texts import privacy_text

# Tables about institutions and their staff, not borrowers (the privacy policy is the
# borrowers'): partner applications, agreements, webhooks, API clients.
INSTITUTION_SIDE = {"partners", "agreements", "webhooks", "api_clients"}
PERSONAL_COLUMN = re.compile(r".*_(encrypted|masked|index)$")
# Operators' second factor lives on the shared user table but never concerns a borrower.
NOT_BORROWERS = {"app_user.totp_secret_encrypted"}


def _columns() -> dict[str, set[str]]:
    return {
        table._meta.tablename: {column._meta.db_column_name for column in table._meta.columns}
        for context in all_contexts()
        for table in context.tables
    }


def _borrower_side_columns() -> set[str]:
    return {
        f"{table._meta.tablename}.{column._meta.db_column_name}"
        for context in all_contexts()
        if context.name not in INSTITUTION_SIDE
        for table in context.tables
        for column in table._meta.columns
    }


def test_every_named_column_exists():
    columns = _columns()
    for item in DATA_ITEMS:
        for reference in item.columns:
            table, column = reference.split(".", 1)
            if table == "session":  # device sessions live in Redis (server/sessions.py)
                continue
            assert column in columns.get(table, set()), f"{reference} is not in the data model"


def test_every_personal_column_is_disclosed():
    disclosed = {reference for item in DATA_ITEMS for reference in item.columns}
    personal = {c for c in _borrower_side_columns() if PERSONAL_COLUMN.match(c.split(".")[1])}
    assert personal - NOT_BORROWERS - disclosed == set()


def test_every_item_has_purpose_recipient_and_retention():
    for item in DATA_ITEMS:
        assert item.item and item.purpose and item.retention and item.recipients, item.item
    rows = privacy_text().sections[0].table.rows  # type: ignore[union-attr]
    assert len(rows) == len(DATA_ITEMS)
    assert all(all(cell.strip() for cell in row) for row in rows)
