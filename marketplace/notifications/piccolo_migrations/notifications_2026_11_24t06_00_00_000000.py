"""Recipient lookups: SQL that Piccolo's column API cannot express."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "recipient lookups"

STATEMENTS = [
    'CREATE INDEX notification_recipient ON notification (recipient_index, created_at DESC)',
]


async def forwards():
    return raw_sql_migration(ID, "notifications", DESCRIPTION, STATEMENTS)
