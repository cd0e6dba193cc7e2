"""Shared shape of every context's piccolo_app.py."""

from __future__ import annotations

import os

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
