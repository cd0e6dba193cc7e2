"""Loan events, month-end snapshots and roll rates: unique keys, the indexes the portfolio
page reads by, and the outstanding principal of loans that existed before the column."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T17:44:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "loan events, month-end snapshots, roll rates; outstanding principal backfill"

STATEMENTS = [
    "UPDATE loan SET principal_outstanding = loan.principal - COALESCE("
    "(SELECT sum(r.principal_part) FROM loan_repayment r WHERE r.loan = loan.id), 0)",
    "CREATE UNIQUE INDEX loan_month_end_key ON loan_month_end (month_end, loan)",
    "CREATE INDEX loan_month_end_loan ON loan_month_end (loan, month_end)",
    "CREATE UNIQUE INDEX loan_roll_key ON loan_roll"
    " (institution, month_end, from_bucket, to_bucket)",
    "CREATE INDEX loan_event_institution ON loan_event (institution, occurred_on)",
    "CREATE INDEX loan_institution_disbursed ON loan (institution, disbursed_on, id)",
]


async def forwards():
    return raw_sql_migration(ID, "loans", DESCRIPTION, STATEMENTS)
