"""Idempotent repayment reports and the dues index: SQL that Piccolo's column API cannot
express."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T16:27:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "idempotent repayment reports and the open dues index"

STATEMENTS = [
    "CREATE UNIQUE INDEX loan_repayment_key ON loan_repayment (loan, idempotency_key)",
    "CREATE INDEX loan_instalment_open_due ON loan_instalment (due_on, loan)"
    " WHERE status IN ('pending', 'partial')",
]


async def forwards():
    return raw_sql_migration(ID, "loans", DESCRIPTION, STATEMENTS)
