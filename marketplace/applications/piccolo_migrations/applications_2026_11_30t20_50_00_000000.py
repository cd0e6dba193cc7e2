"""Lead desk: sorting an institution's leads by pre-screen score uses an index."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T20:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "lead desk: index for the sort by pre-screen score"

STATEMENTS = [
    "CREATE INDEX application_prescreen_score"
    " ON application (institution, prescreen_score DESC NULLS LAST)",
]


async def forwards():
    return raw_sql_migration(ID, "applications", DESCRIPTION, STATEMENTS)
