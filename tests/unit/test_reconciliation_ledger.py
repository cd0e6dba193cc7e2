"""A ledger row is checked without ever raising, whatever text it is given; the period
parser takes only ASCII YYYY-MM not after this month; the file reader turns any bytes
into rows or one clear error."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.parsing import FieldError
from marketplace.reconciliation.files import read_ledger_file
from marketplace.reconciliation.ledger import (
    ReportRow,
    check_row,
    current_period,
    next_period,
    parse_period,
    previous_period,
)

PERIOD = date(2026, 10, 1)


@given(
    st.dictionaries(
        st.sampled_from(["application_reference", "principal", "disbursed_on", "loan_number"]),
        st.text(),
    )
)
def test_check_row_answers_a_row_or_errors_for_any_text(values):
    checked = check_row(2, values, PERIOD)
    if isinstance(checked, ReportRow):
        assert checked.principal > 0
        assert PERIOD <= checked.disbursed_on < next_period(PERIOD)
        assert 1 <= len(checked.application_reference) <= 64
    else:
        assert checked and all(error.message for error in checked)


@given(st.binary(max_size=2000), st.sampled_from(["a.csv", "a.xlsx", "a.xls", ""]))
def test_read_ledger_file_never_raises(content, filename):
    parsed = read_ledger_file(filename, content, PERIOD)
    assert parsed.file_error or parsed.rows or parsed.errors


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-00",
        "26-01",
        "２０２６-01",
        "2026-1",
        "2026-01-01",
        "",
        "1999-12",
        "2026\x00-1",
    ],
)
def test_parse_period_refuses_malformed_months(text):
    with pytest.raises(FieldError):
        parse_period(text)


def test_parse_period_takes_this_and_past_months_only():
    this = current_period()
    assert parse_period(f"{this:%Y-%m}") == this
    assert parse_period("2026-01") == date(2026, 1, 1)
    with pytest.raises(FieldError):
        parse_period(f"{next_period(this):%Y-%m}")
    assert previous_period(date(2026, 1, 1)) == date(2025, 12, 1)
    assert next_period(date(2026, 12, 1)) == date(2027, 1, 1)
