"""The repayment rules of one loan, as pure functions over its instalments (no database),
so the services and the property tests run the same code.

* Allocation: a payment goes to the oldest open instalment first, and within one
  instalment to fees, then interest, then principal; what is left moves to the next one
  (paying ahead is allowed). More than everything still owed is refused.
* Early settlement (the cost engine has no rule, so this is ours, the common one in China):
  everything of the instalments due on or before the settlement date, plus the whole of
  the current period (the first instalment not yet due: its interest and fee too), plus the
  remaining principal of later periods. Their interest and fees are not charged.
* Days past due on a business date: days since the due date of the oldest instalment still
  open whose due date has passed (paying on the due date itself is on time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from marketplace.loans.statuses import InstalmentStatus
from marketplace.money import to_fen

ZERO = Decimal("0.00")
OPEN = frozenset({InstalmentStatus.PENDING, InstalmentStatus.PARTIAL})


@dataclass
class Line:
    """One instalment as the rules see it; `apply_*` change it in place."""

    number: int
    due_on: date
    principal_due: Decimal
    interest_due: Decimal
    fee_due: Decimal
    principal_paid: Decimal = ZERO
    interest_paid: Decimal = ZERO
    fee_paid: Decimal = ZERO
    paid_on: date | None = None
    status: InstalmentStatus = InstalmentStatus.PENDING

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def remaining(self) -> Decimal:
        return (
            self.principal_due
            + self.interest_due
            + self.fee_due
            - self.principal_paid
            - self.interest_paid
            - self.fee_paid
        )

    @property
    def principal_left(self) -> Decimal:
        return self.principal_due - self.principal_paid


def lines_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Line]:
    """Instalment rows (loan_instalment columns) as the rules see them."""
    return [
        Line(
            number=row["number"],
            due_on=row["due_on"],
            principal_due=row["principal_due"],
            interest_due=row["interest_due"],
            fee_due=row["fee_due"],
            principal_paid=row["principal_paid"],
            interest_paid=row["interest_paid"],
            fee_paid=row["fee_paid"],
            paid_on=row["paid_on"],
            status=InstalmentStatus(row["status"]),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Allocation:
    principal: Decimal = ZERO
    interest: Decimal = ZERO
    fee: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fee


def open_lines(lines: list[Line]) -> list[Line]:
    return sorted((line for line in lines if line.is_open), key=lambda line: line.number)


def outstanding(lines: list[Line]) -> Decimal:
    """Everything still owed under the plan (future interest included)."""
    return sum((line.remaining for line in open_lines(lines)), ZERO)


def principal_outstanding(lines: list[Line]) -> Decimal:
    return sum((line.principal_left for line in open_lines(lines)), ZERO)


def _current_period(lines: list[Line], on: date) -> Line | None:
    return next((line for line in open_lines(lines) if line.due_on > on), None)


def settlement_amount(lines: list[Line], on: date) -> Decimal:
    """What settles the loan on `on` (module docstring)."""
    current = _current_period(lines, on)
    total = ZERO
    for line in open_lines(lines):
        if line.due_on <= on or line is current:
            total += line.remaining
        else:
            total += line.principal_left
    return to_fen(total)


def _close(line: Line, on: date, status: InstalmentStatus) -> None:
    line.status = status
    line.paid_on = on


def apply_payment(lines: list[Line], amount: Decimal, on: date) -> Allocation:
    """Allocate `amount` oldest instalment first, fees → interest → principal."""
    if amount > outstanding(lines):
        raise ValueError("over-payment")
    left = to_fen(amount)
    parts = {"fee": ZERO, "interest": ZERO, "principal": ZERO}
    for line in open_lines(lines):
        if left <= 0:
            break
        for part in ("fee", "interest", "principal"):
            owed = getattr(line, f"{part}_due") - getattr(line, f"{part}_paid")
            take = min(owed, left)
            if take > 0:
                setattr(line, f"{part}_paid", getattr(line, f"{part}_paid") + take)
                parts[part] += take
                left -= take
        if line.remaining == 0:
            _close(line, on, InstalmentStatus.PAID)
        elif line.remaining < line.principal_due + line.interest_due + line.fee_due:
            line.status = InstalmentStatus.PARTIAL
    return Allocation(**parts)


def apply_settlement(lines: list[Line], on: date) -> Allocation:
    """Close every open instalment as `settlement_amount` charges it."""
    current = _current_period(lines, on)
    principal = interest = fee = ZERO
    for line in open_lines(lines):
        principal += line.principal_left
        line.principal_paid = line.principal_due
        if line.due_on <= on or line is current:
            interest += line.interest_due - line.interest_paid
            fee += line.fee_due - line.fee_paid
            line.interest_paid, line.fee_paid = line.interest_due, line.fee_due
            _close(line, on, InstalmentStatus.PAID)
        else:
            # Not charged: what is due becomes what was paid, so the plan still adds up.
            line.interest_due, line.fee_due = line.interest_paid, line.fee_paid
            _close(line, on, InstalmentStatus.SETTLED_EARLY)
    return Allocation(principal=principal, interest=interest, fee=fee)


def days_past_due(lines: list[Line], business_date: date) -> int:
    overdue = [line.due_on for line in open_lines(lines) if line.due_on < business_date]
    return (business_date - min(overdue)).days if overdue else 0


def all_paid(lines: list[Line]) -> bool:
    return not open_lines(lines)


def any_paid(lines: list[Line]) -> bool:
    return any(line.status is not InstalmentStatus.PENDING for line in lines)
