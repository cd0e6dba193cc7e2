"""Consent withdrawals: at most one unconfirmed deletion per borrower and institution, so
two withdrawals ending at once owe one confirmation."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T21:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one open deletion per borrower and institution"

STATEMENTS = [
    "CREATE UNIQUE INDEX consent_withdrawal_open ON consent_withdrawal (borrower, institution) "
    "WHERE confirmed_at IS NULL",
    "CREATE INDEX consent_withdrawal_institution ON consent_withdrawal (institution, delete_by)",
]


async def forwards():
    return raw_sql_migration(ID, "consents", DESCRIPTION, STATEMENTS)
