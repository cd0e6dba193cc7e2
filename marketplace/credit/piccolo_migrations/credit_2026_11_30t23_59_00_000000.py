"""Credit: one snapshot per borrower and date."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T23:59:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique key"

STATEMENTS = ["CREATE UNIQUE INDEX credit_snapshot_key ON credit_snapshot (borrower, taken_on)"]


async def forwards():
    return raw_sql_migration(ID, "credit", DESCRIPTION, STATEMENTS)
