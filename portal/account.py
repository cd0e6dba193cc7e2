"""Borrower registration: mobile + SMS code + password, on one page that works without JS."""

from __future__ import annotations

from litestar import Request, Response, get, post

from marketplace.accounts.services import (
    authenticate,
    register_borrower,
    request_registration_code,
    visitor,
)
from marketplace.errors import DomainError, Throttled
from marketplace.i18n import _
from server.auth import client_address, request_id, sign_in
from server.forms import errors_of, form_data
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


@get("/register", name="portal.auth.register", opt=PUBLIC)
async def register_page(request: Request) -> Response:
    return await _page(request, {}, {})


@post("/register", name="portal.auth.register_submit", opt=PUBLIC)
async def register_submit(request: Request) -> Response:
    data = await form_data(request)
    # Passwords are never echoed back into the page.
    values = {k: str(data.get(k, "")).strip() for k in ("mobile", "code", "display_name")}
    origin = visitor(client_address(request), request_id(request))
    if data.get("action") == "send_code":
        try:
            await request_registration_code(origin, values["mobile"])
        except Throttled as exc:
            response = await _page(request, values, errors_of(exc), status_code=429)
            response.headers["Retry-After"] = str(exc.retry_after or 60)
            return response
        except DomainError as exc:
            return await _page(request, values, errors_of(exc), status_code=400)
        return await _page(request, values, {}, code_sent=True)
    password = str(data.get("password", ""))
    if password != str(data.get("password_confirm", "")):
        return await _page(
            request,
            values,
            {"password_confirm": _("两次输入的密码不一致")},
            code_sent=True,
            status_code=400,
        )
    try:
        await register_borrower(
            origin, values["mobile"], values["code"], password, values["display_name"]
        )
        actor = await authenticate(origin, "borrower", values["mobile"], password)
    except DomainError as exc:
        return await _page(request, values, errors_of(exc), code_sent=True, status_code=400)
    sign_in(request, actor)
    flash(request, _("注册成功，欢迎来到 LoanMart"))
    next_url = str(data.get("next", ""))
    return redirect(request, next_url if next_url.startswith("/products/") else "/")


handlers = [register_page, register_submit]
