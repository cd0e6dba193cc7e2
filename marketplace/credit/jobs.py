from __future__ import annotations

from datetime import date

from marketplace.credit.services import queue_daily_snapshots, take_snapshot
from marketplace.loancalc import today_shanghai


async def daily_snapshots() -> int:
    """Cron: today's (Asia/Shanghai) snapshot of every active borrower, queued once."""
    return await queue_daily_snapshots(today_shanghai())


async def snapshot_job(ctx: dict, borrower_id: int, taken_on: str, **_: object) -> None:
    """One borrower's snapshot of one date; rewriting it is harmless."""
    await take_snapshot(borrower_id, date.fromisoformat(taken_on))
