from litestar import Request, Response, get

from marketplace.audit.queries import search_audit
from server.forms import query_page, query_text
from server.pagination import pagination
from server.rendering import render

AUDIT = {"access": "operator", "permission": "audit.view"}
PER_PAGE = 50
MAX_QUERY_TEXT = 100


@get("/audit", name="admin.audit.list", opt=AUDIT)
async def audit_list(request: Request) -> Response:
    q = query_text(request, "q", max_length=MAX_QUERY_TEXT)
    page = query_page(request)
    entries, total = await search_audit(q, page=page, per_page=PER_PAGE)
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
