from litestar import Request, Response, get
from litestar.params import FromQuery

from marketplace.audit.queries import search_audit
from server.pagination import pagination
from server.rendering import render

AUDIT = {"access": "operator", "permission": "audit.view"}
PER_PAGE = 50


@get("/audit", name="admin.audit.list", opt=AUDIT)
async def audit_list(
    request: Request, q: FromQuery[str] = "", page: FromQuery[int] = 1
) -> Response:
    page = max(1, page)
    entries, total = await search_audit(q.strip(), page=page, per_page=PER_PAGE)
    return await render(
        request,
        "admin/audit.html",
        {
            "entries": entries,
            "total": total,
            "q": q,
            **pagination("/admin/audit", {"q": q}, page, total, PER_PAGE),
        },
        nav="audit",
    )


handlers = [audit_list]
