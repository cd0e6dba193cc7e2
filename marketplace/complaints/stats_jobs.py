"""The published statistics' cron: hourly, recompute today's snapshot of every institution.

Hourly is enough for a page that says when it was computed; no job runs after a complaint
is resolved or rated (the next hour picks it up). The refresh is one set-based query and
one upsert, idempotent, so a rerun or two workers at once write the same rows."""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace.complaints.stats import refresh_complaint_stats


async def refresh_hourly() -> None:
    await refresh_complaint_stats(datetime.now(UTC))
