"""Borrower registration: mobile + SMS code + password, on one page that works without JS."""

from __future__ import annotations

from litestar import Request, Response, get, post

from marketplace.accounts.services import (
    authenticate,
    register_borrower,
    request_registration_code,
    visitor,
)
from marketplace.errors import ValidationFailed
from marketplace.i18n import _
from marketplace.parsing import first
from server.auth import client_address, request_id, sign_in
from server.device import device_id
from server.forms import FormData, safe_next, submit_form
from server.rendering import flash, redirect, render

PUBLIC = {"access": "public"}


async def _page(
    request: Request, values: dict, errors: dict, *, code_sent: bool = False, status_code: int = 200
) -> Response:
    return await render(
        request,
        "portal/register.html",
        {"values": values, "errors": errors, "code_sent": code_sent},
        status_code=status_code,
        nav="register",
    )


def _next(raw: object) -> str:
    """Where the borrower was going (a same-site path), or "" — kept through every step."""
    return safe_next(first(raw), "/", "")


@get("/register", name="portal.auth.register", opt=PUBLIC)
async def register_page(request: Request) -> Response:
    return await _page(request, {"next": _next(request.query_params.get("next"))}, {})


@post("/register", name="portal.auth.register_submit", opt=PUBLIC)
async def register_submit(request: Request) -> Response:
    origin = visitor(client_address(request), request_id(request), device_id(request))

    async def submit(data: FormData) -> Response:
        values = _typed_values(data)
        if data.get("action") == "send_code":
            await request_registration_code(origin, values["mobile"])
            return await _page(request, values, {}, code_sent=True)
        password = str(data.get("password", ""))
        if password != str(data.get("password_confirm", "")):
            raise ValidationFailed({"password_confirm": _("两次输入的密码不一致")})
        await register_borrower(
            origin, values["mobile"], values["code"], password, values["display_name"]
        )
        sign_in(request, await authenticate(origin, "borrower", values["mobile"], password))
        flash(request, _("注册成功，欢迎来到 LoanMart"))
        return redirect(request, values["next"] or "/")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        # After a failed registration step the code field stays on the page.
        code_sent = data.get("action") != "send_code"
        return await _page(request, _typed_values(data), errors, code_sent=code_sent)

    return await submit_form(request, submit, rerender)


def _typed_values(data: FormData) -> dict[str, str]:
    """What goes back into the page: passwords are never echoed."""
    values = {key: str(data.get(key, "")).strip() for key in ("mobile", "code", "display_name")}
    return {**values, "next": _next(data.get("next"))}


handlers = [register_page, register_submit]
