"""A borrower's band rows at an institution (the refresh looks back over them for each
band's previous day)."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T14:33:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics band member borrower index"

STATEMENTS = [
    "CREATE INDEX analytics_band_member_borrower ON analytics_band_member"
    " (institution, borrower)",
]


async def forwards():
    return raw_sql_migration(ID, "analytics", DESCRIPTION, STATEMENTS)
