"""Ledger spreadsheets: the file an institution uploads (CSV or .xlsx) read into checked
rows with every bad row's number and reason, its template, and the export of a period's
matching.

The reader never raises on what it is given: a file it cannot read is one file error, a
cell it cannot use is one row error. Formula cells are read as their text, never
evaluated: in the reference column such text is kept (it matches no loan); in an amount
or a date it is an error. Exports write such text with a leading apostrophe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from marketplace.actors import Actor
from marketplace.i18n import _
from marketplace.reconciliation.ledger import (
    FIELDS,
    MAX_ROWS,
    REQUIRED_FIELDS,
    ReportRow,
    RowError,
    check_rows,
    period_text,
)
from marketplace.reconciliation.queries import (
    ReconciliationRow,
    RowFilters,
    institution_in_view,
    rows_for_export,
)
from marketplace.reconciliation.services import record_export
from marketplace.spreadsheets import (
    MAX_UPLOAD_BYTES,
    Export,
    cell_text,
    export_file,
    header_map,
    rows_of,
    spreadsheet,
    upload_refusal,
)

MAX_FILE_BYTES = MAX_UPLOAD_BYTES
# A cell longer than this is refused before any parsing (a 20k-character cell).
MAX_CELL_LENGTH = 200
MAX_EXPORT_ROWS = 10_000


@dataclass(frozen=True)
class ParsedLedger:
    rows: tuple[ReportRow, ...]
    errors: tuple[RowError, ...]
    file_error: str = ""  # the file as a whole is unusable: nothing else was read


def _refused(message: str) -> ParsedLedger:
    return ParsedLedger(rows=(), errors=(), file_error=message)


def read_ledger_file(filename: str, content: bytes, period: date) -> ParsedLedger:
    """Every row of an uploaded ledger, checked on its own and against the others (a
    reference twice is an error on its later row)."""
    if refusal := upload_refusal(filename, content):
        return _refused(refusal)
    items: list[tuple[int, dict[str, str]]] = []
    too_long: list[RowError] = []
    try:
        source = rows_of(content)
        header = next(source, None)
        headings = {_(label): name for name, label in FIELDS.items()}
        columns = header_map(header, headings, REQUIRED_FIELDS) if header is not None else None
        if columns is None:
            return _refused(
                _(
                    "第一行应为列名：{columns}（{optional}可选）",
                    columns="、".join(_(FIELDS[name]) for name in REQUIRED_FIELDS),
                    optional=_(FIELDS["loan_number"]),
                )
            )
        for number, raw in enumerate(source, start=2):
            if not any(cell_text(cell) for cell in raw):
                continue
            if len(items) + len({e.row for e in too_long}) >= MAX_ROWS:
                return _refused(_("每个文件最多 {n} 行", n=MAX_ROWS))
            cells = {
                name: cell_text(raw[index]) if index < len(raw) else ""
                for name, index in columns.items()
            }
            long_cells = [name for name, text in cells.items() if len(text) > MAX_CELL_LENGTH]
            if long_cells:
                too_long.extend(
                    RowError(
                        number,
                        name,
                        _(FIELDS[name]),
                        _("内容过长（最多{n}个字）", n=MAX_CELL_LENGTH),
                    )
                    for name in long_cells
                )
                continue
            items.append((number, cells))
    except Exception:  # noqa: BLE001 - any unreadable file is one clear error, never a 500
        return _refused(_("无法读取该文件，请上传模板格式的 .xlsx 或 CSV（UTF-8）文件"))
    if not items and not too_long:
        return _refused(_("文件中没有放款记录"))
    rows, errors = check_rows(items, period)
    return ParsedLedger(
        rows=tuple(rows), errors=tuple(sorted((*errors, *too_long), key=lambda e: e.row))
    )


def ledger_template(file_format: str) -> bytes:
    """The upload template: the column names, nothing else (an example row would be
    recorded if uploaded as it is)."""
    return spreadsheet(file_format, _("放款台账"), [_(label) for label in FIELDS.values()], [])


def _cells(row: ReconciliationRow) -> list[object]:
    return [
        row.reference,
        row.outcome_label,
        row.reported_principal,
        row.reported_on.isoformat() if row.reported_on else "",
        row.platform_principal,
        row.platform_on.isoformat() if row.platform_on else "",
        row.difference,
        row.loan_number,
        row.state_label,
        row.note,
        row.resolver_label,
    ]


async def export_rows(
    actor: Actor, institution_id: int | None, period: date, filters: RowFilters, file_format: str
) -> Export:
    """The filtered rows of the period's matching (every page) as a file; audited."""
    institution = institution_in_view(actor, institution_id)
    rows = await rows_for_export(actor, institution, period, filters, MAX_EXPORT_ROWS + 1)
    truncated = len(rows) > MAX_EXPORT_ROWS
    rows = rows[:MAX_EXPORT_ROWS]
    await record_export(actor, institution, period, filters.as_query(), len(rows), file_format)
    headers = [
        _("申请编号"),
        _("对账结果"),
        _("机构报送金额（元）"),
        _("机构报送放款日期"),
        _("平台放款金额（元）"),
        _("平台放款日期"),
        _("差额（元）"),
        _("机构借据号"),
        _("处理状态"),
        _("处理说明"),
        _("处理人"),
    ]
    return export_file(
        file_format,
        f"reconciliation-{period_text(period)}",
        _("放款对账"),
        headers,
        [_cells(row) for row in rows],
        limit=MAX_EXPORT_ROWS,
        truncated=truncated,
    )
