"""Append-only audit log: SQL that Piccolo's column API cannot express."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "append-only audit log"

STATEMENTS = [
    "CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    RAISE EXCEPTION 'audit_entry is append-only';\nEND;\n$$",
    'CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()',
    'CREATE INDEX audit_entry_object ON audit_entry (object_type, object_id)',
    'CREATE INDEX audit_entry_actor ON audit_entry (actor_kind, actor_id)',
]


async def forwards():
    return raw_sql_migration(ID, "audit", DESCRIPTION, STATEMENTS)
