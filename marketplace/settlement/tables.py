"""Settlement (PRODUCT.md A11, I10): what each institution is billed, credited and owes.

Billing events are the charges themselves (one per lead and pricing model, priced by the
agreement in force at the business moment); a statement totals one institution's month and
keeps as rows only what is not an event: credit, cap and adjustment lines."""

from decimal import Decimal

from piccolo.columns import (
    JSONB,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User
from marketplace.agreements.tables import Agreement
from marketplace.applications.tables import Application
from marketplace.institutions.tables import Institution
from marketplace.loans.tables import Loan

_ZERO = Decimal("0.00")


class BillingEvent(Table, tablename="billing_event"):
    """One billable fact: a delivered lead (cpl), an approval (cpa) or a disbursement (cps).
    Unique per (application, kind) — a raw-SQL index in the migration."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    application = ForeignKey(references=Application, on_delete=OnDelete.restrict)
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, null=True, default=None)
    kind = Varchar(length=10)  # cpl | cpa | cps (agreements.terms.PricingModel)
    agreement = ForeignKey(references=Agreement, on_delete=OnDelete.restrict)
    agreement_version = Integer()
    amount = Numeric(digits=(14, 2))
    base_amount = Numeric(digits=(14, 2), null=True, default=None)  # CPS: the principal
    occurred_at = Timestamptz()  # the business moment the price was taken at
    period = Date()  # first day of the Asia/Shanghai month whose statement carries it
    # Blind index (purpose "id_number") of the borrower's ID number, for duplicate leads.
    borrower_key = Varchar(length=64, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class FlaggedLead(Table, tablename="flagged_lead"):
    """A lead an operator found fraudulent: its events, past and future, are credited."""

    id: Serial  # created by Piccolo; declared for type checkers
    application = ForeignKey(references=Application, on_delete=OnDelete.restrict, unique=True)
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    reason = Varchar(length=500)
    flagged_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    flagged_at = Timestamptz(default=TimestamptzNow())


class BillingCredit(Table, tablename="billing_credit"):
    """An automatic credit reversing (part of) one event; at most one per event."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    event = ForeignKey(references=BillingEvent, on_delete=OnDelete.restrict, unique=True)
    reason = Varchar(length=20)  # duplicate | withdrawn | fraud (settlement.statuses)
    amount = Numeric(digits=(14, 2))  # positive; shown negative
    note = Varchar(length=500, default="")
    created_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    period = Date()


class Statement(Table, tablename="statement"):
    """One institution's month. Totals are signed: credits, caps and adjustments ≤ 0;
    net = charges + credits + caps + adjustments (excl. VAT)."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    period = Date()
    status = Varchar(length=20, default="draft", index=True)
    event_count = Integer(default=0)
    charges_total = Numeric(digits=(14, 2), default=_ZERO)
    credits_total = Numeric(digits=(14, 2), default=_ZERO)
    caps_total = Numeric(digits=(14, 2), default=_ZERO)
    adjustments_total = Numeric(digits=(14, 2), default=_ZERO)
    net = Numeric(digits=(14, 2), default=_ZERO)
    vat_rate = Numeric(digits=(6, 4), default=_ZERO)
    vat = Numeric(digits=(14, 2), default=_ZERO)
    total_due = Numeric(digits=(14, 2), default=_ZERO)
    # Per pricing model: {"cpl": {"count", "charges", "credits", "caps", "adjustments", "net"}}
    subtotals = JSONB(default={})
    built_at = Timestamptz(default=TimestamptzNow())
    issued_at = Timestamptz(null=True, default=None)
    issued_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    confirmed_at = Timestamptz(null=True, default=None)
    confirmed_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    settled_at = Timestamptz(null=True, default=None)
    paid_amount = Numeric(digits=(14, 2), null=True, default=None)
    paid_on = Date(null=True, default=None)
    payment_reference = Varchar(length=64, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class StatementLine(Table, tablename="statement_line"):
    """A line of a statement that is neither a charge (a billing event) nor a credit (a
    billing credit) of its month: a monthly cap, or an adjustment an operator granted on a
    disputed line."""

    id: Serial  # created by Piccolo; declared for type checkers
    statement = ForeignKey(references=Statement, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20)  # cap | adjustment
    pricing_model = Varchar(length=10)
    agreement = ForeignKey(
        references=Agreement, on_delete=OnDelete.restrict, null=True, default=None
    )
    agreement_version = Integer(null=True, default=None)
    # The event an adjustment corrects.
    event = ForeignKey(
        references=BillingEvent, on_delete=OnDelete.restrict, null=True, default=None
    )
    target_ref = Varchar(length=24, default="")  # an adjustment: the line_ref it corrects
    amount = Numeric(digits=(14, 2))  # signed (≤ 0)
    note = Varchar(length=500, default="")
    occurred_at = Timestamptz()
    created_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class StatementDispute(Table, tablename="statement_dispute"):
    """The institution contests one line; an operator accepts (an adjustment line) or
    rejects it with a note. One open dispute per line (a raw-SQL partial index)."""

    id: Serial  # created by Piccolo; declared for type checkers
    statement = ForeignKey(references=Statement, on_delete=OnDelete.restrict, index=True)
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    line_ref = Varchar(length=24)
    event = ForeignKey(
        references=BillingEvent, on_delete=OnDelete.restrict, null=True, default=None
    )
    line = ForeignKey(
        references=StatementLine, on_delete=OnDelete.restrict, null=True, default=None
    )
    line_amount = Numeric(digits=(14, 2))  # what the line still charged when disputed
    reason = Text()
    status = Varchar(length=20, default="open", index=True)
    raised_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    raised_at = Timestamptz(default=TimestamptzNow())
    accepted_amount = Numeric(digits=(14, 2), null=True, default=None)
    resolution_note = Varchar(length=500, default="")
    adjustment = ForeignKey(
        references=StatementLine, on_delete=OnDelete.set_null, null=True, default=None
    )
    resolved_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
