"""Loan spreadsheets: the repayment file an institution uploads (CSV or .xlsx) read into
checked rows with row-level errors, its template, and the loan list export.

The reader never raises on what it is given: a file it cannot read is one file error, a
cell it cannot use is one row error (row number as the spreadsheet shows it, column,
message). Formula cells are refused, never evaluated."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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
from marketplace.spreadsheets import (
    FORMULA_START,
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
MAX_ROWS = 5_000
MAX_CELL_LENGTH = 100
MAX_EXPORT_ROWS = 10_000

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


def _row(number: int, cells: dict[str, str]) -> FileRow | list[RowError]:
    errors: list[RowError] = []

    def fail(column: str, message: str) -> None:
        errors.append(RowError(number, _(column), message))

    for column, value in cells.items():
        if value.startswith(FORMULA_START):
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
    if refusal := upload_refusal(filename, content):
        return _refused(refusal)
    rows: list[FileRow] = []
    errors: list[RowError] = []
    try:
        source = rows_of(content)
        header = next(source, None)
        columns = (
            header_map(header, {_(column): column for column in COLUMNS}, COLUMNS)
            if header is not None
            else None
        )
        if columns is None:
            return _refused(
                _(
                    "第一行应为列名：{columns}",
                    columns="、".join(_(column) for column in COLUMNS),
                )
            )
        count = 0
        for number, raw in enumerate(source, start=2):
            if not any(cell_text(cell) for cell in raw):
                continue
            count += 1
            if count > MAX_ROWS:
                return _refused(_("每个文件最多 {n} 行，请分批上传", n=MAX_ROWS))
            cells = {
                column: cell_text(raw[index]) if index < len(raw) else ""
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


def repayment_template(file_format: str) -> bytes:
    """The upload template: the column names, nothing else (an example row would be
    recorded if uploaded as it is)."""
    return spreadsheet(file_format, _("还款记录"), [_(column) for column in COLUMNS], [])


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
    return export_file(
        file_format, "loans", _("贷款"), headers, rows, limit=MAX_EXPORT_ROWS, truncated=truncated
    )
