from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T20:34:55:643822"
VERSION = "1.38.0"
DESCRIPTION = ""


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="products", description=DESCRIPTION
    )

    manager.drop_column(
        table_class_name="Product",
        tablename="product",
        column_name="repayment_method",
        db_column_name="repayment_method",
        schema=None,
    )

    return manager
