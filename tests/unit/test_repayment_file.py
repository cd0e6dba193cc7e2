"""The repayment file reader and the calendar's month parameter take whatever arrives:
they answer with errors or a default, never an exception."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from marketplace.loans.files import COLUMNS, read_repayment_file
from marketplace.loans.queries import month_of

HEADER = ",".join(COLUMNS) + "\n"


@given(st.binary(max_size=4096))
def test_any_bytes_are_a_file_error_or_rows(content: bytes) -> None:
    parsed = read_repayment_file("x.csv", content)
    assert parsed.file_error or parsed.rows or parsed.errors


@given(st.lists(st.lists(st.text(max_size=30), min_size=0, max_size=7), max_size=20))
def test_any_cells_under_the_header_give_row_errors_not_exceptions(rows) -> None:
    body = "\n".join(",".join(f'"{c.replace(chr(34), "")}"' for c in row) for row in rows)
    parsed = read_repayment_file("x.csv", (HEADER + body).encode("utf-8", "surrogatepass"))
    for error in parsed.errors:
        assert error.row >= 2 and error.column and error.message


def test_a_good_row_is_read_with_its_kind_and_reference() -> None:
    parsed = read_repayment_file(
        "x.csv", (HEADER + "LMT1,2026-01-31,1,200.50,部分,SN-1\n").encode()
    )
    assert parsed.errors  # a stray comma shifts the cells: 类型 reads "200.50" and is refused
    parsed = read_repayment_file("x.csv", (HEADER + "LMT1,2026/01/31,1200.50,部分,SN-1\n").encode())
    (row,) = parsed.rows
    assert (row.loan_reference, row.report.paid_on, str(row.report.amount)) == (
        "LMT1",
        date(2026, 1, 31),
        "1200.50",
    )
    assert (str(row.report.kind), row.report.reference) == ("partial", "SN-1")


@given(st.text(max_size=12))
def test_month_of_any_text_is_a_first_of_month_in_range(raw: str) -> None:
    month = month_of(raw, date(2026, 11, 30))
    assert month.day == 1 and 2000 <= month.year <= 2100


def test_month_of_reads_year_and_month_only() -> None:
    today = date(2026, 11, 30)
    assert month_of("2027-02", today) == date(2027, 2, 1)
    for bad in ("2027-13", "2027-2", "２０２７-０２", "1999-12", "2101-01", "2027-02-01", ""):
        assert month_of(bad, today) == date(2026, 11, 1), bad
