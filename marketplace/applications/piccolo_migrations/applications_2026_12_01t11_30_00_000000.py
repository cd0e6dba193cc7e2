"""The lead desk's index covers its whole order: an institution's leads by delivery time,
then id (the tie-break of every sort, so paging is stable) — one index scan per page."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T11:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "lead desk index (institution, delivered_at, id)"

STATEMENTS = [
    "DROP INDEX IF EXISTS application_desk",
    "CREATE INDEX application_desk ON application (institution, delivered_at, id)",
]


async def forwards():
    return raw_sql_migration(ID, "applications", DESCRIPTION, STATEMENTS)
