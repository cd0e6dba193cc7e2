"""Post-loan pages: the portfolio and loan list, one loan with its repayment form, the
repayment file upload, and the disbursement of a signed lead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.loancalc import today_shanghai
from marketplace.loans.files import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    export_loans,
    read_repayment_file,
    repayment_template,
)
from marketplace.loans.portfolio import (
    institution_loans,
    loan_list_options,
    parse_loan_filters,
    portfolio,
)
from marketplace.loans.queries import disbursement_form, institution_loan, kind_choices
from marketplace.loans.services import (
    ACCOUNT_MAX_LENGTH,
    REFERENCE_MAX_LENGTH,
    parse_disbursement,
    parse_repayment,
    record_repayment_file,
    report_disbursement,
    report_repayment,
)
from marketplace.money import format_cny
from marketplace.parsing import first
from marketplace.spreadsheets import FORMATS, MEDIA_TYPES
from server.attachments import download
from server.auth import require_actor
from server.forms import FormData, page_number, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect_to, render, wants_fragment

VIEW = {"access": "staff", "permission": "loan.view"}
RECORD = {"access": "staff", "permission": "loan.record_repayment"}
DISBURSE = {"access": "staff", "permission": "loan.disburse"}
LIST_PATH = "/console/loans"
PER_PAGE = 50


@get("/loans", name="console.loans.portfolio", opt=VIEW)
async def loan_portfolio(request: Request) -> Response:
    actor = await require_actor(request)
    options = await loan_list_options(actor)
    filters = parse_loan_filters(request.query_params, options)
    page = page_number(request.query_params.get("page"))
    loans, total = await institution_loans(actor, filters, page=page, per_page=PER_PAGE)
    query = filters.as_query()
    return await render(
        request,
        "institution_console/loans.html",
        {
            # A filter or page swap re-renders only the list.
            "portfolio": None if wants_fragment(request) else await portfolio(actor),
            "loans": loans,
            "total": total,
            "filters": filters,
            "options": options,
            "query": query,
            **pagination(LIST_PATH, query, page, total, PER_PAGE),
        },
        fragment="institution_console/_loan_rows.html",
        nav="loans",
    )


@get("/loans/export/{file_format:str}", name="console.loans.export", opt=VIEW)
async def loan_export(request: Request, file_format: FromPath[str]) -> Response:
    """The filtered loans (same query string as the page) as a file; audited."""
    if file_format not in FORMATS:
        raise NotFoundException()
    actor = await require_actor(request)
    filters = parse_loan_filters(request.query_params, await loan_list_options(actor))
    export = await export_loans(actor, filters, file_format)
    return download(export.content, export.media_type, export.filename)


def _repayment_values(data: Mapping[str, Any] | None = None) -> dict[str, str]:
    if data is None:
        return {
            "paid_on": today_shanghai().isoformat(),
            "kind": "instalment",
            "amount": "",
            "reference": "",
        }
    return {key: first(data.get(key)) for key in ("amount", "paid_on", "kind", "reference")}


async def _detail(
    request: Request,
    loan_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    actor = await require_actor(request)
    loan = await institution_loan(actor, loan_id)
    return await render(
        request,
        "institution_console/loan_detail.html",
        {
            "loan": loan,
            "values": values or _repayment_values(),
            "errors": errors or {},
            "kinds": kind_choices(),
            "reference_max": REFERENCE_MAX_LENGTH,
        },
        nav="loans",
    )


@get("/loans/{loan_id:int}", name="console.loans.detail", opt=VIEW)
async def loan_detail(request: Request, loan_id: FromPath[int]) -> Response:
    return await _detail(request, loan_id)


@post("/loans/{loan_id:int}/repayments", name="console.loans.repay", opt=RECORD)
async def loan_repay(request: Request, loan_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        paid = parse_repayment(data)
        await report_repayment(actor, loan_id, paid.amount, paid.paid_on, paid.kind, paid.reference)
        flash(request, _("已登记还款 {amount}", amount=format_cny(paid.amount)))
        return redirect_to(request, "console.loans.detail", loan_id=loan_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(request, loan_id, _repayment_values(data), errors)

    return await submit_form(request, submit, rerender)


async def _upload_page(
    request: Request, *, error: str = "", outcome: Any = None, status_code: int = 200
) -> Response:
    response = await render(
        request,
        "institution_console/repayment_upload.html",
        {
            "error": error,
            "outcome": outcome,
            "max_rows": MAX_ROWS,
            "formats": FORMATS,
        },
        nav="loans",
    )
    response.status_code = status_code
    return response


@get("/loans/repayments/upload", name="console.loans.upload_form", opt=RECORD)
async def repayment_upload_form(request: Request) -> Response:
    return await _upload_page(request)


@get(
    "/loans/repayments/template/{file_format:str}",
    name="console.loans.upload_template",
    opt=RECORD,
)
async def repayment_upload_template(file_format: FromPath[str]) -> Response:
    if file_format not in FORMATS:
        raise NotFoundException()
    return download(
        repayment_template(file_format), MEDIA_TYPES[file_format], f"repayments.{file_format}"
    )


@post("/loans/repayments/upload", name="console.loans.upload", opt=RECORD)
async def repayment_upload(request: Request) -> Response:
    """Check every row; apply all of them in one transaction or none."""
    actor = await require_actor(request)
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _upload_page(request, error=_("请选择要上传的文件"), status_code=400)
    content = await upload.read(MAX_FILE_BYTES + 1)
    parsed = read_repayment_file(upload.filename, content)
    if parsed.file_error:
        return await _upload_page(request, error=parsed.file_error, status_code=400)
    outcome = await record_repayment_file(
        actor, parsed.rows, parsed.errors, filename=upload.filename
    )
    if not outcome.applied:
        return await _upload_page(request, outcome=outcome, status_code=400)
    flash(
        request,
        _(
            "已登记 {recorded} 笔还款；{already} 笔此前已登记，未重复登记",
            recorded=outcome.recorded,
            already=outcome.already_recorded,
        ),
    )
    return redirect_to(request, "console.loans.upload_form")


def _disburse_values(data: Mapping[str, Any] | None, default_amount: str) -> dict[str, str]:
    if data is None:
        return {
            "disbursed_on": today_shanghai().isoformat(),
            "amount": default_amount,
            "receiving_account": "",
        }
    return {key: first(data.get(key)) for key in ("disbursed_on", "amount", "receiving_account")}


async def _disburse_page(
    request: Request,
    application_id: int,
    data: Mapping[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    actor = await require_actor(request)
    form = await disbursement_form(actor, application_id)
    default_amount = f"{form.terms.amount:f}" if form.terms else ""
    return await render(
        request,
        "institution_console/disburse.html",
        {
            "form": form,
            "values": _disburse_values(data, default_amount),
            "errors": errors or {},
            "account_max": ACCOUNT_MAX_LENGTH,
        },
        nav="leads",
    )


@get("/leads/{application_id:int}/disburse", name="console.loans.disburse_form", opt=DISBURSE)
async def disburse_form(request: Request, application_id: FromPath[int]) -> Response:
    return await _disburse_page(request, application_id)


@post("/leads/{application_id:int}/disburse", name="console.loans.disburse", opt=DISBURSE)
async def disburse(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        paid = parse_disbursement(data)
        loan_id = await report_disbursement(
            actor, application_id, paid.disbursed_on, paid.amount, paid.receiving_account
        )
        flash(request, _("已登记放款，还款计划已生成"))
        return redirect_to(request, "console.loans.detail", loan_id=loan_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _disburse_page(request, application_id, data, errors)

    return await submit_form(request, submit, rerender)


handlers = [
    loan_portfolio,
    loan_export,
    loan_detail,
    loan_repay,
    repayment_upload_form,
    repayment_upload_template,
    repayment_upload,
    disburse_form,
    disburse,
]
