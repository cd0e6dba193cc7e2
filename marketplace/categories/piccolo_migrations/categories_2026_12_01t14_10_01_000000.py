"""Writes to product_category bump the catalogue version (marketplace.cache)."""

from marketplace.appconfig import raw_sql_migration
from marketplace.cache import catalogue_version_sql

ID = "2026-12-01T14:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "catalogue version"

STATEMENTS = catalogue_version_sql('product_category')


async def forwards():
    return raw_sql_migration(ID, "categories", DESCRIPTION, STATEMENTS)
