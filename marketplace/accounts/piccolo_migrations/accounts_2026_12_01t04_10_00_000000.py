from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T04:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Saved profile: contact address and one emergency contact"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="accounts", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="BorrowerProfile",
        tablename="borrower_profile",
        column_name="address_encrypted",
        db_column_name="address_encrypted",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": '',
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="BorrowerProfile",
        tablename="borrower_profile",
        column_name="address_masked",
        db_column_name="address_masked",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "default": '',
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
            "length": 120,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="BorrowerProfile",
        tablename="borrower_profile",
        column_name="contact_name_encrypted",
        db_column_name="contact_name_encrypted",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "default": '',
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
            "length": 255,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="BorrowerProfile",
        tablename="borrower_profile",
        column_name="contact_name_masked",
        db_column_name="contact_name_masked",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "default": '',
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
            "length": 40,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="BorrowerProfile",
        tablename="borrower_profile",
        column_name="contact_relation",
        db_column_name="contact_relation",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "default": '',
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
            "length": 20,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="BorrowerProfile",
        tablename="borrower_profile",
        column_name="contact_mobile_encrypted",
        db_column_name="contact_mobile_encrypted",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "default": '',
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
            "length": 255,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="BorrowerProfile",
        tablename="borrower_profile",
        column_name="contact_mobile_masked",
        db_column_name="contact_mobile_masked",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "default": '',
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
            "length": 20,
        },
        schema=None,
    )

    return manager
