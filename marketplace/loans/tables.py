from decimal import Decimal

from piccolo.columns import (
    JSONB,
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
from marketplace.applications.tables import Application
from marketplace.institutions.tables import Institution
from marketplace.products.tables import Product

_ZERO = Decimal("0.00")


# Money records outlive whatever they point at: deleting a referenced row is refused.
class Loan(Table, tablename="loan"):
    id: Serial  # created by Piccolo; declared for type checkers
    application = ForeignKey(references=Application, on_delete=OnDelete.restrict, unique=True)
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict, index=True)
    borrower = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    product = ForeignKey(references=Product, on_delete=OnDelete.restrict)
    principal = Numeric(digits=(14, 2))
    rate = Numeric(digits=(12, 8))
    rate_period = Varchar(length=10)
    day_count = Integer(default=360)
    term_months = Integer()
    repayment_method = Varchar(length=30)
    fees = JSONB(default="[]")
    upfront_fees = Numeric(digits=(14, 2), default=_ZERO)
    disbursed_on = Date()
    # Only the last digits of the borrower's receiving account: enough to recognise it.
    receiving_account_masked = Varchar(length=24)
    status = Varchar(length=20, default="disbursed", index=True)
    # Kept by the repayment verbs, so portfolio sums never add up repayments per loan.
    principal_outstanding = Numeric(digits=(14, 2), default=_ZERO)
    dpd = Integer(default=0)
    dpd_bucket = Varchar(length=10, default="current")
    settled_on = Date(null=True, default=None)
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Instalment(Table, tablename="loan_instalment"):
    id: Serial  # created by Piccolo; declared for type checkers
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, index=True)
    number = Integer()
    due_on = Date()
    principal_due = Numeric(digits=(14, 2))
    interest_due = Numeric(digits=(14, 2))
    fee_due = Numeric(digits=(14, 2))
    principal_paid = Numeric(digits=(14, 2), default=_ZERO)
    interest_paid = Numeric(digits=(14, 2), default=_ZERO)
    fee_paid = Numeric(digits=(14, 2), default=_ZERO)
    paid_on = Date(null=True, default=None)
    status = Varchar(length=20, default="pending")


class Repayment(Table, tablename="loan_repayment"):
    id: Serial  # created by Piccolo; declared for type checkers
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, index=True)
    amount = Numeric(digits=(14, 2))
    principal_part = Numeric(digits=(14, 2))
    interest_part = Numeric(digits=(14, 2))
    fee_part = Numeric(digits=(14, 2))
    paid_on = Date()
    kind = Varchar(length=20)
    reported_by = ForeignKey(references=User, on_delete=OnDelete.restrict, null=True, default=None)
    # Unique per loan (hand-written migration): a report sent twice is recorded once.
    idempotency_key = Varchar(length=64)
    created_at = Timestamptz(default=TimestamptzNow())


class LoanDailyRun(Table, tablename="loan_daily_run"):
    """One row per business date the overdue run has completed, so the hourly cron does
    the set-based pass once a day."""

    id: Serial  # created by Piccolo; declared for type checkers
    business_date = Date(unique=True)
    changed = Integer(default=0)
    ran_at = Timestamptz(default=TimestamptzNow())


class LoanEvent(Table, tablename="loan_event"):
    """What happened to a loan, for timelines and alerts: written by the verbs (disbursed,
    repayment, cured, settled) and by the daily run (overdue, a worse DPD bucket)."""

    id: Serial  # created by Piccolo; declared for type checkers
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, index=True)
    # The loan's institution, copied so alerts are one indexed scan per institution.
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    kind = Varchar(length=20)
    occurred_on = Date()
    amount = Numeric(digits=(14, 2), null=True, default=None)
    dpd = Integer(default=0)
    dpd_bucket = Varchar(length=10, default="")
    at = Timestamptz(default=TimestamptzNow())


class LoanMonthEnd(Table, tablename="loan_month_end"):
    """Each open loan's bucket and outstanding principal at a month end, taken by the first
    daily run of the next month; the month's roll rates are computed from it."""

    id: Serial  # created by Piccolo; declared for type checkers
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict)
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    month_end = Date()
    dpd_bucket = Varchar(length=10)
    dpd = Integer()
    principal_outstanding = Numeric(digits=(14, 2))


class LoanRoll(Table, tablename="loan_roll"):
    """Per institution and month end: outstanding principal at the previous month end by
    the bucket it was in then and the one it is in now ("settled" when closed)."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    month_end = Date()
    from_bucket = Varchar(length=10)
    to_bucket = Varchar(length=10)
    loans = Integer()
    principal = Numeric(digits=(16, 2))
