"""The mobile-number form of an account page, the same for every audience (the borrower's
sign-in phone in /me, staff's bound mobile in /console/me; accounts/phone.py): "获取验证码"
texts the codes, "确认" puts the number on the account. Works without JavaScript."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request, Response

from marketplace.accounts.phone import change_phone, request_phone_change_codes
from marketplace.actors import Actor
from marketplace.db import transaction
from server.auth import require_actor
from server.forms import FormData, submit_form

FIELDS = ("mobile", "old_code", "new_code")
MAX_TYPED = 20  # what is echoed back of a typed value

# (typed values, errors, whether codes were sent) -> the page with the form
PhonePage = Callable[[dict[str, str], dict[str, str], bool], Awaitable[Response]]


def _text(data: FormData, key: str) -> str:
    """A single submitted value; a repeated field (a list) counts as nothing typed."""
    value = data.get(key, "")
    return value if isinstance(value, str) else ""


def phone_values(data: FormData) -> dict[str, str]:
    return {key: _text(data, key).strip()[:MAX_TYPED] for key in FIELDS}


async def phone_form(
    request: Request,
    page: PhonePage,
    *,
    changed: Callable[[Actor], Awaitable[Response]],
) -> Response:
    """Handle a post of the form. `changed(actor)` runs in the transaction that changed the
    number (to tell the holder, say) and answers the request."""
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        values = phone_values(data)
        if _text(data, "action") == "send_code":
            await request_phone_change_codes(actor, values["mobile"])
            return await page(values, {}, True)
        async with transaction():
            await change_phone(actor, values["mobile"], values["old_code"], values["new_code"])
            return await changed(actor)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await page(phone_values(data), errors, _text(data, "action") != "send_code")

    return await submit_form(request, submit, rerender)
