"""Offer crons (idempotent, set-based)."""

from __future__ import annotations

from marketplace.offers.services import expire_offers


async def expire_open_offers() -> int:
    """The cron: marks offers past their expiry expired (pages already treat them so)."""
    return await expire_offers()
