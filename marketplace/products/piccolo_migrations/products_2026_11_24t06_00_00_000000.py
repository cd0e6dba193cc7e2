"""Catalogue indexes: SQL that Piccolo's column API cannot express."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "catalogue indexes"

STATEMENTS = [
    'CREATE INDEX product_status ON product (status)',
    'CREATE INDEX product_institution ON product (institution, updated_at DESC)',
    'CREATE UNIQUE INDEX product_revision_version ON product_revision (product, version)',
]


async def forwards():
    return raw_sql_migration(ID, "products", DESCRIPTION, STATEMENTS)
