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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from marketplace.complaints.statuses import ComplaintKind
from marketplace.complaints.tables import ComplaintStatsSnapshot
from marketplace.db import transaction
from marketplace.institutions.statuses import InstitutionStatus
from marketplace.loancalc import SHANGHAI
from marketplace.monitoring.statuses import Subject
from marketplace.parameters.services import DEFAULTS, get_parameters

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


# Institutions published even without activity in the window (then with zeros).
_LISTED = (InstitutionStatus.ACTIVE, InstitutionStatus.SUSPENDED)

# "Resolved": resolved at least once (the desk sets resolved_within_sla at the first
# resolution), even if the borrower reopened it since.
_TALLY = f"""
WITH apps AS (
  SELECT institution AS iid, count(*) AS n FROM application
  WHERE submitted_at >= {{}} AND submitted_at <= {{}}
  GROUP BY institution),
filed AS (
  SELECT institution AS iid, count(*) AS complaints,
         count(*) FILTER (WHERE resolved_within_sla IS NOT NULL AND resolved_at IS NOT NULL)
           AS resolved,
         count(*) FILTER (WHERE resolved_within_sla AND resolved_at IS NOT NULL)
           AS resolved_within_sla,
         percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM resolved_at - created_at) / 3600)
           FILTER (WHERE resolved_within_sla IS NOT NULL AND resolved_at IS NOT NULL)
           AS median_hours,
         count(rating) AS ratings, coalesce(sum(rating), 0) AS rating_total
  FROM complaint
  WHERE kind = '{ComplaintKind.COMPLAINT}' AND institution IS NOT NULL
    AND created_at >= {{}} AND created_at <= {{}}
  GROUP BY institution)
SELECT i.id AS institution_id, coalesce(apps.n, 0) AS applications,
       coalesce(filed.complaints, 0) AS complaints, coalesce(filed.resolved, 0) AS resolved,
       coalesce(filed.resolved_within_sla, 0) AS resolved_within_sla,
       filed.median_hours, coalesce(filed.ratings, 0) AS ratings,
       coalesce(filed.rating_total, 0) AS rating_total
FROM institution i
LEFT JOIN apps ON apps.iid = i.id
LEFT JOIN filed ON filed.iid = i.id
WHERE i.status IN ({", ".join(f"'{status}'" for status in _LISTED)})
   OR apps.iid IS NOT NULL OR filed.iid IS NOT NULL
ORDER BY i.id
"""  # noqa: S608 - only enum values from code are interpolated

_COLUMNS = (
    "applications",
    "complaints",
    "per_10k",
    "resolved",
    "resolved_within_sla",
    "within_sla_share",
    "median_hours_to_resolve",
    "ratings",
    "satisfaction_avg",
)
_UPSERT = f"""
INSERT INTO complaint_stats_snapshot
  (institution, window_start, window_end, computed_at, {", ".join(_COLUMNS)})
SELECT t.institution, {{}}::date, {{}}::date, {{}}, {", ".join(f"t.{c}" for c in _COLUMNS)}
FROM unnest({{}}::int[], {{}}::int[], {{}}::int[], {{}}::numeric[], {{}}::int[], {{}}::int[],
            {{}}::numeric[], {{}}::numeric[], {{}}::int[], {{}}::numeric[])
  AS t(institution, {", ".join(_COLUMNS)})
ON CONFLICT (institution, window_end) DO UPDATE SET
  window_start = EXCLUDED.window_start, computed_at = EXCLUDED.computed_at,
  {", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)}
"""  # noqa: S608 - only column names from this module are interpolated


def _whole(raw: object, default: int) -> int:
    """A stored count; a malformed override falls back to the default, never a crash."""
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1 else default


