"""Agreements: version numbers unique per institution and at most one open offer per
institution, held by the database whatever the verbs' locks."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T21:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "agreement version and open-offer unique keys"

STATEMENTS = [
    "CREATE UNIQUE INDEX agreement_version_key ON agreement (institution, version)",
    "CREATE UNIQUE INDEX agreement_open_offer_key ON agreement (institution)"
    " WHERE status = 'offered'",
]


async def forwards():
    return raw_sql_migration(ID, "agreements", DESCRIPTION, STATEMENTS)
