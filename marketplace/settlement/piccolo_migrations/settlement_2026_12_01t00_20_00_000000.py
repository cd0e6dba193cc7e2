"""Settlement keys the verbs rely on, held by the database: one billing event per lead and
pricing model, one statement per institution and month, one open dispute per line; and the
indexes of the month's lines and of the duplicate-lead screen."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T00:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "settlement unique keys and indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX billing_event_lead_kind_key ON billing_event (application, kind)",
    "CREATE INDEX billing_event_period ON billing_event (institution, period, occurred_at)",
    "CREATE INDEX billing_event_borrower ON billing_event (institution, borrower_key, occurred_at)"
    " WHERE kind = 'cpl' AND borrower_key <> ''",
    "CREATE INDEX billing_event_month ON billing_event (period, institution)",
    "CREATE INDEX billing_credit_period ON billing_credit (period, institution)",
    "CREATE UNIQUE INDEX statement_month_key ON statement (institution, period)",
    "CREATE INDEX statement_line_event ON statement_line (event) WHERE event IS NOT NULL",
    "CREATE UNIQUE INDEX statement_dispute_open_key ON statement_dispute (statement, line_ref)"
    " WHERE status = 'open'",
]


async def forwards():
    return raw_sql_migration(ID, "settlement", DESCRIPTION, STATEMENTS)
