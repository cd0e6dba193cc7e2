"""Pending messages: SQL that Piccolo's column API cannot express."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pending messages"

STATEMENTS = [
    'CREATE INDEX outbox_pending ON outbox_message (id) WHERE dispatched_at IS NULL',
]


async def forwards():
    return raw_sql_migration(ID, "outbox", DESCRIPTION, STATEMENTS)
