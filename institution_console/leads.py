"""The lead inbox: only this institution's applications, only consented data."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.applications.queries import (
    institution_lead,
    institution_leads,
    lead_desk_options,
    lead_filter_query,
    parse_lead_filters,
)
from marketplace.applications.services import move_lead
from marketplace.applications.statuses import APPLICATION_MACHINE
from marketplace.i18n import _
from marketplace.parsing import FormReader, first, parse_text
from server.auth import require_actor
from server.forms import FormData, query_page, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

VIEW = {"access": "staff", "permission": "lead.view"}
WORK = {"access": "staff", "permission": "lead.work"}
PER_PAGE = 20
# The note goes on the borrower's timeline with the new status.
NOTE_MAX_LENGTH = 500


@get("/leads", name="console.leads.list", opt=VIEW)
async def lead_list(request: Request) -> Response:
    actor = await require_actor(request)
    options = await lead_desk_options(actor)
    filters = parse_lead_filters(request.query_params, options)
    page = query_page(request)
    leads, total = await institution_leads(actor, filters, page=page, per_page=PER_PAGE)
    query = lead_filter_query(filters, options)
    return await render(
        request,
        "institution_console/leads.html",
        {
            "leads": leads,
            "total": total,
            "filters": filters,
            "options": options,
            "query": query,
            **pagination("/console/leads", query, page, total, PER_PAGE),
        },
        fragment="institution_console/_lead_rows.html",
        nav="leads",
    )


async def _detail(
    request: Request, application_id: int, errors: dict | None = None, note: str = ""
) -> Response:
    actor = await require_actor(request)
    lead = await institution_lead(actor, application_id)
    return await render(
        request,
        "institution_console/lead_detail.html",
        {"lead": lead, "errors": errors or {}, "note": note},
        nav="leads",
    )


@get("/leads/{application_id:int}", name="console.leads.detail", opt=VIEW)
async def lead_detail(request: Request, application_id: FromPath[int]) -> Response:
    return await _detail(request, application_id)


@post("/leads/{application_id:int}/status", name="console.leads.move", opt=WORK)
async def lead_move(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        form = FormReader(data)
        note = form.field(
            "note", parse_text, "", label=_("备注"), max_length=NOTE_MAX_LENGTH, multiline=True
        )
        form.raise_errors()
        target = await move_lead(actor, application_id, first(data.get("action")), note)
        flash(request, _("已更新为“{status}”", status=APPLICATION_MACHINE.label(target)))
        return redirect_to(request, "console.leads.detail", application_id=application_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(request, application_id, errors, note=first(data.get("note")))

    return await submit_form(request, submit, rerender)


handlers = [lead_list, lead_detail, lead_move]
