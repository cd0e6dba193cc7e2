"""The one place the domain reads the time, so tests can move it (a campaign's window,
scheduled articles, complaint deadlines, collections' contact hours and business dates)
without touching the system clock: call `clock.now()` through the module, and a test
monkeypatches `marketplace.clock.now`."""

from __future__ import annotations

from datetime import UTC, date, datetime

from marketplace.loancalc import SHANGHAI


def now() -> datetime:
    return datetime.now(UTC)


def shanghai(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI)


def shanghai_now() -> datetime:
    return shanghai(now())


def business_date() -> date:
    """Today's Asia/Shanghai business date."""
    return shanghai_now().date()
