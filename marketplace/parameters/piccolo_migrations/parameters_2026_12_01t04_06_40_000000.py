"""Parameter history: one row per (key, version), held by the database."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T04:06:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "parameter change version unique key"

STATEMENTS = [
    "CREATE UNIQUE INDEX parameter_change_version_key ON parameter_change (key, version)",
]


async def forwards():
    return raw_sql_migration(ID, "parameters", DESCRIPTION, STATEMENTS)
