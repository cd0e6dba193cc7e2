"""Published complaint statistics (§6.5): per institution, over the `days` Asia/Shanghai
calendar days ending today (parameter complaint_stats_window_days, 90 by default).

What is counted (complaints of kind "complaint" against the institution, filed in the
window; complaints against the platform and feedback are not institution figures):
- rate: complaints per 10,000 applications submitted to the institution in the window,
  rounded half-up to 0.01. No applications: no rate. Fewer applications than
  complaint_stats_min_applications: no rate either, the page says "样本不足" — a handful of
  applications would make one complaint look like hundreds per 10,000;
- on-time share: of those complaints now resolved (or closed after resolution), the share
  resolved within the SLA (the flag the desk sets at resolution), to 0.0001; none resolved:
  no share;
- median hours from filing to resolution over the same resolved complaints, to 0.01 hours;
  an even count takes the mean of the two middle values (PostgreSQL percentile_cont(0.5));
- satisfaction: the mean of the 1–5 ratings given, to 0.01, with how many were given.

The counting is one set-based query (`_TALLY`, no complaint row is loaded); the rounding and
the sample rule are the pure functions below, unit-tested on hand-computed figures; the
result is upserted per institution × window end (the hourly cron rewrites today's row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from marketplace.loancalc import SHANGHAI

WINDOW_PARAMETER = "complaint_stats_window_days"
MIN_APPLICATIONS_PARAMETER = "complaint_stats_min_applications"
PER = 10_000

_CENT = Decimal("0.01")
_SHARE = Decimal("0.0001")


class RateState(StrEnum):
    """Why a rate is (not) shown."""

    RATE = "rate"
    NO_APPLICATIONS = "no_applications"
    TOO_FEW = "too_few"  # "样本不足"


@dataclass(frozen=True)
class Window:
    """`days` calendar days (Asia/Shanghai) ending on `end`, both ends inclusive."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def since(self) -> datetime:
        """The first moment counted: midnight in Shanghai at the start date."""
        return datetime.combine(self.start, time(), SHANGHAI)


def window_ending(now: datetime, days: int) -> Window:
    end = now.astimezone(SHANGHAI).date()
    return Window(start=end - timedelta(days=max(days, 1) - 1), end=end)


@dataclass(frozen=True)
class Tally:
    """What the query counts for one institution in the window."""

    institution_id: int
    applications: int
    complaints: int
    resolved: int
    resolved_within_sla: int
    median_hours: Decimal | None
    ratings: int
    rating_total: int


@dataclass(frozen=True)
class Published:
    """The figures published for one institution (the snapshot row's values)."""

    institution_id: int
    applications: int
    complaints: int
    per_10k: Decimal | None
    resolved: int
    resolved_within_sla: int
    within_sla_share: Decimal | None
    median_hours_to_resolve: Decimal | None
    ratings: int
    satisfaction_avg: Decimal | None


def rate_state(applications: int, min_applications: int) -> RateState:
    if applications <= 0:
        return RateState.NO_APPLICATIONS
    if applications < min_applications:
        return RateState.TOO_FEW
    return RateState.RATE


def per_10k(complaints: int, applications: int, min_applications: int) -> Decimal | None:
    """Complaints per 10,000 applications; None without a sample big enough to publish."""
    if rate_state(applications, min_applications) is not RateState.RATE:
        return None
    return (Decimal(complaints) * PER / Decimal(applications)).quantize(_CENT, ROUND_HALF_UP)


def share(part: int, whole: int) -> Decimal | None:
    if whole <= 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_SHARE, ROUND_HALF_UP)


def mean(total: int, count: int) -> Decimal | None:
    if count <= 0:
        return None
    return (Decimal(total) / Decimal(count)).quantize(_CENT, ROUND_HALF_UP)


def hours(value: Decimal | float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(_CENT, ROUND_HALF_UP)


def publish(tally: Tally, min_applications: int) -> Published:
    return Published(
        institution_id=tally.institution_id,
        applications=tally.applications,
        complaints=tally.complaints,
        per_10k=per_10k(tally.complaints, tally.applications, min_applications),
        resolved=tally.resolved,
        resolved_within_sla=tally.resolved_within_sla,
        within_sla_share=share(tally.resolved_within_sla, tally.resolved),
        median_hours_to_resolve=hours(tally.median_hours),
        ratings=tally.ratings,
        satisfaction_avg=mean(tally.rating_total, tally.ratings),
    )
