"""The borrower's personal centre (/me) and account security: password, forgotten
password by SMS code, the devices signed in, the sign-in phone and account deletion."""

from __future__ import annotations

from litestar import Request, Response, get, post

from marketplace.accounts.credentials import (
    change_password,
    record_sessions_ended,
    request_password_reset_code,
    reset_password,
)
from marketplace.accounts.queries import account_summary
from marketplace.accounts.services import visitor
from marketplace.actors import Actor
from marketplace.db import transaction
from marketplace.erasure.services import cancel_deletion, pending_deletion, request_deletion
from marketplace.errors import NotFound, ValidationFailed
from marketplace.i18n import _
from marketplace.inbox.services import notify_borrower
from server.auth import client_address, request_id, require_actor, sign_out
from server.forms import FormData, submit_form
from server.phone import PhonePage, phone_form
from server.rendering import flash, redirect_to, render
from server.sessions import end_session, end_sessions, session_id, session_of, user_sessions

BORROWER = {"access": "borrower"}
PUBLIC = {"access": "public"}
SESSION_ID_LENGTH = 64


def _text(data: FormData, key: str) -> str:
    """A single submitted value; a repeated field (a list) counts as nothing typed."""
    value = data.get(key, "")
    return value if isinstance(value, str) else ""


@get("/me", name="portal.me.home", opt=BORROWER)
async def me_home(request: Request) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/me.html",
        {"account": await account_summary(actor.user_id or 0)},
        nav="me",
    )


async def _security_page(
    request: Request, errors: dict[str, str], status_code: int = 200
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/me_security.html",
        {
            "sessions": await user_sessions(actor.user_id or 0, session_of(request.scope).token),
            "errors": errors,
        },
        status_code=status_code,
        nav="me",
    )


@get("/me/security", name="portal.me.security", opt=BORROWER)
async def security_page(request: Request) -> Response:
    return await _security_page(request, {})


async def _password_page(request: Request, errors: dict[str, str]) -> Response:
    return await render(request, "portal/me_password.html", {"errors": errors}, nav="me")


@get("/me/security/password", name="portal.me.password", opt=BORROWER)
async def password_page(request: Request) -> Response:
    return await _password_page(request, {})


