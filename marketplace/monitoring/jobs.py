"""Monitoring's jobs: the hourly cron records an evaluation in the outbox (never lost);
the evaluation itself is idempotent (one unresolved case per subject and rule)."""

from __future__ import annotations

from marketplace.monitoring import flags


async def evaluate(ctx: dict, **_: object) -> int:
    return await flags.evaluate()


async def evaluate_hourly() -> bool:
    return await flags.schedule_evaluation()
