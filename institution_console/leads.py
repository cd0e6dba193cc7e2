"""The lead inbox: only this institution's applications, only consented data."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from marketplace.applications.queries import (
    institution_lead,
    institution_leads,
    lead_status_labels,
)
from marketplace.applications.services import move_lead
from marketplace.applications.statuses import APPLICATION_MACHINE
from marketplace.errors import DomainError
from marketplace.i18n import _
from server.auth import require_actor
from server.forms import errors_of, form_data
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

VIEW = {"access": "staff", "permission": "lead.view"}
WORK = {"access": "staff", "permission": "lead.work"}
PER_PAGE = 20


@get("/leads", name="console.leads.list", opt=VIEW)
async def lead_list(
    request: Request, status: FromQuery[str] = "", page: FromQuery[int] = 1
) -> Response:
    actor = await require_actor(request)
    statuses = lead_status_labels()
    status = status if status in statuses else ""
    page = max(1, page)
    leads, total = await institution_leads(
        actor, status=status or None, page=page, per_page=PER_PAGE
    )
    return await render(
        request,
        "institution_console/leads.html",
        {
            "leads": leads,
            "total": total,
            "status": status,
            "statuses": statuses,
            **pagination("/console/leads", {"status": status}, page, total, PER_PAGE),
        },
        fragment="institution_console/_lead_rows.html",
        nav="leads",
    )


async def _detail(
    request: Request, application_id: int, errors: dict | None = None, status_code: int = 200
) -> Response:
    actor = await require_actor(request)
    lead = await institution_lead(actor, application_id)
    return await render(
        request,
        "institution_console/lead_detail.html",
        {"lead": lead, "errors": errors or {}},
        status_code=status_code,
        nav="leads",
    )


@get("/leads/{application_id:int}", name="console.leads.detail", opt=VIEW)
async def lead_detail(request: Request, application_id: FromPath[int]) -> Response:
    return await _detail(request, application_id)


@post("/leads/{application_id:int}/status", name="console.leads.move", opt=WORK)
async def lead_move(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    data = await form_data(request)
    try:
        target = await move_lead(
            actor, application_id, str(data.get("action", "")), str(data.get("note", ""))
        )
    except DomainError as exc:
        return await _detail(request, application_id, errors_of(exc), status_code=409)
    flash(request, _("已更新为“{status}”", status=APPLICATION_MACHINE.label(target)))
    return redirect_to(request, "console.leads.detail", application_id=application_id)


handlers = [lead_list, lead_detail, lead_move]
