"""The portfolio's alerts read the newest bucket events of one institution: an index in
that order, so the page reads 20 rows however many loans worsened at once."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T18:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "loan events indexed by institution, kind and date"

STATEMENTS = [
    "DROP INDEX loan_event_institution",
    "CREATE INDEX loan_event_institution ON loan_event (institution, kind, occurred_on, id)",
]


async def forwards():
    return raw_sql_migration(ID, "loans", DESCRIPTION, STATEMENTS)