async def tallies(window: Window, now: datetime) -> list[Tally]:
    """One set-based query: each listed (or active in the window) institution's counts."""
    rows = await ComplaintStatsSnapshot.raw(_TALLY, window.since, now, window.since, now)
    return [
        Tally(
            institution_id=row["institution_id"],
            applications=row["applications"],
            complaints=row["complaints"],
            resolved=row["resolved"],
            resolved_within_sla=row["resolved_within_sla"],
            median_hours=None if row["median_hours"] is None else Decimal(str(row["median_hours"])),
            ratings=row["ratings"],
            rating_total=row["rating_total"],
        )
        for row in rows
    ]


async def refresh_complaint_stats(now: datetime) -> Window:
    """Compute every institution's figures for the window ending on `now`'s date and
    upsert them (today's rows are rewritten each run; an institution no longer listed
    loses today's row). Idempotent, and safe to run twice at once."""
    values = await get_parameters(WINDOW_PARAMETER, MIN_APPLICATIONS_PARAMETER)
    days = _whole(values[WINDOW_PARAMETER], DEFAULTS[WINDOW_PARAMETER])
    minimum = _whole(values[MIN_APPLICATIONS_PARAMETER], DEFAULTS[MIN_APPLICATIONS_PARAMETER])
    window = window_ending(now, days)
    shown = [publish(tally, minimum) for tally in await tallies(window, now)]
    columns = [[getattr(row, column) for row in shown] for column in _COLUMNS]
    ids = [row.institution_id for row in shown]
    async with transaction():
        await ComplaintStatsSnapshot.raw(
            "DELETE FROM complaint_stats_snapshot WHERE window_end = {} AND NOT institution = ANY({})",
            window.end,
            ids,
        )
        if shown:
            await ComplaintStatsSnapshot.raw(_UPSERT, window.start, window.end, now, ids, *columns)
    return window


_COUNT_BY_INSTITUTION = f"""
SELECT institution AS sid, count(*) AS n FROM complaint
WHERE kind = '{ComplaintKind.COMPLAINT}' AND institution IS NOT NULL AND created_at >= {{}}
GROUP BY institution
"""  # noqa: S608 - an enum value from code
# A complaint counts for a product through the application or loan it names.
_COUNT_BY_PRODUCT = f"""
SELECT coalesce(a.product, l.product) AS sid, count(*) AS n FROM complaint c
LEFT JOIN application a ON a.id = c.application
LEFT JOIN loan l ON l.id = c.loan
WHERE c.kind = '{ComplaintKind.COMPLAINT}' AND c.institution IS NOT NULL
  AND c.created_at >= {{}} AND coalesce(a.product, l.product) IS NOT NULL
GROUP BY 1
"""  # noqa: S608 - an enum value from code


async def complaints_since(subject: Subject, since: datetime) -> Mapping[int, int]:
    """Monitoring's complaint counter (registered with marketplace.monitoring.figures):
    complaints filed since `since` per institution, or per product for complaints that
    name an application or loan (one naming neither counts for its institution only)."""
    sql = _COUNT_BY_PRODUCT if subject is Subject.PRODUCT else _COUNT_BY_INSTITUTION
    rows = await ComplaintStatsSnapshot.raw(sql, since)
    return {row["sid"]: row["n"] for row in rows}


_COUNT_BETWEEN = f"""
SELECT institution AS sid, count(*) AS n FROM complaint
WHERE kind = '{ComplaintKind.COMPLAINT}' AND institution IS NOT NULL
  AND created_at >= {{}} AND created_at < {{}}
GROUP BY institution
"""  # noqa: S608 - an enum value from code


async def complaints_between(first: date, last: date) -> Mapping[int, int]:
    """Complaints against each institution filed on the Asia/Shanghai days first..last
    (the operators' dashboard's institution table)."""
    start = datetime.combine(first, time.min, SHANGHAI)
    end = datetime.combine(last + timedelta(days=1), time.min, SHANGHAI)
    rows = await ComplaintStatsSnapshot.raw(_COUNT_BETWEEN, start, end)
    return {row["sid"]: row["n"] for row in rows}
