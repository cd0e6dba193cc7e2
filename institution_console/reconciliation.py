"""Reconciliation (I10): the institution's disbursement ledger of a month against the
platform's loans — summary, rows with filters, resolving a discrepancy with a note, the
ledger upload (whole file or nothing) and the one-row form, template and export."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.errors import ValidationFailed
from marketplace.i18n import _
from marketplace.parsing import FieldError, first
from marketplace.reconciliation.files import (
    MAX_FILE_BYTES,
    export_rows,
    ledger_template,
    read_ledger_file,
)
from marketplace.reconciliation.ledger import (
    FIELDS,
    MAX_ROWS,
    check_row,
    parse_period,
    period_or_default,
    period_text,
)
from marketplace.reconciliation.queries import (
    outcome_choices,
    parse_row_filters,
    reconciliation_view,
    state_choices,
)
from marketplace.reconciliation.services import (
    parse_note,
    resolve_discrepancy,
    save_row,
    submit_report,
)
from marketplace.reconciliation.statuses import ReportSource
from marketplace.spreadsheets import FORMATS, MEDIA_TYPES
from server.attachments import download
from server.auth import require_actor
from server.forms import FormData, page_number, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect, render

VIEW = {"access": "staff", "permission": "reconciliation.view"}
REPORT = {"access": "staff", "permission": "reconciliation.report"}
RESOLVE = {"access": "staff", "permission": "reconciliation.resolve"}
PATH = "/console/settlement/reconciliation"
PER_PAGE = 50
ROW_FIELDS = tuple(FIELDS)


def _back(period_raw: Any) -> str:
    return f"{PATH}?period={period_text(period_or_default(period_raw))}"


async def _page(
    request: Request,
    *,
    period_raw: Any = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    actor = await require_actor(request)
    period = period_or_default(
        period_raw if period_raw is not None else request.query_params.get("period")
    )
    filters = parse_row_filters(request.query_params)
    page = page_number(request.query_params.get("page"))
    view = await reconciliation_view(actor, None, period, filters, page=page, per_page=PER_PAGE)
    query = {"period": view.period_text, **filters.as_query()}
    response = await render(
        request,
        "institution_console/reconciliation.html",
        {
            "view": view,
            "filters": filters,
            "query": query,
            "base_query": {"period": view.period_text},
            "show_route": "console.reconciliation.show",
            "resolve_route": "console.reconciliation.resolve",
            "export_route": "console.reconciliation.export",
            "formats": FORMATS,
            "outcome_choices": outcome_choices(),
            "state_choices": state_choices(),
            "max_rows": MAX_ROWS,
            "values": extra.pop("values", {}),
            "errors": extra.pop("errors", {}),
            "upload_error": extra.pop("upload_error", ""),
            "upload_errors": extra.pop("upload_errors", ()),
            "resolve_errors": extra.pop("resolve_errors", {}),
            **pagination(PATH, query, page, view.page.total, PER_PAGE),
        },
        nav="reconciliation",
    )
    response.status_code = status_code
    return response


@get("/settlement/reconciliation", name="console.reconciliation.show", opt=VIEW)
async def reconciliation_page(request: Request) -> Response:
    return await _page(request)


@get(
    "/settlement/reconciliation/export/{file_format:str}",
    name="console.reconciliation.export",
    opt=VIEW,
)
async def reconciliation_export(request: Request, file_format: FromPath[str]) -> Response:
    """The filtered rows (same query string as the page) as a file; audited."""
    if file_format not in FORMATS:
        raise NotFoundException()
    actor = await require_actor(request)
    period = period_or_default(request.query_params.get("period"))
    export = await export_rows(
        actor, None, period, parse_row_filters(request.query_params), file_format
    )
    return download(export.content, export.media_type, export.filename)


@get(
    "/settlement/reconciliation/template/{file_format:str}",
    name="console.reconciliation.template",
    opt=REPORT,
)
async def reconciliation_template(file_format: FromPath[str]) -> Response:
    if file_format not in FORMATS:
        raise NotFoundException()
    return download(
        ledger_template(file_format), MEDIA_TYPES[file_format], f"disbursements.{file_format}"
    )


@post("/settlement/reconciliation/upload", name="console.reconciliation.upload", opt=REPORT)
async def reconciliation_upload(request: Request) -> Response:
    """Check every row; the file becomes the period's report whole, or nothing changes."""
    actor = await require_actor(request)
    form = await request.form()
    period_raw = form.get("period")
    try:
        period = parse_period(period_raw if isinstance(period_raw, str) else "")
    except FieldError as exc:
        return await _page(request, upload_error=exc.message, status_code=400)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _page(
            request, period_raw=period_raw, upload_error=_("请选择要上传的文件"), status_code=400
        )
    content = await upload.read(MAX_FILE_BYTES + 1)
    parsed = read_ledger_file(upload.filename, content, period)
    if parsed.file_error or parsed.errors:
        return await _page(
            request,
            period_raw=period_raw,
            upload_error=parsed.file_error,
            upload_errors=parsed.errors,
            status_code=400,
        )
    submitted = await submit_report(
        actor, period, parsed.rows, source=ReportSource.UPLOAD, filename=upload.filename
    )
    message = (
        _(
            "已导入 {period} 放款台账 {n} 行，已替换此前的报送",
            period=period_text(period),
            n=submitted.rows,
        )
        if submitted.replaced_report_id
        else _("已导入 {period} 放款台账 {n} 行", period=period_text(period), n=submitted.rows)
    )
    flash(request, message)
    return redirect(request, _back(period_raw))


@post("/settlement/reconciliation/rows", name="console.reconciliation.row", opt=REPORT)
async def reconciliation_row(request: Request) -> Response:
    """Add one reported disbursement, or correct the one of the same reference."""
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        try:
            period = parse_period(data.get("period"))
        except FieldError as exc:
            raise ValidationFailed({"period": exc.message}) from None
        checked = check_row(0, data, period)
        if isinstance(checked, list):
            raise ValidationFailed({error.field: error.message for error in checked})
        await save_row(actor, period, checked)
        flash(
            request,
            _("已保存申请编号 {reference} 的放款记录", reference=checked.application_reference),
        )
        return redirect(request, _back(data.get("period")))

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {key: first(data.get(key)) for key in ("period", *ROW_FIELDS)}
        return await _page(request, period_raw=data.get("period"), values=values, errors=errors)

    return await submit_form(request, submit, rerender)


@post("/settlement/reconciliation/resolve", name="console.reconciliation.resolve", opt=RESOLVE)
async def reconciliation_resolve(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        try:
            period = parse_period(data.get("period"))
            note = parse_note(data.get("note"))
        except FieldError as exc:
            raise ValidationFailed({"note": exc.message}) from None
        await resolve_discrepancy(actor, None, period, first(data.get("reference")), note)
        flash(request, _("已标记为已处理"))
        return redirect(request, _back(data.get("period")))

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        reference = first(data.get("reference"))
        return await _page(
            request,
            period_raw=data.get("period"),
            resolve_errors={
                reference: {"note": first(data.get("note")), "error": next(iter(errors.values()))}
            },
        )

    return await submit_form(request, submit, rerender)


handlers = [
    reconciliation_page,
    reconciliation_export,
    reconciliation_template,
    reconciliation_upload,
    reconciliation_row,
    reconciliation_resolve,
]
