from __future__ import annotations

from marketplace.agreements.services import expire_agreements


async def expire_past_agreements() -> int:
    return await expire_agreements()
