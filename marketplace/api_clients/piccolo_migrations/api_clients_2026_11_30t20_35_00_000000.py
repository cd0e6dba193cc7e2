"""One stored answer per client and Idempotency-Key: SQL that Piccolo's column API cannot
express."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T20:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique idempotency keys per API client"

STATEMENTS = [
    "CREATE UNIQUE INDEX api_idempotent_request_key ON api_idempotent_request (client, key)",
]


async def forwards():
    return raw_sql_migration(ID, "api_clients", DESCRIPTION, STATEMENTS)
