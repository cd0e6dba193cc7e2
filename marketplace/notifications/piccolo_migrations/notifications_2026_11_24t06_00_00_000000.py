"""Recipient lookups: SQL that Piccolo's column API cannot express."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "recipient lookups"

STATEMENTS = [
    'CREATE INDEX notification_recipient ON notification (recipient_index, created_at DESC)',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    async def run():
        from marketplace.db import engine

        for statement in STATEMENTS:
            await engine().run_ddl(statement)

    manager.add_raw(run)
    return manager
