"""Collection oversight (A8): per institution over a period, contacts recorded and
attempts the platform refused (outside the hours, over the daily cap), the refused attempts
themselves, and the same as a file (audited)."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.collections.exports import FORMATS, export_oversight
from marketplace.collections.queries import (
    OversightFilters,
    oversight,
    oversight_filters,
    reason_choices,
)
from marketplace.parsing import lenient, parse_date
from server.auth import require_actor
from server.forms import query_choice, query_int
from server.rendering import render

OVERSEE = {"access": "operator", "permission": "collection.view"}


def _filters(request: Request) -> OversightFilters:
    institution = query_int(request, "institution", 0, minimum=1)
    return oversight_filters(
        institution or None,
        lenient(parse_date, request.query_params.get("from"), None),
        lenient(parse_date, request.query_params.get("to"), None),
        query_choice(request, "reason", reason_choices()),
    )


@get("/collections", name="admin.collections.overview", opt=OVERSEE)
async def collection_overview(request: Request) -> Response:
    actor = await require_actor(request)
    filters = _filters(request)
    return await render(
        request,
        "admin/collections.html",
        {"report": await oversight(actor, filters), "query": filters.as_query()},
        nav="collections",
    )


@get("/collections/export/{file_format:str}", name="admin.collections.export", opt=OVERSEE)
async def collection_export(request: Request, file_format: FromPath[str]) -> Response:
    if file_format not in FORMATS:
        raise NotFoundException()
    actor = await require_actor(request)
    export = await export_oversight(actor, _filters(request), file_format)
    return Response(
        content=export.content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        },
    )


handlers = [collection_overview, collection_export]
