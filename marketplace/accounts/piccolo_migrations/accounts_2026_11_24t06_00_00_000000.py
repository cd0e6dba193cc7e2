"""Unique logins: SQL that Piccolo's column API cannot express."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique logins"

STATEMENTS = [
    'CREATE UNIQUE INDEX app_user_login ON app_user (kind, login_key)',
    'CREATE INDEX app_user_institution ON app_user (institution) WHERE institution IS NOT NULL',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run():
        from marketplace.db import engine

        for statement in STATEMENTS:
            await engine().run_ddl(statement)

    manager.add_raw(run)
    return manager
