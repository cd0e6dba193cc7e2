"""The one place campaigns read the time, so tests can move it (a banner's window, a
campaign's start and end) without touching the system clock."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
