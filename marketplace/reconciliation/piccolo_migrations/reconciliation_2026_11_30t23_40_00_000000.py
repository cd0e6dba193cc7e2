"""Reconciliation: one current report per institution and month, one row per reference in
a report, one resolution per discrepancy — held by the database whatever the verbs' locks."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T23:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "reconciliation unique keys"

STATEMENTS = [
    "CREATE UNIQUE INDEX reconciliation_report_current_key"
    " ON reconciliation_report (institution, period) WHERE is_current",
    "CREATE INDEX reconciliation_report_period ON reconciliation_report"
    " (institution, period, created_at)",
    "CREATE UNIQUE INDEX reconciliation_row_reference_key"
    " ON reconciliation_row (report, application_reference)",
    "CREATE UNIQUE INDEX reconciliation_resolution_key ON reconciliation_resolution"
    " (institution, period, application_reference, fingerprint)",
]


async def forwards():
    return raw_sql_migration(ID, "reconciliation", DESCRIPTION, STATEMENTS)
