"""One row of an institution's disbursement ledger, checked the same way whether it comes
from a file, the console's form or the Open API; and the period (a Shanghai month)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from marketplace.i18n import N_, _
from marketplace.loancalc import today_shanghai
from marketplace.parsing import FieldError, first, parse_date, parse_money, parse_text

REFERENCE_MAX_LENGTH = 64
LOAN_NUMBER_MAX_LENGTH = 64
# One report: a month of one institution's disbursements.
MAX_ROWS = 5_000

# field -> its label (the file's column name)
FIELDS: dict[str, str] = {
    "application_reference": N_("申请编号"),
    "principal": N_("放款金额"),
    "disbursed_on": N_("放款日期"),
    "loan_number": N_("机构借据号"),
}
REQUIRED_FIELDS = ("application_reference", "principal", "disbursed_on")

_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True)
class ReportRow:
    number: int  # the row as the sender numbers it (spreadsheet row, or 1-based item)
    application_reference: str
    principal: Decimal
    disbursed_on: date
    loan_number: str = ""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    column: str  # the field's label, translated
    message: str


def current_period() -> date:
    return today_shanghai().replace(day=1)


def previous_period(period: date) -> date:
    return (period.replace(day=1) - timedelta(days=1)).replace(day=1)


def next_period(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def parse_period(raw: Any) -> date:
    """ "YYYY-MM" (ASCII digits) → the first day of that month, not after this month."""
    text = first(raw).strip()
    match = _PERIOD.fullmatch(text) if len(text) == 7 else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise FieldError(_("请填写正确的对账月份，如 2026-11"))
    period = date(int(match.group(1)), int(match.group(2)), 1)
    if period > current_period():
        raise FieldError(_("对账月份不能晚于本月"))
    return period


def period_or_default(raw: Any) -> date:
    """For query strings: a malformed or future month means the last ended month."""
    try:
        return parse_period(raw)
    except FieldError:
        return previous_period(current_period())


def period_text(period: date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


def normalise_reference(text: str) -> str:
    """Full-width letters and digits (typed with a Chinese input method) as ASCII."""
    return unicodedata.normalize("NFKC", text).strip()


def check_row(number: int, values: Mapping[str, Any], period: date) -> ReportRow | list[RowError]:
    """The row's values (raw text) checked; every field's error at once. A reference that
    looks like a formula is kept as text: it is only compared, never evaluated."""
    errors: list[RowError] = []

    def fail(name: str, message: str) -> None:
        errors.append(RowError(number, name, _(FIELDS[name]), message))

    parsed: dict[str, Any] = {}
    parsers = {
        "application_reference": lambda raw: normalise_reference(
            parse_text(
                raw,
                label=_(FIELDS["application_reference"]),
                max_length=REFERENCE_MAX_LENGTH,
                min_length=1,
            )
        ),
        "principal": lambda raw: parse_money(
            raw, label=_(FIELDS["principal"]), minimum=Decimal("0.01")
        ),
        "disbursed_on": lambda raw: parse_date(
            first(raw).strip().replace("/", "-"), label=_(FIELDS["disbursed_on"])
        ),
        "loan_number": lambda raw: parse_text(
            raw, label=_(FIELDS["loan_number"]), max_length=LOAN_NUMBER_MAX_LENGTH
        ),
    }
    for name, parse in parsers.items():
        try:
            parsed[name] = parse(values.get(name))
        except FieldError as exc:
            fail(name, exc.message)
    on = parsed.get("disbursed_on")
    if on is not None and not period <= on < next_period(period):
        fail("disbursed_on", _("放款日期应在对账月份 {period} 内", period=period_text(period)))
    if errors:
        return errors
    return ReportRow(number=number, **parsed)


def check_rows(
    items: Sequence[tuple[int, Mapping[str, Any]]], period: date
) -> tuple[list[ReportRow], list[RowError]]:
    """Every row checked, and a reference given twice refused on its later row."""
    rows: list[ReportRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, values in items:
        checked = check_row(number, values, period)
        if isinstance(checked, list):
            errors.extend(checked)
            continue
        earlier = seen.get(checked.application_reference)
        if earlier is not None:
            errors.append(
                RowError(
                    number,
                    "application_reference",
                    _(FIELDS["application_reference"]),
                    _("与第 {n} 行申请编号重复", n=earlier),
                )
            )
            continue
        seen[checked.application_reference] = number
        rows.append(checked)
    return rows, errors
