"""Append-only audit log: SQL that Piccolo's column API cannot express."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

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
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)

    async def run():
        from marketplace.db import engine

        for statement in STATEMENTS:
            await engine().run_ddl(statement)

    manager.add_raw(run)
    return manager
