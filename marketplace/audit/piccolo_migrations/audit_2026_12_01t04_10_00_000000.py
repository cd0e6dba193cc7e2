"""Audit search (A13): each filter of the audit page reads an index newest first, so a
filtered page stays quick with millions of rows."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T04:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit search indexes"

STATEMENTS = [
    "CREATE INDEX audit_entry_at ON audit_entry (at)",
    "CREATE INDEX audit_entry_action_id ON audit_entry (action, id)",
    "CREATE INDEX audit_entry_institution_id ON audit_entry (institution_id, id)",
    "CREATE INDEX audit_entry_ip_id ON audit_entry (ip, id)",
]


async def forwards():
    return raw_sql_migration(ID, "audit", DESCRIPTION, STATEMENTS)
