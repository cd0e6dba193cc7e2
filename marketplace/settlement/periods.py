"""Billing months (Asia/Shanghai) and the one rule that says which statement carries an
event or credit: its own month, unless that month's statement has been issued — then the
earliest month from now on whose statement is still a draft (or not built yet)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from marketplace.loancalc import SHANGHAI
from marketplace.settlement.statuses import StatementStatus
from marketplace.settlement.tables import Statement

# Transaction-level advisory locks per institution: billing takes the shared form, issuing
# the exclusive one, so an issued statement never gains a line.
LOCK_SPACE = 0x5E771


def month_of(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date().replace(day=1)


def current_month(now: datetime | None = None) -> date:
    return month_of(now or datetime.now(UTC))


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(month: date) -> date:
    return (month.replace(day=1) - timedelta(days=1)).replace(day=1)


def month_end(month: date) -> datetime:
    """The last instant of a billing month, in UTC."""
    start = datetime.combine(next_month(month), time(), tzinfo=SHANGHAI)
    return (start - timedelta(microseconds=1)).astimezone(UTC)


async def lock_institution(institution_id: int, *, exclusive: bool) -> None:
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await Statement.raw(f"SELECT {function}({{}}, {{}})", LOCK_SPACE, institution_id)


async def period_for(institution_id: int, moment: datetime, now: datetime | None = None) -> date:
    """The period of a charge or credit at `moment`; call under the shared lock."""
    month = month_of(moment)
    this_month = current_month(now)
    rows = await Statement.select(Statement.period).where(
        (Statement.institution == institution_id)
        & (Statement.period >= min(month, this_month))
        & (Statement.status != StatementStatus.DRAFT)
    )
    closed = {row["period"] for row in rows}
    if month not in closed:
        return month
    period = max(month, this_month)
    while period in closed:
        period = next_month(period)
    return period
