"""The operators' dashboard (A12): KPIs against the previous period, the funnel from
product view to disbursement, behaviour, institution performance; date range and
granularity in the URL (shareable), every table exportable (audited). Reads only the
analytics rollups."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.analytics.exports import FORMATS, export_dashboard_table
from marketplace.analytics.period import GRAINS, Period, period_from
from marketplace.analytics.queries import INSTITUTION_SORTS, dashboard
from server.auth import require_actor
from server.forms import query_choice
from server.rendering import render
from server.shareable import without_empty_params

VIEW = {"access": "operator", "permission": "dashboard.view"}


def period_of(request: Request) -> Period:
    return period_from(request.query_params)


def _sort(request: Request) -> tuple[str, bool]:
    sort = query_choice(request, "sort", INSTITUTION_SORTS, "applications")
    return sort, request.query_params.get("dir") != "asc"


@get("/dashboard", name="admin.dashboard", opt=VIEW)
async def dashboard_page(request: Request) -> Response:
    actor = await require_actor(request)
    if tidy := without_empty_params(request):
        return tidy
    period = period_of(request)
    sort, descending = _sort(request)
    board = await dashboard(actor, period, sort, descending)
    query = period.as_query()
    if sort != "applications" or not descending:
        query.update(sort=sort, dir="desc" if descending else "asc")
    response = await render(
        request,
        "admin/dashboard.html",
        {
            "board": board,
            "period": period,
            "query": query,
            "grains": GRAINS,
            "raw": {k: request.query_params.get(k, "")[:20] for k in ("start", "end")},
        },
        nav="dashboard",
    )
    if period.errors:
        response.status_code = 400
    return response


@get(
    "/dashboard/export/{table:str}/{file_format:str}",
    name="admin.dashboard.export",
    opt=VIEW,
)
async def dashboard_export(
    request: Request, table: FromPath[str], file_format: FromPath[str]
) -> Response:
    if file_format not in FORMATS:
        raise NotFoundException()
    actor = await require_actor(request)
    sort, descending = _sort(request)
    export = await export_dashboard_table(
        actor, period_of(request), table, file_format, sort, descending
    )
    return Response(
        content=export.content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        },
    )


handlers = [dashboard_page, dashboard_export]
