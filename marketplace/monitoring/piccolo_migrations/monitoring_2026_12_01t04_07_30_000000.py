"""Monitoring keys held by the database: at most one unresolved case per subject and rule
(a flag evaluated twice at once opens one case), and the case list's order."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T04:07:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "monitoring unique keys and indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX monitoring_case_unresolved_key ON monitoring_case (subject_key, rule)"
    " WHERE status IN ('open', 'suspended')",
    "CREATE INDEX monitoring_case_subject ON monitoring_case (subject_key, status)",
    "CREATE INDEX monitoring_case_event_order ON monitoring_case_event (\"case\", at)",
]


async def forwards():
    return raw_sql_migration(ID, "monitoring", DESCRIPTION, STATEMENTS)
