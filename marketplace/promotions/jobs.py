"""The promotions clock (idempotent, set-based)."""

from __future__ import annotations

from marketplace.promotions.services import advance_promotions


async def advance() -> int:
    """The cron: starts and ends promotions by today's Asia/Shanghai date."""
    return await advance_promotions()
