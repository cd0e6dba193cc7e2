"""Unique logins: SQL that Piccolo's column API cannot express."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique logins"

STATEMENTS = [
    'CREATE UNIQUE INDEX app_user_login ON app_user (kind, login_key)',
    'CREATE INDEX app_user_institution ON app_user (institution) WHERE institution IS NOT NULL',
]


async def forwards():
    return raw_sql_migration(ID, "accounts", DESCRIPTION, STATEMENTS)
