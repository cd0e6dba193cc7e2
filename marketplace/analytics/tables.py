"""Behaviour events and the daily rollups (docs/architecture.md, "Analytics").

Events carry no personal data: a pseudonymous visitor id (a keyed hash of the first-party
device cookie, never a user id), no IP address. The rollups are plain tables keyed by the
Asia/Shanghai business date and their dimensions, rebuilt or updated by
`jobs.refresh_rollups` with set-based SQL; the pages read only these and small dimension
tables (institution, product)."""

from decimal import Decimal

from piccolo.columns import (
    JSONB,
    BigSerial,
    Date,
    Integer,
    Numeric,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

_MONEY = (16, 2)
_ZERO = Decimal("0.00")


class BehaviourEvent(Table, tablename="analytics_event"):
    id: BigSerial
    kind = Varchar(length=30)
    visitor = Varchar(length=32, default="")
    at = Timestamptz(default=TimestamptzNow(), index=True)
    product = Integer(null=True, default=None)
    # Searches: the text as typed (bounded), the filters used, how many results.
    query = Varchar(length=100, default="")
    filters = JSONB(default="{}")
    result_count = Integer(null=True, default=None)


class FunnelDaily(Table, tablename="analytics_funnel_daily"):
    """Per day (Asia/Shanghai) and institution × product × city × channel: applications
    submitted, delivered, decided (approved / rejected), signed, and loans disbursed that
    day; decision hours summed over the decisions of the day (time to decision)."""

    day = Date(index=True)
    institution = Integer()
    product = Integer()
    city = Varchar(length=30, default="")
    channel = Varchar(length=20, default="web")
    submitted = Integer(default=0)
    delivered = Integer(default=0)
    approved = Integer(default=0)
    rejected = Integer(default=0)
    signed = Integer(default=0)
    disbursed = Integer(default=0)
    disbursed_amount = Numeric(digits=_MONEY, default=_ZERO)
    decision_hours_sum = Numeric(digits=(18, 2), default=_ZERO)
    decision_count = Integer(default=0)


class LoanDaily(Table, tablename="analytics_loan_daily"):
    """Loans by the day they were disbursed (a vintage) and institution × product × city ×
    channel (of their application): how many are in force and overdue now, and their
    balances."""

    day = Date(index=True)
    institution = Integer()
    product = Integer()
    city = Varchar(length=30, default="")
    channel = Varchar(length=20, default="web")
    loans = Integer(default=0)
    in_force = Integer(default=0)
    overdue = Integer(default=0)
    outstanding = Numeric(digits=_MONEY, default=_ZERO)
    overdue_balance = Numeric(digits=_MONEY, default=_ZERO)


class FunnelInstitutionDaily(Table, tablename="analytics_funnel_institution_daily"):
    """The coarse funnel rollup: `FunnelDaily` summed per day × institution (a few rows a
    day instead of one per product × city × channel), written by the same refresh in the
    same transaction. The tiles, the trend, the funnels and the institution table read
    this; only the product / city / channel breakdowns read the fine one."""

    day = Date()
    institution = Integer()
    submitted = Integer(default=0)
    delivered = Integer(default=0)
    approved = Integer(default=0)
    rejected = Integer(default=0)
    signed = Integer(default=0)
    disbursed = Integer(default=0)
    disbursed_amount = Numeric(digits=_MONEY, default=_ZERO)
    decision_hours_sum = Numeric(digits=(18, 2), default=_ZERO)
    decision_count = Integer(default=0)


class LoanInstitutionDaily(Table, tablename="analytics_loan_institution_daily"):
    """The coarse loan rollup: `LoanDaily` summed per vintage day × institution."""

    day = Date()
    institution = Integer()
    loans = Integer(default=0)
    in_force = Integer(default=0)
    overdue = Integer(default=0)
    outstanding = Numeric(digits=_MONEY, default=_ZERO)
    overdue_balance = Numeric(digits=_MONEY, default=_ZERO)


class BreakdownDaily(Table, tablename="analytics_breakdown_daily"):
    """An institution's funnel and loan figures per day by one dimension at a time
    (product, city or channel): the fine rollups folded along the other dimensions, so a
    breakdown reads tens of rows a day, not one per product × city. Written by the same
    refresh in the same transaction; the report's breakdowns read only this."""

    day = Date(index=True)
    institution = Integer()
    dimension = Varchar(length=10)  # product | city | channel
    group_key = Varchar(length=30)  # the product id, the city or the channel
    submitted = Integer(default=0)
    delivered = Integer(default=0)
    approved = Integer(default=0)
    rejected = Integer(default=0)
    signed = Integer(default=0)
    disbursed = Integer(default=0)
    disbursed_amount = Numeric(digits=_MONEY, default=_ZERO)
    decision_hours_sum = Numeric(digits=(18, 2), default=_ZERO)
    decision_count = Integer(default=0)
    loans = Integer(default=0)
    in_force = Integer(default=0)
    overdue = Integer(default=0)


class RevenueDaily(Table, tablename="analytics_revenue_daily"):
    """Platform revenue: billing events by the day they occurred, credits by the day they
    were granted, per institution and pricing model."""

    day = Date(index=True)
    institution = Integer()
    kind = Varchar(length=10)
    events = Integer(default=0)
    charges = Numeric(digits=_MONEY, default=_ZERO)
    credits = Numeric(digits=_MONEY, default=_ZERO)


class BehaviourDaily(Table, tablename="analytics_behaviour_daily"):
    """Per day and product (0: not about one product, e.g. a search)."""

    day = Date(index=True)
    product = Integer(default=0)
    views = Integer(default=0)
    searches = Integer(default=0)
    zero_result_searches = Integer(default=0)
    filter_uses = Integer(default=0)
    calculator_uses = Integer(default=0)
    apply_opened = Integer(default=0)
    apply_submitted = Integer(default=0)
    consents = Integer(default=0)
    # Visitors who used a calculator that day, and of them those who also opened an
    # apply form that day (calculator → apply conversion).
    calculator_visitors = Integer(default=0)
    calculator_apply_visitors = Integer(default=0)


class QueryDaily(Table, tablename="analytics_query_daily"):
    """Search texts per day (normalised: trimmed, lower case), and how many found nothing."""

    day = Date(index=True)
    query = Varchar(length=100)
    searches = Integer(default=0)
    zero_results = Integer(default=0)


class FilterDaily(Table, tablename="analytics_filter_daily"):
    """Which list filters were used, per day."""

    day = Date(index=True)
    filter = Varchar(length=30)
    uses = Integer(default=0)


class BandMember(Table, tablename="analytics_band_member"):
    """Customer bands for an institution, from its applications whose consent is in force
    now: one row per day of submission × borrower, with the borrower's bands that day
    (age, city tier, income, employment) and their applications, approvals and
    disbursements. Per borrower, so a period's band counts each borrower once however
    many days they applied on (the small-group threshold is on distinct people); the
    borrower is the account id, kept only while the consent is (the refresh drops it)."""

    day = Date(index=True)
    institution = Integer()
    borrower = Integer()
    age = Varchar(length=10)
    city_tier = Varchar(length=10)
    income = Varchar(length=10)
    employment = Varchar(length=30)
    applications = Integer(default=0)
    approved = Integer(default=0)
    disbursed = Integer(default=0)
    # Per dimension, the borrower's previous day in the same band at this institution (None:
    # the first). A period counts a borrower in a band on the row whose previous day is
    # before the period: exactly one row per borrower and band, so a plain filtered count
    # is the distinct count — no DISTINCT, no sort of the period's rows.
    age_previous = Date(null=True, default=None)
    city_tier_previous = Date(null=True, default=None)
    income_previous = Date(null=True, default=None)
    employment_previous = Date(null=True, default=None)


class BandDaily(Table, tablename="analytics_band_daily"):
    """`BandMember` folded per day × institution × dimension × band, written by the same
    refresh in the same transaction: the band's borrowers that day (its rows) and their
    applications, approvals and disbursements."""

    day = Date(index=True)
    institution = Integer()
    dimension = Varchar(length=10)  # age | city_tier | income | employment
    band = Varchar(length=30)
    borrowers = Integer(default=0)
    applications = Integer(default=0)
    approved = Integer(default=0)
    disbursed = Integer(default=0)


class BandReturn(Table, tablename="analytics_band_return"):
    """How many `BandMember` rows of a dimension's band have this previous day: the
    borrowers who came back to the band after that day. A period's distinct borrowers of
    a band are its borrower-days (`BandDaily`) less the rows whose previous day is also in
    the period (read here by previous day), plus those of them that came back only after
    the period (a scan of the band rows after its end: none for a period ending today).
    Keyed by the previous day, so the refresh keeps it by deltas: it takes out the rows it
    is about to rewrite and adds the ones it wrote."""

    institution = Integer()
    dimension = Varchar(length=10)
    band = Varchar(length=30)
    previous = Date()
    returns = Integer(default=0)


class RefreshRun(Table, tablename="analytics_refresh_run"):
    """When the rollups were last refreshed (shown on the pages), and from which day."""

    id: BigSerial
    since = Date(null=True, default=None)
    rows = Integer(default=0)
    finished_at = Timestamptz(default=TimestamptzNow())
