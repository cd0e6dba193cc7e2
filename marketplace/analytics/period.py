"""The date range and granularity of the dashboard and the reports, from GET parameters.
Lenient where it can be (empty values are the defaults), clear where it cannot: a start
after the end, a date that is not one, a granularity we do not offer are zh-CN errors and
the page shows the default range instead; a range longer than MAX_DAYS is cut to end there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from marketplace import clock
from marketplace.i18n import N_, _
from marketplace.parsing import FieldError, parse_date

GRAINS: dict[str, str] = {"day": N_("按日"), "week": N_("按周"), "month": N_("按月")}
DEFAULT_DAYS = 30
MAX_DAYS = 366
EARLIEST = date(2000, 1, 1)


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    grain: str = "day"
    errors: dict[str, str] = field(default_factory=dict)
    notices: tuple[str, ...] = ()

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous_start(self) -> date:
        return self.start - timedelta(days=self.days)

    @property
    def previous_end(self) -> date:
        return self.start - timedelta(days=1)

    def as_query(self) -> dict[str, str]:
        """The shareable GET parameters (nothing empty)."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "grain": self.grain}

    def buckets(self) -> list[date]:
        """The first day of every bucket in the range, in order."""
        seen: list[date] = []
        day = self.start
        while day <= self.end:
            first = bucket_of(day, self.grain)
            if not seen or seen[-1] != first:
                seen.append(first)
            day += timedelta(days=1)
        return seen


def bucket_of(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def _date(raw: str, label: str, errors: dict[str, str], key: str) -> date | None:
    if not raw.strip():
        return None
    try:
        value = parse_date(raw, label=label)
    except FieldError as error:
        errors[key] = error.message
        return None
    if value < EARLIEST:
        errors[key] = _("{label}不能早于 {earliest}", label=label, earliest=EARLIEST.isoformat())
        return None
    return value


def parse_period(params: Mapping[str, str], today: date) -> Period:
    errors: dict[str, str] = {}
    notices: list[str] = []
    raw_grain = (params.get("grain") or "").strip()
    grain = raw_grain or "day"
    if grain not in GRAINS:
        errors["grain"] = _("统计粒度只能是按日、按周或按月")
        grain = "day"
    end = _date(params.get("end") or "", _("结束日期"), errors, "end")
    start = _date(params.get("start") or "", _("开始日期"), errors, "start")
    if end is not None and end > today:
        errors["end"] = _("结束日期不能晚于今天（{today}）", today=today.isoformat())
        end = None
    if start is not None and end is not None and start > end:
        errors["start"] = _("开始日期不能晚于结束日期")
        start = end = None
    if errors:
        start = end = None
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        start = end
    if (end - start).days + 1 > MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
        notices.append(
            _("时间范围最长 {n} 天，已从 {start} 起统计", n=MAX_DAYS, start=start.isoformat())
        )
    return Period(start=start, end=end, grain=grain, errors=errors, notices=tuple(notices))


def business_today(now: datetime | None = None) -> date:
    """Today's Asia/Shanghai business date (of `now`, or the clock's)."""
    return clock.shanghai(now or clock.now()).date()


def period_from(params: Mapping[str, str]) -> Period:
    """The range a page's GET parameters ask for, relative to today's business date."""
    return parse_period(
        {key: str(params.get(key) or "") for key in ("start", "end", "grain")}, business_today()
    )
