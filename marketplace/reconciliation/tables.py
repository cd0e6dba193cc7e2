from piccolo.columns import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User
from marketplace.institutions.tables import Institution


class DisbursementReport(Table, tablename="reconciliation_report"):
    """One submission of an institution's disbursement ledger for a month (the statement
    period). A new submission replaces the period's current one, which stays as history:
    at most one current report per (institution, period), held by a partial unique index."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict, index=True)
    period = Date()  # first day of the Asia/Shanghai month
    source = Varchar(length=10)  # upload | form | api (statuses.ReportSource)
    filename = Varchar(length=100, default="")
    row_count = Integer(default=0)
    submitted_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    submitted_label = Varchar(length=100, default="")
    is_current = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    replaced_at = Timestamptz(null=True, default=None)


class ReportedDisbursement(Table, tablename="reconciliation_row"):
    """A row of a report as the institution sent it. The reference is kept as typed (a
    hostile value is text that matches nothing); unique per report."""

    id: Serial  # created by Piccolo; declared for type checkers
    report = ForeignKey(references=DisbursementReport, on_delete=OnDelete.cascade, index=True)
    row_number = Integer()
    application_reference = Varchar(length=64)
    principal = Numeric(digits=(14, 2))
    disbursed_on = Date()
    loan_number = Varchar(length=64, default="")
    updated_at = Timestamptz(default=TimestamptzNow())


class DiscrepancyResolution(Table, tablename="reconciliation_resolution"):
    """A discrepancy marked resolved with a note. It names the discrepancy by its
    fingerprint (outcome and both sides' values), so it stays resolved across identical
    re-submissions and a changed value is a new, open discrepancy."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    period = Date()
    application_reference = Varchar(length=64)
    outcome = Varchar(length=24)
    fingerprint = Varchar(length=32)
    note = Varchar(length=500)
    resolved_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    resolver_kind = Varchar(length=10)  # staff | operator
    resolver_label = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
