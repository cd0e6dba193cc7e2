from piccolo.columns import (
    Array,
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


class DeliverySettings(Table, tablename="delivery_settings"):
    """What an institution is willing to receive (PRODUCT.md I6): lead caps, a monthly
    budget priced by its agreement, and filters on leads. One row per institution; its row
    lock serialises deliveries to that institution, so the caps hold under races. Every
    change is audited with the values before and after."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict, unique=True)
    # None: no limit.
    daily_lead_cap = Integer(null=True, default=None)
    monthly_lead_cap = Integer(null=True, default=None)
    monthly_budget = Numeric(digits=(14, 2), null=True, default=None)
    # Empty: any.
    cities = Array(base_column=Varchar(length=30), default=list)
    amount_min = Numeric(digits=(14, 2), null=True, default=None)
    amount_max = Numeric(digits=(14, 2), null=True, default=None)
    min_monthly_income = Numeric(digits=(14, 2), null=True, default=None)
    employment_types = Array(base_column=Varchar(length=30), default=list)
    version = Integer(default=1)
    updated_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())
