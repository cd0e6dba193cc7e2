"""Complaint keys held by the database: one statistics snapshot per institution and
window end, the sequence references are numbered from, and the desk's and SLA run's
indexes."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T10:39:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "complaint keys, reference sequence and indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX complaint_stats_snapshot_window_key"
    " ON complaint_stats_snapshot (institution, window_end)",
    "CREATE SEQUENCE complaint_reference_seq",
    "CREATE INDEX complaint_borrower_created ON complaint (borrower, created_at)",
    "CREATE INDEX complaint_due ON complaint (due_at) WHERE status <> 'closed'",
    "CREATE INDEX complaint_created ON complaint (created_at)",
    "CREATE INDEX complaint_message_order ON complaint_message (complaint, created_at)",
]


async def forwards():
    return raw_sql_migration(ID, "complaints", DESCRIPTION, STATEMENTS)
