"""Catalogue indexes: SQL that Piccolo's column API cannot express."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "catalogue indexes"

STATEMENTS = [
    'CREATE INDEX product_status ON product (status)',
    'CREATE INDEX product_institution ON product (institution, updated_at DESC)',
    'CREATE UNIQUE INDEX product_revision_version ON product_revision (product, version)',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="products", description=DESCRIPTION)

    async def run():
        from marketplace.db import engine

        for statement in STATEMENTS:
            await engine().run_ddl(statement)

    manager.add_raw(run)
    return manager
