"""The institution's business reports (I8): funnel leads → approved → signed → disbursed,
approval and overdue rates by product, city, channel and time, customer bands (consented
data only, small bands merged or hidden). Tenant-scoped by the signed-in staff member's
institution; every table exportable (audited)."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.analytics.exports import FORMATS, export_report_table
from marketplace.analytics.period import GRAINS, period_from
from marketplace.analytics.queries import report
from server.auth import require_actor
from server.rendering import render
from server.shareable import without_empty_params

VIEW = {"access": "staff", "permission": "report.view"}


@get("/reports", name="console.reports", opt=VIEW)
async def reports_page(request: Request) -> Response:
    actor = await require_actor(request)
    if tidy := without_empty_params(request):
        return tidy
    period = period_from(request.query_params)
    response = await render(
        request,
        "institution_console/reports.html",
        {
            "board": await report(actor, period),
            "period": period,
            "query": period.as_query(),
            "grains": GRAINS,
            "raw": {k: request.query_params.get(k, "")[:20] for k in ("start", "end")},
        },
        nav="reports",
    )
    if period.errors:
        response.status_code = 400
    return response


@get("/reports/export/{table:str}/{file_format:str}", name="console.reports.export", opt=VIEW)
async def reports_export(
    request: Request, table: FromPath[str], file_format: FromPath[str]
) -> Response:
    if file_format not in FORMATS:
        raise NotFoundException()
    actor = await require_actor(request)
    export = await export_report_table(actor, period_from(request.query_params), table, file_format)
    return Response(
        content=export.content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        },
    )


handlers = [reports_page, reports_export]
