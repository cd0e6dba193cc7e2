"""One login/logout implementation for the three audiences."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery

from marketplace.accounts import second_factor
from marketplace.accounts.services import actor_for, authenticate, visitor
from marketplace.actors import Actor
from marketplace.errors import DomainError, Throttled, ValidationFailed
from marketplace.i18n import N_, _
from marketplace.security import new_totp_secret
from server.auth import client_address, request_id, sign_in, sign_out
from server.forms import FormData, form_data, safe_next, submit_form
from server.rendering import flash, redirect, redirect_to, render
from server.sessions import session_of

LOGIN_COPY = {
    "borrower": {
        "title": N_("借款人登录"),
        "login_label": N_("手机号"),
        "login_type": "tel",
        "autocomplete": "tel",
    },
    "staff": {
        "title": N_("机构工作台登录"),
        "login_label": N_("工作邮箱"),
        "login_type": "email",
        "autocomplete": "username",
    },
    "operator": {
        "title": N_("运营后台登录"),
        "login_label": N_("运营账号邮箱"),
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
                "copy": {**copy, "title": _(copy["title"]), "login_label": _(copy["login_label"])},
                "login": login,
                "error": error,
                "next_url": next_url,
                "action": request.app.route_reverse(f"{audience}.auth.login_submit"),
                "kind": kind,
            },
            status_code=status_code,
        )

    @get("/login", name=f"{audience}.auth.login", opt={"access": "public"})
    async def login_page(request: Request, next: FromQuery[str] = "") -> Response:  # noqa: A002
        return await page(request, next_url=next)

    @post("/login", name=f"{audience}.auth.login_submit", opt={"access": "public"})
    async def login_submit(request: Request) -> Response:
        async def submit(data: FormData) -> Response:
            login, password = str(data.get("login", "")).strip(), str(data.get("password", ""))
            if not login or not password:
                raise ValidationFailed({"login": _("请输入账号和密码")})
            origin = visitor(client_address(request), request_id(request))
            actor = await authenticate(origin, kind, login, password)
            target = safe_next(str(data.get("next", "")), prefix or "/", home_path)
            if second_factor.required_for(actor):
                # Password alone signs nobody in: the session only remembers who is halfway.
                start_second_factor(request, actor, target)
                await second_factor.show_demo_code(actor, login)
                return redirect_to(request, f"{audience}.auth.verify")
            sign_in(request, actor)
            flash(request, _("欢迎回来，{name}", name=actor.label))
            return redirect(request, target)

        async def rerender(data: FormData, errors: dict[str, str]) -> Response:
            login = str(data.get("login", "")).strip()
            # Translators: joins several form errors into one message.
            message = _("；").join(errors.values())
            return await page(request, login, message, str(data.get("next", "")))

        return await submit_form(request, submit, rerender)

    @post("/logout", name=f"{audience}.auth.logout", opt={"access": "public"})
    async def logout(request: Request) -> Response:
        sign_out(request)
        return redirect(request, home_path if kind == "borrower" else f"{prefix}/login")

    handlers = [login_page, login_submit, logout]
    if kind == "operator":
        handlers += second_factor_handlers(audience, prefix)
    return handlers


def start_second_factor(request: Request, actor: Actor, target: str) -> None:
    session = session_of(request.scope)
    session.clear()
    session.rotate()
    session["pending_uid"] = actor.user_id
    session["pending_next"] = target


def second_factor_handlers(audience: str, prefix: str) -> list[HTTPRouteHandler]:
    async def pending_actor(request: Request) -> Actor | None:
        user_id = session_of(request.scope).get("pending_uid")
        if not user_id:
            return None
        try:
            actor = await actor_for(int(user_id))
        except DomainError:
            return None
        return actor.with_request(client_address(request), request_id(request))

    async def page(
        request: Request, actor: Actor, error: str | None = None, status_code: int = 200
    ) -> Response:
        session = session_of(request.scope)
        enrolment = None
        if await second_factor.enrolled_secret(actor.user_id or 0) is None:
            if not session.get("enrol_secret"):
                session["enrol_secret"] = new_totp_secret()
            enrolment = second_factor.Enrolment(session.get("enrol_secret"), actor.label)
        return await render(
            request,
            "auth/verify.html",
            {
                "enrolment": enrolment,
                "error": error,
                "action": request.app.route_reverse(f"{audience}.auth.verify_submit"),
                "login_url": request.app.route_reverse(f"{audience}.auth.login"),
            },
            status_code=status_code,
        )

    @get("/login/verify", name=f"{audience}.auth.verify", opt={"access": "public"})
    async def verify_page(request: Request) -> Response:
        actor = await pending_actor(request)
        if actor is None:
            return redirect(request, f"{prefix}/login")
        return await page(request, actor)

    @post("/login/verify", name=f"{audience}.auth.verify_submit", opt={"access": "public"})
    async def verify_submit(request: Request) -> Response:
        actor = await pending_actor(request)
        if actor is None:
            return redirect(request, f"{prefix}/login")
        session = session_of(request.scope)
        data = await form_data(request)
        try:
            await second_factor.verify(
                actor, str(data.get("code", "")), enrolling_secret=session.get("enrol_secret")
            )
        except Throttled as exc:
            sign_out(request)
            flash(request, exc.message, "error")
            return redirect(request, f"{prefix}/login")
        except DomainError as exc:
            return await page(request, actor, exc.message, 400)
        target = session.get("pending_next") or f"{prefix}/"
        sign_in(request, actor)
        flash(request, _("欢迎回来，{name}", name=actor.label))
        return redirect(request, target)

    return [verify_page, verify_submit]
