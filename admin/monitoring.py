"""Monitoring for operators (A7): the figures per product or institution (filter, sort,
export), the case queue, a case with its decisions, and suspending a listed product
directly from its review page."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.i18n import N_, _
from marketplace.monitoring.exports import FORMATS, export_board
from marketplace.monitoring.figures import WINDOWS
from marketplace.monitoring.queries import (
    CASE_RULES,
    CASE_STATUSES,
    LEVELS,
    MAX_QUERY_TEXT,
    SORTS,
    BoardFilters,
    board,
    case_for_operator,
    case_queue,
    product_watch,
)
from marketplace.monitoring.services import add_note, assign, decide, suspend_product
from marketplace.monitoring.statuses import CASE_MACHINE, RULE_LABELS, Subject
from marketplace.parsing import first, lenient, parse_int
from server.auth import require_actor
from server.forms import FormData, query_choice, query_int, query_page, query_text, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

VIEW = {"access": "operator", "permission": "monitoring.view"}
MANAGE = {"access": "operator", "permission": "monitoring.manage"}
PER_PAGE = 50
DONE = {
    "suspend": N_("已暂停，机构已收到通知"),
    "dismiss": N_("案件已驳回，机构已收到通知"),
    "resume": N_("已恢复，机构已收到通知"),
}


def _board_filters(request: Request) -> BoardFilters:
    window = query_choice(request, "window", [str(days) for days in WINDOWS], str(WINDOWS[0]))
    return BoardFilters(
        window=int(window),
        level=Subject(query_choice(request, "level", LEVELS, Subject.PRODUCT)),
        institution_id=query_int(request, "institution", 0, minimum=1) or None,
        q=query_text(request, "q", max_length=MAX_QUERY_TEXT),
        flagged=request.query_params.get("flagged") == "1",
        sort=query_choice(request, "sort", SORTS, "applications"),
        descending=request.query_params.get("dir") != "asc",
    )


@get("/monitoring", name="admin.monitoring.board", opt=VIEW)
async def monitoring_board(request: Request) -> Response:
    actor = await require_actor(request)
    filters = _board_filters(request)
    page = query_page(request)
    report = await board(actor, filters, page=page, per_page=PER_PAGE)
    query = filters.as_query()
    return await render(
        request,
        "admin/monitoring.html",
        {
            "report": report,
            "query": query,
            "windows": WINDOWS,
            "sorts": SORTS,
            **pagination(request.url.path, query, page, report.total, PER_PAGE),
        },
        nav="monitoring",
    )


@get("/monitoring/export/{file_format:str}", name="admin.monitoring.export", opt=VIEW)
async def monitoring_export(request: Request, file_format: FromPath[str]) -> Response:
    if file_format not in FORMATS:
        raise NotFoundException()
    actor = await require_actor(request)
    export = await export_board(actor, _board_filters(request), file_format)
    return Response(
        content=export.content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        },
    )


@get("/monitoring/cases", name="admin.monitoring.cases", opt=VIEW)
async def case_list(request: Request) -> Response:
    actor = await require_actor(request)
    status = query_choice(request, "status", CASE_STATUSES)
    rule = query_choice(request, "rule", CASE_RULES)
    page = query_page(request)
    rows, total = await case_queue(actor, status=status, rule=rule, page=page, per_page=PER_PAGE)
    filters = {"status": status, "rule": rule}
    return await render(
        request,
        "admin/monitoring_cases.html",
        {
            "rows": rows,
            "total": total,
            **filters,
            "statuses": [(s, CASE_MACHINE.label(s)) for s in CASE_STATUSES],
            "rules": [(r, _(RULE_LABELS[r])) for r in CASE_RULES],
            **pagination(request.url.path, filters, page, total, PER_PAGE),
        },
        nav="monitoring",
    )


async def _case(
    request: Request, case_id: int, errors: dict, values: dict[str, str] | None = None
) -> Response:
    case = await case_for_operator(await require_actor(request), case_id)
    return await render(
        request,
        "admin/monitoring_case.html",
        {"case": case, "errors": errors, "values": values or {}},
        nav="monitoring",
    )


@get("/monitoring/cases/{case_id:int}", name="admin.monitoring.case", opt=VIEW)
async def case_page(request: Request, case_id: FromPath[int]) -> Response:
    return await _case(request, case_id, {})


def _case_form(request: Request, case_id: int, fields: tuple[str, ...]):
    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _case(request, case_id, errors, {key: first(data.get(key)) for key in fields})

    return rerender


@post("/monitoring/cases/{case_id:int}/decide", name="admin.monitoring.decide", opt=MANAGE)
async def case_decide(request: Request, case_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        action = first(data.get("decision"))
        reinstated = await decide(actor, case_id, action, data.get("reason"))
        flash(request, _(DONE.get(action, N_("已处理"))))
        if not reinstated:
            flash(request, _("另有案件仍暂停该对象，对象保持暂停"), "warning")
        return redirect_to(request, "admin.monitoring.case", case_id=case_id)

    return await submit_form(request, submit, _case_form(request, case_id, ("reason",)))


@post("/monitoring/cases/{case_id:int}/assign", name="admin.monitoring.assign", opt=MANAGE)
async def case_assign(request: Request, case_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        assignee = lenient(parse_int, data.get("assignee"), 0, minimum=1) or None
        await assign(actor, case_id, assignee)
        flash(request, _("已指派") if assignee else _("已取消指派"))
        return redirect_to(request, "admin.monitoring.case", case_id=case_id)

    return await submit_form(request, submit, _case_form(request, case_id, ("assignee",)))


@post("/monitoring/cases/{case_id:int}/note", name="admin.monitoring.note", opt=MANAGE)
async def case_note(request: Request, case_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await add_note(actor, case_id, data.get("note"))
        flash(request, _("备注已保存（仅平台内部可见）"))
        return redirect_to(request, "admin.monitoring.case", case_id=case_id)

    return await submit_form(request, submit, _case_form(request, case_id, ("note",)))


async def _product(request: Request, product_id: int, errors: dict, reason: str = "") -> Response:
    product = await product_watch(await require_actor(request), product_id)
    return await render(
        request,
        "admin/monitoring_product.html",
        {"product": product, "errors": errors, "reason": reason},
        nav="monitoring",
    )


@get("/monitoring/products/{product_id:int}", name="admin.monitoring.product", opt=VIEW)
async def product_page(request: Request, product_id: FromPath[int]) -> Response:
    return await _product(request, product_id, {})


@post(
    "/monitoring/products/{product_id:int}/suspend",
    name="admin.monitoring.suspend_product",
    opt=MANAGE,
)
async def product_suspend(request: Request, product_id: FromPath[int]) -> Response:
    """From the product's monitoring page or its review page; a broken rule re-shows the
    form on the monitoring page with the typed reason."""
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        case_id = await suspend_product(actor, product_id, data.get("reason"))
        flash(request, _("产品已暂停并下线，机构已收到通知"))
        return redirect_to(request, "admin.monitoring.case", case_id=case_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _product(request, product_id, errors, first(data.get("reason")))

    return await submit_form(request, submit, rerender)


handlers = [
    monitoring_board,
    monitoring_export,
    case_list,
    case_page,
    case_decide,
    case_assign,
    case_note,
    product_page,
    product_suspend,
]
