"""Anti-fraud (A8): the queue of held applications with their decisions, recent rule
hits, the blacklist and the rules with the parameters that set them."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.errors import NotFound
from marketplace.i18n import _
from marketplace.parsing import first
from marketplace.risk.queries import (
    HOLD_FILTERS,
    blacklist,
    blacklist_kind_choices,
    hold_detail,
    hold_queue,
    pending_count,
    recent_events,
    rule_choices,
    rules_overview,
)
from marketplace.risk.services import add_to_blacklist, decide_hold, remove_from_blacklist
from server.auth import require_actor
from server.forms import FormData, query_choice, query_page, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

VIEW = {"access": "operator", "permission": "risk.view"}
MANAGE = {"access": "operator", "permission": "risk.manage"}
PER_PAGE = 50


@get("/risk", name="admin.risk.queue", opt=VIEW)
async def queue(request: Request) -> Response:
    status = query_choice(request, "status", HOLD_FILTERS, default="held")
    page = query_page(request)
    holds, total = await hold_queue(status, page=page, per_page=PER_PAGE)
    return await render(
        request,
        "admin/risk_queue.html",
        {
            "holds": holds,
            "total": total,
            "status": status,
            "pending": await pending_count(),
            **pagination("/admin/risk", {"status": status}, page, total, PER_PAGE),
        },
        nav="risk",
    )


async def _hold_page(
    request: Request, hold_id: int, errors: dict[str, str], values: dict[str, str]
) -> Response:
    detail = await hold_detail(hold_id)
    if detail is None:
        raise NotFound()
    return await render(
        request,
        "admin/risk_hold.html",
        {"detail": detail, "errors": errors, "values": values},
        nav="risk",
    )


@get("/risk/holds/{hold_id:int}", name="admin.risk.hold", opt=VIEW)
async def hold(request: Request, hold_id: FromPath[int]) -> Response:
    return await _hold_page(request, hold_id, {}, {})


@post("/risk/holds/{hold_id:int}", name="admin.risk.decide", opt=MANAGE)
async def decide(request: Request, hold_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        decision = first(data.get("decision"))
        await decide_hold(
            actor, hold_id, decision, first(data.get("reason_code")), first(data.get("note"))
        )
        flash(request, _("已放行，申请将交付机构") if decision == "release" else _("已拒绝该申请"))
        return redirect_to(request, "admin.risk.hold", hold_id=hold_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {key: first(data.get(key)) for key in ("decision", "reason_code", "note")}
        return await _hold_page(request, hold_id, errors, values)

    return await submit_form(request, submit, rerender)


@get("/risk/events", name="admin.risk.events", opt=VIEW)
async def events(request: Request) -> Response:
    choices = rule_choices()
    rule = query_choice(request, "rule", [code for code, _label in choices])
    page = query_page(request)
    rows, total = await recent_events(rule, page=page, per_page=PER_PAGE)
    return await render(
        request,
        "admin/risk_events.html",
        {
            "events": rows,
            "total": total,
            "rule": rule,
            "rules": choices,
            **pagination("/admin/risk/events", {"rule": rule}, page, total, PER_PAGE),
        },
        nav="risk",
    )


async def _blacklist_page(
    request: Request, errors: dict[str, str], values: dict[str, str]
) -> Response:
    include_removed = query_choice(request, "show", ("all",)) == "all"
    page = query_page(request)
    rows, total = await blacklist(include_removed=include_removed, page=page, per_page=PER_PAGE)
    query = {"show": "all" if include_removed else ""}
    return await render(
        request,
        "admin/risk_blacklist.html",
        {
            "entries": rows,
            "total": total,
            "include_removed": include_removed,
            "kinds": blacklist_kind_choices(),
            "errors": errors,
            "values": values,
            **pagination("/admin/risk/blacklist", query, page, total, PER_PAGE),
        },
        nav="risk",
    )


@get("/risk/blacklist", name="admin.risk.blacklist", opt=VIEW)
async def blacklist_page(request: Request) -> Response:
    return await _blacklist_page(request, {}, {})


@post("/risk/blacklist", name="admin.risk.blacklist_add", opt=MANAGE)
async def blacklist_add(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await add_to_blacklist(
            actor, first(data.get("kind")), first(data.get("value")), first(data.get("reason"))
        )
        flash(request, _("已加入黑名单"))
        return redirect_to(request, "admin.risk.blacklist")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {key: first(data.get(key)) for key in ("kind", "value", "reason")}
        return await _blacklist_page(request, errors, values)

    return await submit_form(request, submit, rerender)


@post("/risk/blacklist/{entry_id:int}/remove", name="admin.risk.blacklist_remove", opt=MANAGE)
async def blacklist_remove(request: Request, entry_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await remove_from_blacklist(actor, entry_id, first(data.get("removal_reason")))
        flash(request, _("已从黑名单移除"))
        return redirect_to(request, "admin.risk.blacklist")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _blacklist_page(
            request, {f"{key}_{entry_id}": message for key, message in errors.items()}, {}
        )

    return await submit_form(request, submit, rerender)


@get("/risk/rules", name="admin.risk.rules", opt=VIEW)
async def rules(request: Request) -> Response:
    return await render(
        request, "admin/risk_rules.html", {"rules": await rules_overview()}, nav="risk"
    )


handlers = [queue, hold, decide, events, blacklist_page, blacklist_add, blacklist_remove, rules]
