"""The audit log (A13): search by actor, institution, object, action, date range, client
address and free text; the results as a file (the export itself audited). Read-only."""

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.agreements.queries import institution_options
from marketplace.audit.exports import export_audit
from marketplace.audit.queries import (
    MAX_OBJECT_ID,
    MAX_TEXT,
    AuditFilters,
    actor_kind_choices,
    object_type_choices,
    search_audit,
)
from marketplace.parsing import lenient, parse_date
from marketplace.spreadsheets import FORMATS
from server.attachments import download
from server.auth import require_actor
from server.forms import query_choice, query_int, query_page, query_text
from server.pagination import pagination
from server.rendering import render

AUDIT = {"access": "operator", "permission": "audit.view"}
PER_PAGE = 50
MAX_ACTION = 60
MAX_IP = 64


def _filters(request: Request) -> AuditFilters:
    date_from = lenient(parse_date, request.query_params.get("from"), None)
    date_to = lenient(parse_date, request.query_params.get("to"), None)
    if date_from and date_to and date_from > date_to:
        date_from, date_to = date_to, date_from
    return AuditFilters(
        text=query_text(request, "q", max_length=MAX_TEXT),
        actor=query_text(request, "actor", max_length=MAX_TEXT),
        actor_kind=query_choice(request, "actor_kind", [code for code, _l in actor_kind_choices()]),
        institution_id=query_int(request, "institution", 0, minimum=1) or None,
        object_type=query_choice(
            request, "object_type", [code for code, _l in object_type_choices()]
        ),
        object_id=query_text(request, "object_id", max_length=MAX_OBJECT_ID),
        action=query_text(request, "action", max_length=MAX_ACTION),
        date_from=date_from,
        date_to=date_to,
        ip=query_text(request, "ip", max_length=MAX_IP),
    )


@get("/audit", name="admin.audit.list", opt=AUDIT)
async def audit_list(request: Request) -> Response:
    filters = _filters(request)
    page = query_page(request)
    entries, total = await search_audit(filters, page=page, per_page=PER_PAGE)
    query = filters.as_query()
    return await render(
        request,
        "admin/audit.html",
        {
            "entries": entries,
            "total": total,
            "filters": filters,
            "query": {key: value for key, value in query.items() if value},
            "filtered": any(query.values()),
            "institutions": await institution_options(),
            "actor_kinds": actor_kind_choices(),
            "object_types": object_type_choices(),
            **pagination("/admin/audit", query, page, total, PER_PAGE),
        },
        nav="audit",
    )


@get("/audit/export/{file_format:str}", name="admin.audit.export", opt=AUDIT)
async def audit_export(request: Request, file_format: FromPath[str]) -> Response:
    if file_format not in FORMATS:
        raise NotFoundException()
    actor = await require_actor(request)
    export = await export_audit(actor, _filters(request), file_format)
    return download(export.content, export.media_type, export.filename)


handlers = [audit_list, audit_export]
