"""The lead desk's exports: the filtered leads as .xlsx or CSV, masked data only."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from openpyxl import Workbook

from marketplace.actors import Actor
from marketplace.applications.queries import (
    LeadDeskOptions,
    LeadFilters,
    LeadSummary,
    lead_filter_query,
    lead_rows_for_export,
)
from marketplace.applications.services import record_lead_export
from marketplace.i18n import _

# An export is bounded like any answer; past this the file says it was cut.
MAX_EXPORT_ROWS = 10_000
FORMATS = ("xlsx", "csv")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
# A spreadsheet runs a cell that starts like a formula; institution-typed text may.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class LeadExport:
    filename: str
    media_type: str
    content: bytes
    rows: int
    truncated: bool


def _headers() -> list[str]:
    return [
        _("申请编号"),
        _("产品"),
        _("申请人"),
        _("城市"),
        _("申请金额（元）"),
        _("期限（月）"),
        _("状态"),
        _("接收时间"),
        _("等待时长（小时）"),
        _("负责人"),
    ]


def _cells(lead: LeadSummary) -> list[object]:
    delivered = lead.delivered_at.strftime("%Y-%m-%d %H:%M") if lead.delivered_at else ""
    return [
        lead.reference,
        lead.product_name,
        lead.applicant,
        lead.city,
        lead.amount,
        lead.term_months,
        lead.status_label,
        delivered,
        lead.age_hours if lead.age_hours is not None else "",
        lead.assignee_name or _("未分配"),
    ]


def _safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _truncation_note() -> str:
    return _("仅导出前 {n} 条，请缩小筛选范围后分批导出", n=MAX_EXPORT_ROWS)


def _xlsx(leads: list[LeadSummary], truncated: bool) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("线索")
    sheet.append(_headers())
    for lead in leads:
        sheet.append([_safe(cell) for cell in _cells(lead)])
    if truncated:
        sheet.append([_truncation_note()])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _csv(leads: list[LeadSummary], truncated: bool) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(_headers())
    for lead in leads:
        writer.writerow([_safe(cell) for cell in _cells(lead)])
    if truncated:
        writer.writerow([_truncation_note()])
    # With a BOM, Excel opens the Chinese text as UTF-8.
    return text.getvalue().encode("utf-8-sig")


async def export_leads(
    actor: Actor, filters: LeadFilters, options: LeadDeskOptions, file_format: str
) -> LeadExport:
    """The leads matching `filters` (what the page shows, every page), audited with the
    filters and the row count."""
    leads = await lead_rows_for_export(actor, filters, limit=MAX_EXPORT_ROWS + 1)
    truncated = len(leads) > MAX_EXPORT_ROWS
    leads = leads[:MAX_EXPORT_ROWS]
    await record_lead_export(actor, lead_filter_query(filters, options), len(leads), file_format)
    content = _xlsx(leads, truncated) if file_format == "xlsx" else _csv(leads, truncated)
    return LeadExport(
        filename=f"leads.{file_format}",
        media_type=MEDIA_TYPES[file_format],
        content=content,
        rows=len(leads),
        truncated=truncated,
    )
