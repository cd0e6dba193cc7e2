"""Idempotent submission and lead inbox indexes: SQL that Piccolo's column API cannot express."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "idempotent submission and lead inbox indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX application_submission ON application (borrower, submission_key)',
    'CREATE INDEX application_inbox ON application (institution, status, submitted_at DESC)',
    'CREATE INDEX application_borrower ON application (borrower, submitted_at DESC)',
    'CREATE INDEX application_event_application ON application_event (application, at)',
]


async def forwards():
    return raw_sql_migration(ID, "applications", DESCRIPTION, STATEMENTS)
