"""The one place collections read the time, so tests can move it (contact hours, business
dates) without touching the system clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

from marketplace.loancalc import SHANGHAI


def now() -> datetime:
    return datetime.now(UTC)


def shanghai_now() -> datetime:
    return now().astimezone(SHANGHAI)


def business_date() -> date:
    return shanghai_now().date()
