"""The one place articles read the time, so tests can move it (scheduled publishing)."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
