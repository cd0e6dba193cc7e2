"""Writes to promotion bump the catalogue version (marketplace.cache)."""

from marketplace.appconfig import raw_sql_migration
from marketplace.cache import catalogue_version_sql

ID = "2026-12-01T14:10:02:000000"
VERSION = "1.38.0"
DESCRIPTION = "catalogue version"

STATEMENTS = catalogue_version_sql('promotion')


async def forwards():
    return raw_sql_migration(ID, "promotions", DESCRIPTION, STATEMENTS)
