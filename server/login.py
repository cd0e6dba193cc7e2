"""One login/logout implementation for the three audiences."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from marketplace.accounts.services import authenticate
from marketplace.errors import DomainError
from server.auth import client_address, sign_in, sign_out
from server.forms import form_data, safe_next
from server.rendering import flash, redirect, render

LOGIN_COPY = {
    "borrower": {
        "title": "借款人登录",
        "login_label": "手机号",
        "login_type": "tel",
        "autocomplete": "tel",
    },
    "staff": {
        "title": "机构工作台登录",
        "login_label": "工作邮箱",
        "login_type": "email",
        "autocomplete": "username",
    },
    "operator": {
        "title": "运营后台登录",
        "login_label": "运营账号邮箱",
        "login_type": "email",
        "autocomplete": "username",
    },
}


def login_handlers(audience: str, kind: str, prefix: str, home_path: str) -> list[HTTPRouteHandler]:
    """`prefix` is the router's mount path ("" for the portal), used to vet `next`."""
    copy = LOGIN_COPY[kind]

    async def page(
        request: Request,
        login: str = "",
        error: str | None = None,
        next_url: str = "",
        status_code: int = 200,
    ) -> Response:
        return await render(
            request,
            "auth/login.html",
            {
                "copy": copy,
                "login": login,
                "error": error,
                "next_url": next_url,
                "action": request.url_for(f"{audience}.auth.login_submit"),
                "kind": kind,
            },
            status_code=status_code,
        )

    @get("/login", name=f"{audience}.auth.login", opt={"access": "public"})
    async def login_page(request: Request, next: str = "") -> Response:  # noqa: A002
        return await page(request, next_url=next)

    @post("/login", name=f"{audience}.auth.login_submit", opt={"access": "public"})
    async def login_submit(request: Request) -> Response:
        data = await form_data(request)
        login, password = str(data.get("login", "")).strip(), str(data.get("password", ""))
        next_url = str(data.get("next", ""))
        if not login or not password:
            return await page(request, login, "请输入账号和密码", next_url, 400)
        try:
            actor = await authenticate(kind, login, password, client_address(request))
        except DomainError as exc:
            return await page(request, login, exc.message, next_url, 400)
        sign_in(request, actor)
        flash(request, f"欢迎回来，{actor.label}")
        return redirect(request, safe_next(next_url, prefix or "/", home_path))

    @post("/logout", name=f"{audience}.auth.logout", opt={"access": "public"})
    async def logout(request: Request) -> Response:
        sign_out(request)
        return redirect(request, home_path if kind == "borrower" else f"{prefix}/login")

    return [login_page, login_submit, logout]
