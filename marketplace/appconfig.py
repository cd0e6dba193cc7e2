"""Shared shape of every context's piccolo_app.py."""

from __future__ import annotations

import os

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.conf.apps import AppConfig
from piccolo.table import Table


def app_config(
    name: str, app_file: str, tables: list[type[Table]], depends_on: tuple[str, ...] = ()
) -> AppConfig:
    """`depends_on`: apps whose tables this one references (the app graph is acyclic)."""
    return AppConfig(
        app_name=name,
        migrations_folder_path=os.path.join(os.path.dirname(app_file), "piccolo_migrations"),
        table_classes=tables,
        migration_dependencies=[f"marketplace.{app}.piccolo_app" for app in depends_on],
        commands=[],
    )


def raw_sql_migration(
    migration_id: str, app_name: str, description: str, statements: list[str]
) -> MigrationManager:
    """A hand-written migration of SQL that Piccolo's column API cannot express."""
    manager = MigrationManager(
        migration_id=migration_id, app_name=app_name, description=description
    )

    async def run() -> None:
        from marketplace.db import engine

        for statement in statements:
            await engine().run_ddl(statement)

    manager.add_raw(run)
    return manager
