"""投诉统计 (§6.5) at /complaints/stats: the published figures per institution from the
latest snapshot, sortable by rate, with the method note; open to everyone."""

from __future__ import annotations

from litestar import Request, Response, get

from marketplace.complaints.stats_queries import SORTS, published_stats
from marketplace.parsing import lenient, parse_choice
from server.rendering import render

PUBLIC = {"access": "public"}


@get("/complaints/stats", name="portal.complaints.stats", opt=PUBLIC)
async def complaint_stats(request: Request) -> Response:
    params = request.query_params
    sort = lenient(parse_choice, params.get("sort"), "name", choices=SORTS)
    descending = lenient(parse_choice, params.get("dir"), "asc", choices=("asc", "desc"))
    stats = await published_stats(sort, descending == "desc")
    return await render(request, "portal/complaint_stats.html", {"stats": stats})


handlers = [complaint_stats]
