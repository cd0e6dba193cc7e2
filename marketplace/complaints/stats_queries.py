"""The read model of the public page /complaints/stats: the latest snapshot of every
institution (one window end), sorted by name or by rate, with what the method note needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from marketplace.complaints.stats import MIN_APPLICATIONS_PARAMETER, RateState
from marketplace.complaints.tables import ComplaintStatsSnapshot
from marketplace.parameters.services import get_parameters

SORTS = ("name", "rate")
RESOLVE_HOURS_PARAMETER = "complaint_resolve_hours"

_LATEST = """
SELECT s.*, i.short_name AS institution_name
FROM complaint_stats_snapshot s JOIN institution i ON i.id = s.institution
WHERE s.window_end = (SELECT max(window_end) FROM complaint_stats_snapshot)
ORDER BY i.short_name, s.institution
"""


@dataclass(frozen=True)
class StatsRow:
    institution_id: int
    institution_name: str
    applications: int
    complaints: int
    per_10k: Decimal | None
    resolved: int
    resolved_within_sla: int
    within_sla_share: Decimal | None
    median_hours_to_resolve: Decimal | None
    ratings: int
    satisfaction_avg: Decimal | None

    @property
    def rate_state(self) -> RateState:
        """Stored without a rate: no applications, or fewer than the minimum (样本不足)."""
        if self.per_10k is not None:
            return RateState.RATE
        return RateState.TOO_FEW if self.applications > 0 else RateState.NO_APPLICATIONS

    @property
    def sample_too_small(self) -> bool:
        return self.rate_state is RateState.TOO_FEW


@dataclass(frozen=True)
class PublishedStats:
    rows: list[StatsRow]
    window_start: date | None
    window_end: date | None
    computed_at: datetime | None
    sort: str
    descending: bool
    min_applications: int
    resolve_hours: int

    @property
    def window_days(self) -> int | None:
        if self.window_start is None or self.window_end is None:
            return None
        return (self.window_end - self.window_start).days + 1

    @property
    def charted(self) -> list[StatsRow]:
        """The institutions with a published rate, highest first (the bar chart)."""
        rated = [row for row in self.rows if row.per_10k is not None]
        return sorted(rated, key=lambda row: (row.per_10k, row.institution_id), reverse=True)


def _sorted(rows: list[StatsRow], sort: str, descending: bool) -> list[StatsRow]:
    """By name (the query's order) or by rate; rows without a rate last either way."""
    if sort != "rate":
        return list(reversed(rows)) if descending else rows
    rated = [row for row in rows if row.per_10k is not None]
    rated.sort(key=lambda row: (row.per_10k, row.institution_id), reverse=descending)
    return rated + [row for row in rows if row.per_10k is None]


async def published_stats(sort: str = "name", descending: bool = False) -> PublishedStats:
    rows = await ComplaintStatsSnapshot.raw(_LATEST)
    values = await get_parameters(MIN_APPLICATIONS_PARAMETER, RESOLVE_HOURS_PARAMETER)
    shown = [
        StatsRow(
            institution_id=row["institution"],
            institution_name=row["institution_name"],
            applications=row["applications"],
            complaints=row["complaints"],
            per_10k=row["per_10k"],
            resolved=row["resolved"],
            resolved_within_sla=row["resolved_within_sla"],
            within_sla_share=row["within_sla_share"],
            median_hours_to_resolve=row["median_hours_to_resolve"],
            ratings=row["ratings"],
            satisfaction_avg=row["satisfaction_avg"],
        )
        for row in rows
    ]
    first = rows[0] if rows else None
    return PublishedStats(
        rows=_sorted(shown, sort if sort in SORTS else "name", descending),
        window_start=first["window_start"] if first else None,
        window_end=first["window_end"] if first else None,
        computed_at=max((row["computed_at"] for row in rows), default=None),
        sort=sort if sort in SORTS else "name",
        descending=descending,
        min_applications=int(values[MIN_APPLICATIONS_PARAMETER]),
        resolve_hours=int(values[RESOLVE_HOURS_PARAMETER]),
    )
