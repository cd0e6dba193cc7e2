"""One submission key per batch: a multi-product submission writes one application per
product under the same key, so the key is unique per borrower and product."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T04:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "submission key unique per borrower and product (one key per batch)"

STATEMENTS = [
    "DROP INDEX IF EXISTS application_submission",
    "CREATE UNIQUE INDEX application_submission ON application (borrower, submission_key, product)",
]


async def forwards():
    return raw_sql_migration(ID, "applications", DESCRIPTION, STATEMENTS)
