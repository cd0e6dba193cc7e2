"""Consent lookups: SQL that Piccolo's column API cannot express."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "consent lookups"

STATEMENTS = [
    'CREATE INDEX consent_borrower ON consent (borrower, institution)',
]


async def forwards():
    return raw_sql_migration(ID, "consents", DESCRIPTION, STATEMENTS)
