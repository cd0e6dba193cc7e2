"""The per-dimension breakdown rollup's key: one institution, one dimension, a date range
(what the reports' product / city / channel breakdowns read)."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T12:11:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics breakdown rollup key"

STATEMENTS = [
    "CREATE UNIQUE INDEX analytics_breakdown_daily_key ON analytics_breakdown_daily"
    " (institution, dimension, day, group_key)",
]


async def forwards():
    return raw_sql_migration(ID, "analytics", DESCRIPTION, STATEMENTS)
