"""Reconciliation oversight (A11): any institution's disbursement ledger of a month against
the platform's loans, resolving a discrepancy with a note, and the rows as a file
(audited)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.errors import ValidationFailed
from marketplace.i18n import _
from marketplace.parsing import MAX_ID, FieldError, first, lenient, parse_int
from marketplace.reconciliation.files import export_rows
from marketplace.reconciliation.ledger import parse_period, period_or_default, period_text
from marketplace.reconciliation.queries import (
    institution_options,
    outcome_choices,
    parse_row_filters,
    reconciliation_view,
    state_choices,
)
from marketplace.reconciliation.services import parse_note, resolve_discrepancy
from marketplace.spreadsheets import FORMATS
from server.attachments import download
from server.auth import require_actor
from server.forms import FormData, page_number, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect, render

VIEW = {"access": "operator", "permission": "reconciliation.view"}
RESOLVE = {"access": "operator", "permission": "reconciliation.resolve"}
PATH = "/admin/settlement/reconciliation"
PER_PAGE = 50


def _institution(raw: Any) -> int | None:
    return lenient(parse_int, raw, 0, minimum=1, maximum=MAX_ID) or None


async def _page(
    request: Request,
    *,
    institution_raw: Any = None,
    period_raw: Any = None,
    status_code: int = 200,
    resolve_errors: dict[str, dict[str, str]] | None = None,
) -> Response:
    actor = await require_actor(request)
    params = request.query_params
    institution = _institution(
        institution_raw if institution_raw is not None else params.get("institution")
    )
    period = period_or_default(period_raw if period_raw is not None else params.get("period"))
    filters = parse_row_filters(params)
    page = page_number(params.get("page"))
    view = None
    context: dict[str, Any] = {}
    if institution is not None:
        view = await reconciliation_view(
            actor, institution, period, filters, page=page, per_page=PER_PAGE
        )
        base_query = {"institution": str(institution), "period": view.period_text}
        query = {**base_query, **filters.as_query()}
        context = {
            "filters": filters,
            "query": query,
            "base_query": base_query,
            **pagination(PATH, query, page, view.page.total, PER_PAGE),
        }
    response = await render(
        request,
        "admin/reconciliation.html",
        {
            "view": view,
            "institution_id": institution,
            "period_text": period_text(period),
            "institutions": await institution_options(),
            "show_route": "admin.reconciliation.show",
            "resolve_route": "admin.reconciliation.resolve",
            "export_route": "admin.reconciliation.export",
            "formats": FORMATS,
            "outcome_choices": outcome_choices(),
            "state_choices": state_choices(),
            "resolve_errors": resolve_errors or {},
            **context,
        },
        nav="reconciliation",
    )
    response.status_code = status_code
    return response


@get("/settlement/reconciliation", name="admin.reconciliation.show", opt=VIEW)
async def reconciliation_page(request: Request) -> Response:
    return await _page(request)


@get(
    "/settlement/reconciliation/export/{file_format:str}",
    name="admin.reconciliation.export",
    opt=VIEW,
)
async def reconciliation_export(request: Request, file_format: FromPath[str]) -> Response:
    """The filtered rows of one institution's month as a file; audited."""
    institution = _institution(request.query_params.get("institution"))
    if file_format not in FORMATS or institution is None:
        raise NotFoundException()
    actor = await require_actor(request)
    export = await export_rows(
        actor,
        institution,
        period_or_default(request.query_params.get("period")),
        parse_row_filters(request.query_params),
        file_format,
    )
    return download(export.content, export.media_type, export.filename)


@post("/settlement/reconciliation/resolve", name="admin.reconciliation.resolve", opt=RESOLVE)
async def reconciliation_resolve(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        institution = _institution(data.get("institution"))
        if institution is None:
            raise NotFoundException()
        try:
            period = parse_period(data.get("period"))
            note = parse_note(data.get("note"))
        except FieldError as exc:
            raise ValidationFailed({"note": exc.message}) from None
        await resolve_discrepancy(actor, institution, period, first(data.get("reference")), note)
        flash(request, _("已标记为已处理"))
        return redirect(request, f"{PATH}?institution={institution}&period={period_text(period)}")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(
            request,
            institution_raw=data.get("institution"),
            period_raw=data.get("period"),
            resolve_errors={
                first(data.get("reference")): {
                    "note": first(data.get("note")),
                    "error": next(iter(errors.values())),
                }
            },
        )

    return await submit_form(request, submit, rerender)


handlers = [reconciliation_page, reconciliation_export, reconciliation_resolve]
