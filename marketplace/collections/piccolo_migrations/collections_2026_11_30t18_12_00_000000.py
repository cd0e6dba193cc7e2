"""Collections: the unique keys that make the per-loan daily cap and "one notice per loan,
kind and day" hold under parallel requests, and the indexes the oversight page reads by."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T18:12:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "collection day and loan notice unique keys; oversight indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX collection_day_key ON collection_day (loan, business_date)",
    "CREATE UNIQUE INDEX loan_notice_key ON loan_notice (loan, kind, business_date)",
    "CREATE INDEX collection_contact_institution ON collection_contact"
    " (institution, contacted_at)",
    "CREATE INDEX collection_refusal_institution ON collection_refusal"
    " (institution, attempted_at)",
]


async def forwards():
    return raw_sql_migration(ID, "collections", DESCRIPTION, STATEMENTS)
