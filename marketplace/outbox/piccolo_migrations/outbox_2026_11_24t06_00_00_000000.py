"""Pending messages: SQL that Piccolo's column API cannot express."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pending messages"

STATEMENTS = [
    'CREATE INDEX outbox_pending ON outbox_message (id) WHERE dispatched_at IS NULL',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outbox", description=DESCRIPTION)

    async def run():
        from marketplace.db import engine

        for statement in STATEMENTS:
            await engine().run_ddl(statement)

    manager.add_raw(run)
    return manager
