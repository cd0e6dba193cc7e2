"""Legal texts: one version number per document."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T23:59:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique key"

STATEMENTS = ["CREATE UNIQUE INDEX legal_version_key ON legal_version (document, number)"]


async def forwards():
    return raw_sql_migration(ID, "legal", DESCRIPTION, STATEMENTS)
