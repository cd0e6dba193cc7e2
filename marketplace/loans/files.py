"""Loan spreadsheets: the repayment file an institution uploads (CSV or .xlsx) read into
checked rows with row-level errors, its template, and the loan list export.

The reader never raises on what it is given: a file it cannot read is one file error, a
cell it cannot use is one row error (row number as the spreadsheet shows it, column,
message). Formula cells are refused, never evaluated."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook, load_workbook

from marketplace.actors import Actor
from marketplace.errors import DomainError
from marketplace.i18n import N_, _
from marketplace.loans.portfolio import LoanFilters, LoanRow, loan_rows_for_export
from marketplace.loans.services import (
    FileRow,
    RowError,
    record_loan_export,
    repayment_report,
)
from marketplace.loans.statuses import RepaymentKind
from marketplace.parsing import FieldError, parse_date, parse_money, parse_text

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5_000
# An .xlsx is a zip: refuse one that inflates past this (a zip bomb) before reading it.
MAX_XLSX_INFLATED = 40 * 1024 * 1024
MAX_CELL_LENGTH = 100
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
MEDIA_TYPES = {"xlsx": XLSX_MEDIA_TYPE, "csv": CSV_MEDIA_TYPE}
FORMATS = ("xlsx", "csv")
MAX_EXPORT_ROWS = 10_000
# A spreadsheet runs a cell that starts like a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

LOAN_REFERENCE = N_("借款编号")
PAID_ON = N_("还款日期")
AMOUNT = N_("金额")
KIND = N_("类型")
REFERENCE = N_("流水号")
COLUMNS = (LOAN_REFERENCE, PAID_ON, AMOUNT, KIND, REFERENCE)
# What an institution may type in 类型 (the template's words, the console's, and the codes):
# matched as typed in Chinese, whatever the page's language.
KIND_WORDS: dict[str, RepaymentKind] = {
    N_("正常"): RepaymentKind.INSTALMENT,
    N_("按期还款"): RepaymentKind.INSTALMENT,
    N_("部分"): RepaymentKind.PARTIAL,
    N_("部分还款"): RepaymentKind.PARTIAL,
    N_("提前结清"): RepaymentKind.EARLY_SETTLEMENT,
    **{str(kind): kind for kind in RepaymentKind},
}


@dataclass(frozen=True)
class ParsedFile:
    rows: tuple[FileRow, ...]
    errors: tuple[RowError, ...]
    file_error: str = ""  # the file as a whole is unusable: nothing else was read


def _refused(message: str) -> ParsedFile:
    return ParsedFile(rows=(), errors=(), file_error=message)


def _xlsx_rows(content: bytes) -> Iterator[tuple[Any, ...]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_INFLATED:
            raise ValueError("inflates too far")
    book = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows():
            yield tuple(
                # A formula cell reads as its text; the cell check refuses it.
                ("=" + str(cell.value).lstrip("="))
                if getattr(cell, "data_type", "") == "f"
                else cell.value
                for cell in row
            )
    finally:
        book.close()


def _csv_rows(content: bytes) -> Iterator[tuple[Any, ...]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError("encoding")
    yield from (tuple(row) for row in csv.reader(io.StringIO(text)))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value).strip()


def _header_map(header: tuple[Any, ...]) -> dict[str, int] | None:
    names = [_text(cell) for cell in header]
    wanted = {_(column): column for column in COLUMNS}
    found = {wanted[name]: i for i, name in enumerate(names) if name in wanted}
    return found if len(found) == len(COLUMNS) else None


def _row(number: int, cells: dict[str, str]) -> FileRow | list[RowError]:
    errors: list[RowError] = []

    def fail(column: str, message: str) -> None:
        errors.append(RowError(number, _(column), message))

    for column, value in cells.items():
        if value.startswith(_FORMULA_START):
            fail(column, _("不接受公式或以 = + - @ 开头的内容"))
        elif len(value) > MAX_CELL_LENGTH:
            fail(column, _("内容过长（最多{n}个字）", n=MAX_CELL_LENGTH))
    if errors:
        return errors
    values: dict[str, Any] = {}
    parsers = {
        LOAN_REFERENCE: lambda raw: parse_text(
            raw, label=_(LOAN_REFERENCE), max_length=24, min_length=1
        ),
        PAID_ON: lambda raw: parse_date(raw.replace("/", "-"), label=_(PAID_ON)),
        AMOUNT: lambda raw: parse_money(raw, label=_(AMOUNT), minimum=Decimal("0.01")),
    }
    for column, parse in parsers.items():
        try:
            values[column] = parse(cells[column])
        except FieldError as exc:
            fail(column, exc.message)
    kind = KIND_WORDS.get(cells[KIND])
    if kind is None:
        fail(KIND, _("类型应为：正常、部分或提前结清"))
    if errors:
        return errors
    try:
        report = repayment_report(
            values[AMOUNT],
            values[PAID_ON],
            str(kind),
            parse_text(cells[REFERENCE], label=_(REFERENCE), max_length=MAX_CELL_LENGTH),
        )
    except (DomainError, FieldError) as exc:
        column = {"paid_on": PAID_ON, "amount": AMOUNT, "kind": KIND}.get(
            getattr(exc, "field", "") or "", REFERENCE
        )
        return [RowError(number, _(column), exc.message)]
    return FileRow(number=number, loan_reference=values[LOAN_REFERENCE], report=report)


def read_repayment_file(filename: str, content: bytes) -> ParsedFile:
    """Every row of an uploaded repayment file, checked on its own (the loans are checked
    when the file is recorded)."""
    if not content:
        return _refused(_("文件是空的"))
    if len(content) > MAX_FILE_BYTES:
        return _refused(_("文件不能超过 2 MB"))
    is_xlsx = content.startswith(b"PK\x03\x04")
    if filename.lower().endswith(".xls") or content.startswith(b"\xd0\xcf\x11\xe0"):
        return _refused(_("不支持旧版 .xls 文件，请另存为 .xlsx 或 CSV"))
    rows: list[FileRow] = []
    errors: list[RowError] = []
    try:
        source = _xlsx_rows(content) if is_xlsx else _csv_rows(content)
        header = next(source, None)
        columns = _header_map(header) if header is not None else None
        if columns is None:
            return _refused(
                _(
                    "第一行应为列名：{columns}",
                    columns="、".join(_(column) for column in COLUMNS),
                )
            )
        count = 0
        for number, raw in enumerate(source, start=2):
            if not any(_text(cell) for cell in raw):
                continue
            count += 1
            if count > MAX_ROWS:
                return _refused(_("每个文件最多 {n} 行，请分批上传", n=MAX_ROWS))
            cells = {
                column: _text(raw[index]) if index < len(raw) else ""
                for column, index in columns.items()
            }
            parsed = _row(number, cells)
            if isinstance(parsed, FileRow):
                rows.append(parsed)
            else:
                errors.extend(parsed)
    except Exception:  # noqa: BLE001 - any unreadable file is one clear error, never a 500
        return _refused(_("无法读取该文件，请上传模板格式的 .xlsx 或 CSV（UTF-8）文件"))
    if not rows and not errors:
        return _refused(_("文件中没有还款记录"))
    return ParsedFile(rows=tuple(rows), errors=tuple(errors))


def _safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _xlsx(title: str, headers: list[str], rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append(headers)
    for row in rows:
        sheet.append([_safe(cell) for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _csv(headers: list[str], rows: list[list[object]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_safe(cell) for cell in row])
    # With a BOM, Excel opens the Chinese text as UTF-8.
    return text.getvalue().encode("utf-8-sig")


def spreadsheet(
    file_format: str, title: str, headers: list[str], rows: list[list[object]]
) -> bytes:
    return _xlsx(title, headers, rows) if file_format == "xlsx" else _csv(headers, rows)


def repayment_template(file_format: str) -> bytes:
    """The upload template: the column names, nothing else (an example row would be
    recorded if uploaded as it is)."""
    return spreadsheet(file_format, _("还款记录"), [_(column) for column in COLUMNS], [])


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    content: bytes
    rows: int


def _export_cells(loan: LoanRow) -> list[object]:
    return [
        loan.reference,
        loan.product_name,
        loan.principal,
        loan.principal_outstanding,
        loan.term_months,
        loan.disbursed_on.isoformat(),
        loan.status_label,
        loan.dpd,
        loan.bucket_label,
        loan.next_due_on.isoformat() if loan.next_due_on else "",
    ]


async def export_loans(actor: Actor, filters: LoanFilters, file_format: str) -> Export:
    """The filtered loans (every page) as a file, audited with filters and row count. No
    personal data: loans carry none beyond the masked account, which is left out."""
    loans = await loan_rows_for_export(actor, filters, limit=MAX_EXPORT_ROWS + 1)
    truncated = len(loans) > MAX_EXPORT_ROWS
    loans = loans[:MAX_EXPORT_ROWS]
    await record_loan_export(actor, filters.as_query(), len(loans), file_format)
    headers = [
        _("借款编号"),
        _("产品"),
        _("放款金额（元）"),
        _("剩余本金（元）"),
        _("期限（月）"),
        _("放款日期"),
        _("状态"),
        _("逾期天数"),
        _("逾期分组"),
        _("下一还款日"),
    ]
    rows = [_export_cells(loan) for loan in loans]
    if truncated:
        rows.append([_("仅导出前 {n} 条，请缩小筛选范围后分批导出", n=MAX_EXPORT_ROWS)])
    return Export(
        filename=f"loans.{file_format}",
        media_type=MEDIA_TYPES[file_format],
        content=spreadsheet(file_format, _("贷款"), headers, rows),
        rows=len(loans),
    )
