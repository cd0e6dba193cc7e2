"""Users for operators (A1): find borrowers, institution staff and operators; one account's
page with its status, sessions, sign-ins and freeze history; freeze / unfreeze, password
reset, end every session, reset an operator's second factor — each with a reason.

Searching by phone number or e-mail is a POST, so neither lands in an address bar or log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.accounts import management
from marketplace.accounts.directory import (
    KINDS,
    STATUSES,
    find_users,
    institution_choices,
    is_mobile_query,
    list_users,
    parse_search,
    user_detail,
    users_by_id,
)
from marketplace.accounts.management import KIND_LABELS, STATUS_LABELS
from marketplace.applications.queries import applications_of_borrower, borrower_of_reference
from marketplace.errors import ValidationFailed
from marketplace.i18n import _
from marketplace.parsing import first
from server.auth import require_actor
from server.forms import (
    FormData,
    flashed_action,
    query_choice,
    query_int,
    query_page,
    submit_form,
)
from server.pagination import pagination
from server.rendering import render
from server.sessions import end_sessions, user_sessions

VIEW = {"access": "operator", "permission": "user.view"}
MANAGE = {"access": "operator", "permission": "user.manage"}
OPERATORS = {"access": "operator", "permission": "operator.manage"}
PER_PAGE = 50
RECENT_APPLICATIONS = 10


async def _list(
    request: Request,
    *,
    rows: list,
    total: int,
    filters: dict[str, Any],
    page: int,
    search: dict[str, str],
    errors: dict[str, str],
    searched: bool,
    status_code: int = 200,
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "admin/users.html",
        {
            "rows": rows,
            "total": total,
            **filters,
            "kinds": [(k, _(KIND_LABELS[k])) for k in KINDS],
            "statuses": [(s, _(STATUS_LABELS[s])) for s in STATUSES],
            "institutions": await institution_choices(actor),
            "search": search,
            "errors": errors,
            "searched": searched,
            **pagination(
                request.url.path, {k: v or "" for k, v in filters.items()}, page, total, PER_PAGE
            ),
        },
        nav="users",
        status_code=status_code,
    )


@get("/users", name="admin.users.list", opt=VIEW)
async def users(request: Request) -> Response:
    actor = await require_actor(request)
    kind = query_choice(request, "kind", KINDS)
    status = query_choice(request, "status", STATUSES)
    institution = query_int(request, "institution", 0)
    page = query_page(request)
    rows, total = await list_users(
        actor,
        kind=kind,
        status=status,
        institution_id=institution or None,
        page=page,
        per_page=PER_PAGE,
    )
    filters = {"kind": kind, "status": status, "institution": institution}
    return await _list(
        request,
        rows=rows,
        total=total,
        filters=filters,
        page=page,
        search={"search_kind": "borrower", "q": ""},
        errors={},
        searched=False,
    )


@post("/users/search", name="admin.users.search", opt=VIEW)
async def search(request: Request) -> Response:
    actor = await require_actor(request)
    empty = {"kind": "", "status": "", "institution": 0}

    async def submit(data: FormData) -> Response:
        kind = first(data.get("search_kind"))
        q = first(data.get("q"))
        if kind not in KINDS:
            raise ValidationFailed({"search_kind": _("请选择账号类型")})
        if kind == "borrower" and not is_mobile_query(q.strip()):
            reference = parse_search(kind, q)
            borrower_id = await borrower_of_reference(actor, reference)
            rows = await users_by_id(actor, [borrower_id] if borrower_id else [])
        else:
            rows = await find_users(actor, kind, q)
        return await _list(
            request,
            rows=rows,
            total=len(rows),
            filters=empty,
            page=1,
            search={"search_kind": kind, "q": q},
            errors={},
            searched=True,
        )

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _list(
            request,
            rows=[],
            total=0,
            filters=empty,
            page=1,
            search={"search_kind": first(data.get("search_kind")), "q": first(data.get("q"))},
            errors=errors,
            searched=True,
        )

    return await submit_form(request, submit, rerender)


async def _detail(request: Request, user_id: int, errors: dict, reason: str = "") -> Response:
    actor = await require_actor(request)
    detail = await user_detail(actor, user_id)
    sessions = await user_sessions(user_id, None)
    applications, application_count = (
        await applications_of_borrower(actor, user_id, RECENT_APPLICATIONS)
        if detail.user.kind == "borrower"
        else ([], 0)
    )
    return await render(
        request,
        "admin/user_detail.html",
        {
            "detail": detail,
            "sessions": sessions,
            "last_seen": max((s.seen_at for s in sessions if s.seen_at), default=None),
            "applications": applications,
            "application_count": application_count,
            "errors": errors,
            "reason": reason,
        },
        nav="users",
    )


@get("/users/{user_id:int}", name="admin.users.detail", opt=VIEW)
async def detail(request: Request, user_id: FromPath[int]) -> Response:
    return await _detail(request, user_id, {})


def _action(
    request: Request, user_id: int, act: Callable[[FormData], Awaitable[str]]
) -> Awaitable[Response]:
    """Run one account action from the detail page's form; its message is flashed."""

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(request, user_id, errors, first(data.get("reason")))

    done = request.app.route_reverse("admin.users.detail", user_id=user_id)
    return flashed_action(request, act, done, rerender)


@post("/users/{user_id:int}/status", name="admin.users.status", opt=MANAGE)
async def change_status(request: Request, user_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        freeze = first(data.get("action")) == "freeze"
        status = management.FROZEN if freeze else management.ACTIVE
        changed = await management.change_status(
            actor, user_id, status, data.get("reason"), end_sessions
        )
        if not changed:
            return _("账号已是该状态，未做改动")
        return _("账号已冻结，其所有登录已立即失效") if freeze else _("账号已解冻，可以重新登录")

    return await _action(request, user_id, act)


@post("/users/{user_id:int}/password-reset", name="admin.users.password_reset", opt=MANAGE)
async def password_reset(request: Request, user_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        channel = await management.send_password_reset(actor, user_id, data.get("reason"))
        if channel == "sms":
            return _("已向该借款人的手机发送重置验证码，请其在“忘记密码”页面设置新密码")
        return _("设置新密码的一次性链接已发送到该账号的邮箱，72小时内有效")

    return await _action(request, user_id, act)


@post("/users/{user_id:int}/sessions", name="admin.users.end_sessions", opt=MANAGE)
async def end_all_sessions(request: Request, user_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        ended = await management.end_all_sessions(actor, user_id, data.get("reason"), end_sessions)
        return _("已结束该账号的 {n} 个登录会话", n=ended)

    return await _action(request, user_id, act)


@post("/users/{user_id:int}/second-factor", name="admin.users.reset_2fa", opt=OPERATORS)
async def reset_second_factor(request: Request, user_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        if await management.reset_second_factor(actor, user_id, data.get("reason"), end_sessions):
            return _("身份验证器已重置，该运营人员下次登录时需重新绑定")
        return _("该运营人员尚未绑定身份验证器，下次登录时会要求绑定")

    return await _action(request, user_id, act)


handlers = [
    users,
    search,
    detail,
    change_status,
    password_reset,
    end_all_sessions,
    reset_second_factor,
]
