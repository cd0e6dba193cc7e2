"""The institution's staff, for its admins (/console/staff): invite (a one-time link to set
a password is e-mailed), change role, disable / enable with a reason (disabled = frozen:
every session ends at once). Another institution's staff do not exist here (404)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.accounts import management
from marketplace.accounts.directory import institution_staff, staff_member
from marketplace.accounts.roles import STAFF_ROLES
from marketplace.i18n import _
from marketplace.parsing import first
from server.auth import require_actor
from server.forms import FormData, flashed_action, submit_form
from server.rendering import flash, redirect_to, render
from server.sessions import end_sessions

MANAGE = {"access": "staff", "permission": "staff.manage"}


def _roles() -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in STAFF_ROLES.items()]


async def _list(request: Request, errors: dict, values: dict) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/staff.html",
        {
            "rows": await institution_staff(actor),
            "roles": _roles(),
            "errors": errors,
            "values": values,
        },
        nav="staff",
    )


@get("/staff", name="console.staff.list", opt=MANAGE)
async def staff_list(request: Request) -> Response:
    return await _list(request, {}, {})


@post("/staff", name="console.staff.invite", opt=MANAGE)
async def invite(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await management.invite_staff(actor, data)
        flash(request, _("已发出邀请：设置密码的一次性链接已发送到该邮箱，72小时内有效"))
        return redirect_to(request, "console.staff.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {key: first(data.get(key)) for key in ("email", "name", "role")}
        return await _list(request, errors, values)

    return await submit_form(request, submit, rerender)


async def _member(request: Request, user_id: int, errors: dict, values: dict) -> Response:
    actor = await require_actor(request)
    row, history = await staff_member(actor, user_id)
    return await render(
        request,
        "institution_console/staff_detail.html",
        {"row": row, "history": history, "roles": _roles(), "errors": errors, "values": values},
        nav="staff",
    )


@get("/staff/{user_id:int}", name="console.staff.detail", opt=MANAGE)
async def member(request: Request, user_id: FromPath[int]) -> Response:
    return await _member(request, user_id, {}, {})


def _action(
    request: Request, user_id: int, act: Callable[[FormData], Awaitable[str]]
) -> Awaitable[Response]:
    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {key: first(data.get(key)) for key in ("reason", "role")}
        return await _member(request, user_id, errors, values)

    done = request.app.route_reverse("console.staff.detail", user_id=user_id)
    return flashed_action(request, act, done, rerender)


@post("/staff/{user_id:int}/role", name="console.staff.role", opt=MANAGE)
async def change_role(request: Request, user_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        if await management.change_staff_role(actor, user_id, data.get("role"), end_sessions):
            return _("角色已修改，该成员需重新登录")
        return _("角色未变化")

    return await _action(request, user_id, act)


@post("/staff/{user_id:int}/status", name="console.staff.status", opt=MANAGE)
async def change_status(request: Request, user_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        disable = first(data.get("action")) == "disable"
        status = management.FROZEN if disable else management.ACTIVE
        if not await management.change_status(
            actor, user_id, status, data.get("reason"), end_sessions
        ):
            return _("账号已是该状态，未做改动")
        return _("账号已停用，其所有登录已立即失效") if disable else _("账号已启用，可以重新登录")

    return await _action(request, user_id, act)


@post("/staff/{user_id:int}/password-reset", name="console.staff.password_reset", opt=MANAGE)
async def password_reset(request: Request, user_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        await management.send_password_reset(actor, user_id, data.get("reason"))
        return _("设置新密码的一次性链接已发送到该员工的邮箱，72小时内有效")

    return await _action(request, user_id, act)


handlers = [staff_list, invite, member, change_role, change_status, password_reset]
