from __future__ import annotations

from marketplace.prescreen.services import screen_lead


async def screen_job(ctx: dict, application_id: int, **_: object) -> bool:
    return await screen_lead(application_id)
