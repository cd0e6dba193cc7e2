"""The one-time set-password page of staff (/console) and operators (/admin): an
invitation or an administrator's password reset (marketplace.accounts.management)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from marketplace.accounts.management import check_password_link, set_password_with_link
from marketplace.accounts.services import visitor
from marketplace.i18n import _
from server.auth import client_address, request_id
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

PUBLIC = {"access": "public"}


def password_link_handlers(audience: str, kind: str) -> list[HTTPRouteHandler]:
    async def page(request: Request, token: str, errors: dict) -> Response:
        await check_password_link(token, kind)
        return await render(
            request,
            "auth/set_password.html",
            {
                "errors": errors,
                "action": request.app.route_reverse(
                    f"{audience}.auth.set_password_submit", token=token
                ),
                "title": _("设置登录密码"),
                "subtitle": _("登录账号为收到此链接的邮箱。此链接只能使用一次，设置后旧密码失效。"),
            },
        )

    @get("/set-password/{token:str}", name=f"{audience}.auth.set_password", opt=PUBLIC)
    async def password_page(request: Request, token: FromPath[str]) -> Response:
        return await page(request, token, {})

    @post("/set-password/{token:str}", name=f"{audience}.auth.set_password_submit", opt=PUBLIC)
    async def password_submit(request: Request, token: FromPath[str]) -> Response:
        async def submit(data: FormData) -> Response:
            origin = visitor(client_address(request), request_id(request))
            await set_password_with_link(
                origin, kind, token, str(data.get("password", "")), str(data.get("confirm", ""))
            )
            flash(request, _("密码已设置，请使用邮箱和新密码登录"))
            return redirect_to(request, f"{audience}.auth.login")

        async def rerender(data: FormData, errors: dict[str, str]) -> Response:
            return await page(request, token, errors)

        return await submit_form(request, submit, rerender)

    return [password_page, password_submit]
