"""The oversight page as a file (.xlsx or CSV): the per-institution activity, then the
refused attempts the filters select. Staff names and loan numbers only, no borrower data;
every export audited with its filters and row count."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from openpyxl import Workbook

from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.collections.queries import OversightFilters, oversight, refusals_in
from marketplace.db import transaction
from marketplace.i18n import _
from marketplace.loancalc import SHANGHAI
from marketplace.money import format_rate

FORMATS = ("xlsx", "csv")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
MAX_REFUSAL_ROWS = 10_000
# A cell starting with one of these is a formula to a spreadsheet: kept as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class OversightExport:
    filename: str
    media_type: str
    content: bytes


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _table(rows: list[list[object]], file_format: str) -> bytes:
    cells = [[_cell(value) for value in row] for row in rows]
    if file_format == "xlsx":
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = _("催收监控")
        for row in cells:
            sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    text = io.StringIO()
    csv.writer(text).writerows(cells)
    # With a BOM, Excel opens the Chinese text as UTF-8.
    return text.getvalue().encode("utf-8-sig")


async def export_oversight(
    actor: Actor, filters: OversightFilters, file_format: str
) -> OversightExport:
    report = await oversight(actor, filters)
    refusals = await refusals_in(filters, limit=MAX_REFUSAL_ROWS + 1)
    truncated = len(refusals) > MAX_REFUSAL_ROWS
    refusals = refusals[:MAX_REFUSAL_ROWS]
    rows: list[list[object]] = [
        [_("期间"), f"{filters.date_from.isoformat()} — {filters.date_to.isoformat()}"],
        [
            _("机构"),
            _("催收联系次数"),
            _("联系贷款笔数"),
            _("超时段被拒"),
            _("超次数被拒"),
            _("被拒占比"),
        ],
    ]
    for row in (*report.institutions, report.totals):
        rows.append(
            [
                row.institution_name,
                row.contacts,
                row.loans_contacted,
                row.refused_outside_hours,
                row.refused_over_cap,
                format_rate(row.refused_share),
            ]
        )
    rows += [[], [_("尝试时间"), _("机构"), _("贷款编号"), _("操作人"), _("联系时间"), _("原因")]]
    for refusal in refusals:
        rows.append(
            [
                refusal.attempted_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
                refusal.institution_name,
                refusal.loan_id,
                refusal.staff_name,
                refusal.contact_time.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
                refusal.reason_label,
            ]
        )
    if truncated:
        rows.append([_("仅导出前 {n} 条被拒记录，请缩小筛选范围", n=MAX_REFUSAL_ROWS)])
    async with transaction():
        await audit(
            actor,
            "collection.export",
            "collection_report",
            f"{filters.date_from.isoformat()}..{filters.date_to.isoformat()}",
            filters=filters.as_query(),
            rows=len(report.institutions) + len(refusals),
            format=file_format,
        )
    return OversightExport(
        filename=f"collections.{file_format}",
        media_type=MEDIA_TYPES[file_format],
        content=_table(rows, file_format),
    )
