"""Role matrix edits: one created role per (kind, code), one override per cell, held by
the database whatever the verbs' locks."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T04:06:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "custom role and role grant unique keys"

STATEMENTS = [
    "CREATE UNIQUE INDEX custom_role_key ON custom_role (kind, code)",
    "CREATE UNIQUE INDEX role_grant_cell_key ON role_grant (kind, role, permission)",
]


async def forwards():
    return raw_sql_migration(ID, "accounts", DESCRIPTION, STATEMENTS)
