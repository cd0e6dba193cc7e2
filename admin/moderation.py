"""Moderation of borrowers' ratings (P11): the queue of held ratings with what the
automatic check caught marked (or an institution's report), approve / reject with a
reason / hide a published one; the history by status; CSV or .xlsx export."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.i18n import N_, _
from marketplace.parsing import first
from marketplace.ratings.queries import (
    QUEUE_REASONS,
    QUEUE_STATUSES,
    QueueFilters,
    export_queue,
    moderation_queue,
)
from marketplace.ratings.services import moderate
from marketplace.ratings.statuses import HOLD_LABELS, RATING_MACHINE, RatingStatus
from marketplace.spreadsheets import FORMATS
from server.auth import require_actor
from server.forms import FormData, query_choice, query_int, query_page, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect, render

VIEW = {"access": "operator", "permission": "rating.view"}
MODERATE = {"access": "operator", "permission": "rating.moderate"}
PER_PAGE = 30
ALL = "all"
DONE = {
    "approve": N_("评价已通过并发布"),
    "reject": N_("评价已驳回，作者已收到通知"),
    "hide": N_("评价已隐藏，作者已收到通知"),
}


def _filters(request: Request) -> QueueFilters:
    status = query_choice(request, "status", (*QUEUE_STATUSES, ALL), str(RatingStatus.HELD))
    return QueueFilters(
        status="" if status == ALL else status,
        reason=query_choice(request, "reason", QUEUE_REASONS),
        product_id=query_int(request, "product", 0, minimum=1) or None,
    )


async def _queue(request: Request, errors: dict, failed: int | None, reason: str) -> Response:
    actor = await require_actor(request)
    filters = _filters(request)
    page = query_page(request)
    rows, total = await moderation_queue(actor, filters, page=page, per_page=PER_PAGE)
    query = {**filters.as_query(), "status": filters.status or ALL}
    return await render(
        request,
        "admin/moderation.html",
        {
            "rows": rows,
            "total": total,
            "filters": query,
            "statuses": [(s, RATING_MACHINE.label(s)) for s in QUEUE_STATUSES] + [(ALL, _("全部"))],
            "reasons": [(r, _(HOLD_LABELS[r])) for r in QUEUE_REASONS],
            "errors": errors,
            "failed": failed,
            "typed_reason": reason,
            **pagination(request.url.path, query, page, total, PER_PAGE),
        },
        nav="moderation",
    )


@get("/moderation", name="admin.moderation.queue", opt=VIEW)
async def queue(request: Request) -> Response:
    return await _queue(request, {}, None, "")


@get("/moderation/export/{file_format:str}", name="admin.moderation.export", opt=VIEW)
async def export(request: Request, file_format: FromPath[str]) -> Response:
    if file_format not in FORMATS:
        raise NotFoundException()
    result = await export_queue(await require_actor(request), _filters(request), file_format)
    return Response(
        content=result.content,
        media_type=result.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{result.filename}"',
            "Cache-Control": "no-store",
        },
    )


@post("/moderation/{rating_id:int}", name="admin.moderation.decide", opt=MODERATE)
async def decide(request: Request, rating_id: FromPath[int]) -> Response:
    """The filters of the page the decision came from ride in the query string, so the
    operator lands back on the same queue (or sees the form again with its error)."""
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        action = first(data.get("decision"))
        await moderate(actor, rating_id, action, data.get("reason"))
        flash(request, _(DONE.get(action, N_("已处理"))))
        query = request.url.query
        return redirect(request, "/admin/moderation" + (f"?{query}" if query else ""))

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _queue(request, errors, rating_id, first(data.get("reason")))

    return await submit_form(request, submit, rerender)


handlers = [queue, export, decide]