@post("/me/security/password", name="portal.me.password_submit", opt=BORROWER)
async def password_submit(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        async with transaction():
            await change_password(
                actor,
                _text(data, "current_password"),
                _text(data, "password"),
                _text(data, "password_confirm"),
            )
            await notify_borrower(
                actor.user_id or 0,
                "account.password_changed",
                _("您的登录密码已修改，其他设备已退出登录"),
                "/me/security",
                sms=_("【LoanMart】密码已修改。如非本人操作，请立即通过“忘记密码”重置并联系客服。"),
            )
        session = session_of(request.scope)
        await end_sessions(actor.user_id or 0, keep_token=session.token)
        # A new token for this device too: whoever held the old cookie is out.
        session.rotate()
        flash(request, _("密码已修改，其他设备已退出登录"))
        return redirect_to(request, "portal.me.security")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _password_page(request, errors)

    return await submit_form(request, submit, rerender)


@post("/me/security/sessions/end", name="portal.me.session_end", opt=BORROWER)
async def session_end(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        sid = _text(data, "session_id")
        current = session_of(request.scope).token
        if len(sid) != SESSION_ID_LENGTH or not await end_session(actor.user_id or 0, sid):
            raise NotFound()
        await record_sessions_ended(actor, 1)
        if current is None or sid != session_id(current):
            flash(request, _("已退出该设备"))
            return redirect_to(request, "portal.me.security")
        sign_out(request)
        return redirect_to(request, "portal.auth.login")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _security_page(request, errors, 400)

    return await submit_form(request, submit, rerender)


@post("/me/security/sessions/end-others", name="portal.me.sessions_end_others", opt=BORROWER)
async def sessions_end_others(request: Request) -> Response:
    actor = await require_actor(request)
    ended = await end_sessions(actor.user_id or 0, keep_token=session_of(request.scope).token)
    if ended:
        await record_sessions_ended(actor, ended)
    flash(
        request, _("已退出其他{count}台设备", count=ended) if ended else _("没有其他已登录的设备")
    )
    return redirect_to(request, "portal.me.security")


def _phone_page(request: Request) -> PhonePage:
    async def page(values: dict[str, str], errors: dict[str, str], code_sent: bool) -> Response:
        return await render(
            request,
            "portal/me_phone.html",
            {"values": values, "errors": errors, "code_sent": code_sent},
            nav="me",
        )

    return page


@get("/me/security/phone", name="portal.me.phone", opt=BORROWER)
async def phone_page(request: Request) -> Response:
    return await _phone_page(request)({}, {}, False)


@post("/me/security/phone", name="portal.me.phone_submit", opt=BORROWER)
async def phone_submit(request: Request) -> Response:
    async def changed(actor: Actor) -> Response:
        await notify_borrower(
            actor.user_id or 0,
            "account.phone_changed",
            _("您的登录手机号已更换，今后请用新手机号登录"),
            "/me",
        )
        flash(request, _("手机号已更换，今后请用新手机号登录"))
        return redirect_to(request, "portal.me.home")

    return await phone_form(request, _phone_page(request), changed=changed)


async def _deletion_page(
    request: Request, errors: dict[str, str], status_code: int = 200
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/me_delete.html",
        {"pending": await pending_deletion(actor.user_id or 0), "errors": errors},
        status_code=status_code,
        nav="me",
    )


@get("/me/delete", name="portal.me.deletion", opt=BORROWER)
async def deletion_page(request: Request) -> Response:
    return await _deletion_page(request, {})


@post("/me/delete", name="portal.me.deletion_request", opt=BORROWER)
async def deletion_request(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        if _text(data, "confirm") != "1":
            raise ValidationFailed({"confirm": _("请确认您已了解注销的后果")})
        pending = await request_deletion(actor)
        flash(
            request,
            _("已提交注销申请，将于{date}处理，在此之前可随时撤销", date=pending.due_at.date()),
        )
        return redirect_to(request, "portal.me.deletion")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _deletion_page(request, errors, 400)

    return await submit_form(request, submit, rerender)


@post("/me/delete/cancel", name="portal.me.deletion_cancel", opt=BORROWER)
async def deletion_cancel(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await cancel_deletion(actor)
        flash(request, _("已撤销注销申请，您的账户将继续保留"))
        return redirect_to(request, "portal.me.deletion")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _deletion_page(request, errors, 400)

    return await submit_form(request, submit, rerender)


async def _forgot_page(
    request: Request, values: dict[str, str], errors: dict[str, str], *, code_sent: bool = False
) -> Response:
    return await render(
        request,
        "auth/forgot_password.html",
        {"values": values, "errors": errors, "code_sent": code_sent},
        nav="login",
    )


@get("/password/forgot", name="portal.auth.forgot", opt=PUBLIC)
async def forgot_page(request: Request) -> Response:
    return await _forgot_page(request, {}, {})


@post("/password/forgot", name="portal.auth.forgot_submit", opt=PUBLIC)
async def forgot_submit(request: Request) -> Response:
    origin = visitor(client_address(request), request_id(request))

    async def submit(data: FormData) -> Response:
        values = _typed(data)
        if _text(data, "action") == "send_code":
            await request_password_reset_code(origin, values["mobile"])
            return await _forgot_page(request, values, {}, code_sent=True)
        user_id = await reset_password(
            origin,
            values["mobile"],
            values["code"],
            _text(data, "password"),
            _text(data, "password_confirm"),
        )
        async with transaction():
            await notify_borrower(
                user_id,
                "account.password_reset",
                _("您的登录密码已通过短信验证重置，所有设备已退出登录"),
                "/me/security",
                sms=_("【LoanMart】密码已修改。如非本人操作，请立即通过“忘记密码”重置并联系客服。"),
            )
        await end_sessions(user_id)
        sign_out(request)
        flash(request, _("密码已重置，请用新密码登录"))
        return redirect_to(request, "portal.auth.login")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        code_sent = _text(data, "action") != "send_code"
        return await _forgot_page(request, _typed(data), errors, code_sent=code_sent)

    return await submit_form(request, submit, rerender)


def _typed(data: FormData) -> dict[str, str]:
    """What goes back into the page: passwords are never echoed."""
    return {key: _text(data, key).strip()[:20] for key in ("mobile", "code")}


handlers = [
    me_home,
    security_page,
    password_page,
    password_submit,
    session_end,
    sessions_end_others,
    phone_page,
    phone_submit,
    deletion_page,
    deletion_request,
    deletion_cancel,
    forgot_page,
    forgot_submit,
]
