"""The lead inbox: only this institution's applications, only consented data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.applications.decisions import bulk_reject_leads, parse_rejection
from marketplace.applications.exports import FORMATS, export_leads
from marketplace.applications.queries import (
    institution_lead,
    institution_leads,
    lead_desk_options,
    lead_filter_query,
    parse_lead_filters,
)
from marketplace.applications.services import (
    MAX_BULK_LEADS,
    REVEAL_REASON_MAX_LENGTH,
    REVEAL_REASON_MIN_LENGTH,
    REVEALABLE_FIELDS,
    assign_leads,
    bulk_move_leads,
    move_lead,
    reveal_lead_field,
)
from marketplace.applications.statuses import APPLICATION_MACHINE
from marketplace.documents.queries import lead_decisions
from marketplace.i18n import _
from marketplace.loans.portfolio import application_loans
from marketplace.loans.queries import lead_loan
from marketplace.offers.queries import offer_panel
from marketplace.parsing import FormReader, first, lenient, parse_choice, parse_int, parse_text
from marketplace.prescreen.queries import lead_screening
from server.auth import require_actor
from server.forms import FormData, as_list, page_number, safe_next, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect, redirect_to, render

VIEW = {"access": "staff", "permission": "lead.view"}
WORK = {"access": "staff", "permission": "lead.work"}
ASSIGN = {"access": "staff", "permission": "lead.assign"}
REVEAL = {"access": "staff", "permission": "lead.reveal"}
LIST_PATH = "/console/leads"
UNASSIGN = "none"
PER_PAGE = 20
# The note goes on the borrower's timeline with the new status.
NOTE_MAX_LENGTH = 500


@get("/leads", name="console.leads.list", opt=VIEW)
async def lead_list(request: Request) -> Response:
    return await _list_page(request, request.query_params)


async def _list_page(
    request: Request, params: Mapping[str, Any], errors: dict[str, str] | None = None
) -> Response:
    actor = await require_actor(request)
    options = await lead_desk_options(actor)
    filters = parse_lead_filters(params, options)
    page = page_number(params.get("page"))
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
            "bulk_errors": errors or {},
            "lead_loans": await application_loans(actor, [lead.id for lead in leads]),
            **pagination(LIST_PATH, query, page, total, PER_PAGE),
        },
        fragment="institution_console/_lead_rows.html",
        nav="leads",
    )


async def _detail(
    request: Request,
    application_id: int,
    errors: dict | None = None,
    note: str = "",
    values: Mapping[str, Any] | None = None,
) -> Response:
    actor = await require_actor(request)
    lead = await institution_lead(actor, application_id)
    return await render(
        request,
        "institution_console/lead_detail.html",
        {
            "lead": lead,
            "errors": errors or {},
            "note": note,
            "lead_loan": await lead_loan(actor, application_id),
            "decisions": await lead_decisions(actor, application_id),
            "offer_panel": await offer_panel(actor, application_id, lead.status),
            "screening": await lead_screening(actor, application_id),
            "values": values or {},  # what was typed into a decision form sent back
        },
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


async def _reveal_page(
    request: Request,
    application_id: int,
    *,
    field: str = "",
    reason: str = "",
    errors: dict[str, str] | None = None,
    revealed: Any = None,
) -> Response:
    actor = await require_actor(request)
    lead = await institution_lead(actor, application_id)
    response = await render(
        request,
        "institution_console/lead_reveal.html",
        {
            "lead": lead,
            "fields": {key: _(label) for key, label in REVEALABLE_FIELDS.items()},
            "field": field,
            "reason": reason,
            "reason_max": REVEAL_REASON_MAX_LENGTH,
            "errors": errors or {},
            "revealed": revealed,
        },
        nav="leads",
    )
    # The full value is shown in this one answer: no cache, no history copy.
    response.headers["Cache-Control"] = "no-store"
    return response


@get("/leads/{application_id:int}/reveal", name="console.leads.reveal_form", opt=REVEAL)
async def lead_reveal_form(request: Request, application_id: FromPath[int]) -> Response:
    field = lenient(parse_choice, request.query_params.get("field"), "", choices=REVEALABLE_FIELDS)
    return await _reveal_page(request, application_id, field=field)


@post("/leads/{application_id:int}/reveal", name="console.leads.reveal", opt=REVEAL)
async def lead_reveal(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        form = FormReader(data)
        field = form.field("field", parse_choice, "", choices=REVEALABLE_FIELDS, label=_("查看项"))
        reason = form.field(
            "reason",
            parse_text,
            "",
            label=_("查看原因"),
            min_length=REVEAL_REASON_MIN_LENGTH,
            max_length=REVEAL_REASON_MAX_LENGTH,
        )
        form.raise_errors()
        revealed = await reveal_lead_field(actor, application_id, field, reason)
        return await _reveal_page(request, application_id, field=field, revealed=revealed)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _reveal_page(
            request,
            application_id,
            field=first(data.get("field")),
            reason=first(data.get("reason")),
            errors=errors,
        )

    return await submit_form(request, submit, rerender)


@get("/leads/export/{file_format:str}", name="console.leads.export", opt=VIEW)
async def lead_export(request: Request, file_format: FromPath[str]) -> Response:
    """The filtered leads (same query string as the page) as a file; audited."""
    if file_format not in FORMATS:
        raise NotFoundException()
    actor = await require_actor(request)
    options = await lead_desk_options(actor)
    export = await export_leads(
        actor, parse_lead_filters(request.query_params, options), options, file_format
    )
    return Response(
        content=export.content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        },
    )


def _lead_ids(data: FormData) -> list[int]:
    ids = (lenient(parse_int, raw, 0, minimum=1) for raw in as_list(data, "lead"))
    return [value for value in ids if value][:MAX_BULK_LEADS]


def _back(request: Request, data: FormData) -> Response:
    """Back to the list the form was sent from, its filters kept (or to the lead)."""
    return redirect(request, safe_next(first(data.get("next")), LIST_PATH, LIST_PATH))


async def _refused(request: Request, data: FormData, errors: dict[str, str]) -> Response:
    """The list the form was sent from, with what was wrong above it."""
    back = urlsplit(safe_next(first(data.get("next")), LIST_PATH, LIST_PATH))
    return await _list_page(request, parse_qs(back.query), errors)


@post("/leads/assign", name="console.leads.assign", opt=ASSIGN)
async def lead_assign(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        form = FormReader(data)
        assignee = first(data.get("assignee")).strip()
        if not assignee:
            form.fail("assignee", _("请选择负责人"))
        form.raise_errors()
        # An id that is not one of this institution's staff is NotFound in the verb.
        assignee_id = None if assignee == UNASSIGN else lenient(parse_int, assignee, 0)
        n = await assign_leads(actor, _lead_ids(data), assignee_id)
        flash(
            request, _("已分配 {n} 条线索", n=n) if assignee_id else _("已取消分配 {n} 条线索", n=n)
        )
        return _back(request, data)

    return await submit_form(request, submit, lambda data, errors: _refused(request, data, errors))


@post("/leads/bulk-status", name="console.leads.bulk_move", opt=WORK)
async def lead_bulk_move(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        action = first(data.get("action"))
        if action == "reject":  # the one bulk move that carries a reason
            result = await bulk_reject_leads(actor, _lead_ids(data), await parse_rejection(data))
        else:
            result = await bulk_move_leads(actor, _lead_ids(data), action)
        if result.moved:
            flash(request, _("已更新 {n} 条线索", n=len(result.moved)))
        if result.refused:
            reasons = "；".join(f"{ref}：{why}" for ref, why in result.refused)
            flash(
                request,
                _("{n} 条线索未更新：{reasons}", n=len(result.refused), reasons=reasons),
                "error",
            )
        return _back(request, data)

    return await submit_form(request, submit, lambda data, errors: _refused(request, data, errors))


handlers = [
    lead_list,
    lead_detail,
    lead_move,
    lead_assign,
    lead_bulk_move,
    lead_reveal_form,
    lead_reveal,
    lead_export,
]
