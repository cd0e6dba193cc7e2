from decimal import Decimal

from piccolo.columns import (
    JSONB,
    Array,
    Boolean,
    ForeignKey,
    Integer,
    Numeric,
    Real,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.institutions.tables import Institution


class Product(Table, tablename="product"):
    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution)
    name = Varchar(length=60)
    category = Varchar(length=30)
    summary = Varchar(length=200, default="")
    description = Text(default="")
    amount_min = Numeric(digits=(14, 2))
    amount_max = Numeric(digits=(14, 2))
    term_options = Array(base_column=Integer())
    # For a floating rate, `rate` is the current LPR plus the spread (re-priced whenever the
    # LPR parameter changes) and the period is a year.
    rate_type = Varchar(length=10, default="fixed")
    rate_spread_bps = Integer(null=True, default=None)
    rate = Numeric(digits=(12, 8))
    rate_period = Varchar(length=10)
    repayment_methods = Array(base_column=Varchar(length=30), default=list)
    fees = JSONB(default="[]")
    # Late, penalty and early-repayment charges (disclosures.py): contingent, so outside the
    # APR; a kind missing from the list has not been disclosed.
    contingent_fees = JSONB(default="[]")
    age_min = Integer(default=18)
    age_max = Integer(default=60)
    cities = Array(base_column=Varchar(length=30))
    min_monthly_income = Numeric(digits=(14, 2), default=Decimal("0"))
    employment_types = Array(base_column=Varchar(length=30))
    required_documents = Array(base_column=Varchar(length=40))
    tags = Array(base_column=Varchar(length=20))
    keywords = Array(base_column=Varchar(length=20))
    approval_speed_hours = Integer(default=24)
    approval_rate = Real(default=0.5)
    popularity = Integer(default=0)
    apr_min = Numeric(digits=(10, 6), null=True, default=None)
    apr_max = Numeric(digits=(10, 6), null=True, default=None)
    cost_verdict = Varchar(length=10, default="ok")
    high_cost_acknowledged = Boolean(default=False)
    # "Has a live promotion": derived, written only by services.sync_promoted when the
    # promotions clock runs (which also clears any flag set before promotions existed).
    promoted = Boolean(default=False)
    status = Varchar(length=20, default="draft")
    version = Integer(default=1)
    review_note = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    listed_at = Timestamptz(null=True, default=None)


class ProductRevision(Table, tablename="product_revision"):
    """The terms of each listed version, frozen when it is listed; applications pin one."""

    id: Serial  # created by Piccolo; declared for type checkers
    product = ForeignKey(references=Product)
    version = Integer()
    snapshot = JSONB()
    created_at = Timestamptz(default=TimestamptzNow())
