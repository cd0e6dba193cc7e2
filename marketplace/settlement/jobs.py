"""Settlement's jobs: ids in, idempotent (each runs inside the outbox row's transaction)."""

from __future__ import annotations

from datetime import date

from marketplace.settlement import billing, building


async def bill(ctx: dict, kind: str, application_id: int) -> None:
    await billing.bill(kind, application_id)


async def screen_withdrawal(ctx: dict, application_id: int) -> None:
    await billing.screen_withdrawal(application_id)


async def build_statements(ctx: dict, period: str, institution_id: int = 0) -> None:
    await building.build(date.fromisoformat(period), institution_id or None)


async def build_last_month() -> bool:
    return await building.schedule_last_month()
