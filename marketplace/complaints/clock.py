"""The one place complaints read the time, so tests can move it (deadlines, SLA stages)
without touching the system clock."""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace.loancalc import SHANGHAI


def now() -> datetime:
    return datetime.now(UTC)


def shanghai(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI)
