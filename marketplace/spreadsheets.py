"""Reading and writing the spreadsheets institutions exchange with us (CSV or .xlsx).

Reading never evaluates anything: a formula cell reads as its text ("=…"). Writing
prefixes text that a spreadsheet would run as a formula with an apostrophe."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook, load_workbook

from marketplace.i18n import _

# What an upload may weigh (the message below says so).
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
MEDIA_TYPES = {"xlsx": XLSX_MEDIA_TYPE, "csv": CSV_MEDIA_TYPE}
FORMATS = ("xlsx", "csv")
# An .xlsx is a zip: refuse one that inflates past this (a zip bomb) before reading it.
MAX_XLSX_INFLATED = 40 * 1024 * 1024
# A spreadsheet runs a cell that starts like a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class UnreadableFile(ValueError):
    """Not a spreadsheet we read: the caller says so in one message."""


def is_xlsx(content: bytes) -> bool:
    return content.startswith(b"PK\x03\x04")


def is_legacy_xls(filename: str, content: bytes) -> bool:
    return filename.lower().endswith(".xls") or content.startswith(b"\xd0\xcf\x11\xe0")


def upload_refusal(filename: str, content: bytes) -> str:
    """Why an uploaded file is refused before it is read, or "" to read it."""
    if not content:
        return _("文件是空的")
    if len(content) > MAX_UPLOAD_BYTES:
        return _("文件不能超过 2 MB")
    if is_legacy_xls(filename, content):
        return _("不支持旧版 .xls 文件，请另存为 .xlsx 或 CSV")
    return ""


def header_map(
    header: tuple[Any, ...], columns: Mapping[str, str], required: Collection[str]
) -> dict[str, int] | None:
    """Where each column is (any order), by its heading: `columns` maps the translated
    heading to the column's key. None when a `required` key has no column."""
    names = [cell_text(cell) for cell in header]
    found = {columns[name]: i for i, name in enumerate(names) if name in columns}
    return found if all(key in found for key in required) else None


def xlsx_rows(content: bytes) -> Iterator[tuple[Any, ...]]:
    """The first sheet's rows; formula cells as their text."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_INFLATED:
            raise UnreadableFile("inflates too far")
    book = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows():
            yield tuple(
                ("=" + str(cell.value).lstrip("="))
                if getattr(cell, "data_type", "") == "f"
                else cell.value
                for cell in row
            )
    finally:
        book.close()


def csv_rows(content: bytes) -> Iterator[tuple[Any, ...]]:
    """UTF-8 (with or without a BOM) or GB18030, as Excel in China saves CSV."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UnreadableFile("encoding")
    yield from (tuple(row) for row in csv.reader(io.StringIO(text)))


def rows_of(content: bytes) -> Iterator[tuple[Any, ...]]:
    return xlsx_rows(content) if is_xlsx(content) else csv_rows(content)


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value).strip()


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _xlsx(title: str, headers: list[str], rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append(headers)
    for row in rows:
        sheet.append([safe_cell(cell) for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _csv(headers: list[str], rows: list[list[object]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    # With a BOM, Excel opens the Chinese text as UTF-8.
    return text.getvalue().encode("utf-8-sig")


def spreadsheet(
    file_format: str, title: str, headers: list[str], rows: list[list[object]]
) -> bytes:
    return _xlsx(title, headers, rows) if file_format == "xlsx" else _csv(headers, rows)


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    content: bytes
    rows: int


def export_file(
    file_format: str,
    filename: str,
    title: str,
    headers: list[str],
    cells: list[list[object]],
    *,
    limit: int,
    truncated: bool,
) -> Export:
    """A staff export of `cells` (at most `limit` rows, already cut), saying so in a last
    row when the filters matched more."""
    rows = len(cells)
    if truncated:
        cells = [*cells, [_("仅导出前 {n} 条，请缩小筛选范围后分批导出", n=limit)]]
    return Export(
        filename=f"{filename}.{file_format}",
        media_type=MEDIA_TYPES[file_format],
        content=spreadsheet(file_format, title, headers, cells),
        rows=rows,
    )
