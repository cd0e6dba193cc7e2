from __future__ import annotations

from marketplace.applications.services import deliver


async def deliver_application_job(ctx: dict, application_id: int, **_: object) -> bool:
    return await deliver(application_id)
