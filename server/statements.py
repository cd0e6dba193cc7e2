"""What the console's and the operators' statement pages share (issue #9): the line
filters read from the query string, the statement with one page of its lines, and the two
downloads (the lines as .xlsx, the printable statement), each audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from litestar import Request, Response

from marketplace.actors import Actor
from marketplace.i18n import N_, _
from marketplace.loancalc import SHANGHAI
from marketplace.reconciliation.queries import reconciliation_summary
from marketplace.settlement.queries import (
    LineFilters,
    StatementLine,
    dispute_filter_choices,
    line_kind_choices,
    lines_for_export,
    pricing_choices,
    statement_detail,
    statement_lines,
)
from marketplace.settlement.services import record_statement_download
from marketplace.spreadsheets import MEDIA_TYPES, spreadsheet
from server.attachments import download
from server.auth import require_actor
from server.forms import query_choice, query_page, query_text
from server.pagination import pagination
from server.rendering import render

LINES_PER_PAGE = 100
# A statement may carry up to a million lines: the printable page lists the first ones
# (the totals cover all), the spreadsheet many more; both say when they stop short.
PRINT_MAX_LINES = 2_000
XLSX_MAX_LINES = 100_000
# Application references are "LMT" and 12 hex digits; longer text names no line.
REFERENCE_MAX_LENGTH = 24


def line_filters(request: Request) -> LineFilters:
    return LineFilters(
        kind=query_choice(request, "kind", [key for key, _label in line_kind_choices()]),
        pricing_model=query_choice(request, "model", [key for key, _label in pricing_choices()]),
        dispute=query_choice(request, "dispute", [key for key, _label in dispute_filter_choices()]),
        reference=query_text(request, "reference", max_length=REFERENCE_MAX_LENGTH),
    )


def _filter_query(filters: LineFilters) -> dict[str, str]:
    return {
        "kind": filters.kind,
        "model": filters.pricing_model,
        "dispute": filters.dispute,
        "reference": filters.reference,
    }


def month_text(period: date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


DETAIL_TEMPLATES = {
    "console": "institution_console/settlement_detail.html",
    "admin": "admin/settlement_detail.html",
}


async def statement_page(
    request: Request,
    statement_id: int,
    audience: str,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    """A statement with its totals, one page of its (filtered) lines, its disputes and the
    reconciliation summary of its month, for the console or the operators (`audience`).
    `errors`/`values` re-render a rejected form."""
    actor = await require_actor(request)
    path = request.app.route_reverse(f"{audience}.settlement.detail", statement_id=statement_id)
    detail = await statement_detail(actor, statement_id)
    filters = line_filters(request)
    page = query_page(request)
    lines = await statement_lines(actor, statement_id, filters, page=page, per_page=LINES_PER_PAGE)
    query = _filter_query(filters)
    return await render(
        request,
        DETAIL_TEMPLATES[audience],
        {
            "detail": detail,
            "lines": lines,
            "filters": filters,
            "query": query,
            "kinds": line_kind_choices(),
            "models": pricing_choices(),
            "dispute_choices": dispute_filter_choices(),
            "month": month_text(detail.row.period),
            "reconciliation": await reconciliation_summary(
                detail.row.institution_id, detail.row.period
            ),
            "errors": errors or {},
            "values": values or {},
            "paging": pagination(path, query, page, lines.total, LINES_PER_PAGE),
        },
        nav="settlement",
    )


LINE_HEADERS = (
    N_("类型"),
    N_("计费模式"),
    N_("说明"),
    N_("发生时间"),
    N_("申请编号"),
    N_("借款编号"),
    N_("协议版本"),
    N_("计费基数（元）"),
    N_("金额（元）"),
    N_("累计（元）"),
    N_("原因"),
    N_("异议"),
)


def _line_cells(line: StatementLine) -> list[object]:
    return [
        line.kind_label,
        line.pricing_model_label,
        line.label,
        line.occurred_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        line.application_reference,
        line.loan_id or "",
        line.agreement_version or "",
        line.base_amount,
        line.amount,
        line.running_total,
        line.reason_label,
        line.dispute_state_label,
    ]


def lines_workbook(lines: Sequence[StatementLine], *, truncated: bool = False) -> bytes:
    """The lines as .xlsx (text that looks like a formula is written as text)."""
    headers = [_(header) for header in LINE_HEADERS]
    rows = [_line_cells(line) for line in lines]
    if truncated:
        rows.append([_("仅导出前 {n} 行，请按类型或计费模式筛选后分批下载", n=len(lines))])
    return spreadsheet("xlsx", _("结算单明细"), headers, rows)


async def _first_lines(
    actor: Actor, statement_id: int, filters: LineFilters, most: int
) -> tuple[list[StatementLine], bool]:
    """At most `most` lines in statement order, and whether there were more."""
    lines = await lines_for_export(actor, statement_id, filters, limit=most + 1)
    return lines[:most], len(lines) > most


async def xlsx_download(request: Request, actor: Actor, statement_id: int) -> Response:
    """The statement's lines (the page's filters applied) as .xlsx; the download audited."""
    detail = await statement_detail(actor, statement_id)
    lines, truncated = await _first_lines(
        actor, statement_id, line_filters(request), XLSX_MAX_LINES
    )
    await record_statement_download(actor, statement_id, "xlsx")
    month = month_text(detail.row.period)
    return download(
        lines_workbook(lines, truncated=truncated),
        MEDIA_TYPES["xlsx"],
        f"statement-{statement_id}-{month}.xlsx",
    )


async def print_page(request: Request, actor: Actor, statement_id: int) -> Response:
    """The whole statement on one page for printing (print stylesheet); audited."""
    detail = await statement_detail(actor, statement_id)
    lines, truncated = await _first_lines(actor, statement_id, LineFilters(), PRINT_MAX_LINES)
    await record_statement_download(actor, statement_id, "print")
    return await render(
        request,
        "components/statement_print.html",
        {
            "detail": detail,
            "lines": lines,
            "truncated": truncated,
            "month": month_text(detail.row.period),
        },
        nav="settlement",
    )
