from __future__ import annotations

from marketplace.accounts.credentials import send_reset_code


async def send_reset_code_job(ctx: dict, login_key: str, **_: object) -> None:
    await send_reset_code(login_key)
