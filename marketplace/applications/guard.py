"""The over-indebtedness guard (PRODUCT.md §6.6), checked before an application is sent.

Two rules, both set by system parameters:

- **Debt-to-income warning.** The new loan's monthly payment (from the cost engine, for
  the amount, term and method chosen) plus the monthly payments of the borrower's active
  loans tracked here, over the monthly income the borrower states: above
  `dti_warning_ratio` the form warns, and the borrower may still send it after saying
  they have read the warning.
- **Cooling-off pause.** After `cooling_off_applications` applications within
  `cooling_off_days` days, no more until the oldest of them leaves the window; the
  refusal names that moment.

A "monthly payment" is the larger of the next instalment and the average of what is left
to pay per month: the same figure as the instalment for 等额本息, the first and highest for
等额本金, and a balloon (先息后本, 到期一次还本付息) spread over its months rather than
ignored until it falls due.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from marketplace.applications.tables import Application
from marketplace.i18n import _
from marketplace.loancalc import SHANGHAI, Quote, quote
from marketplace.money import to_fen
from marketplace.parameters.services import get_parameters

GUARD_PARAMETERS = ("dti_warning_ratio", "cooling_off_applications", "cooling_off_days")
# The loan context's tables and its states that still owe money, read by name: the loan
# context is built on applications, so importing it here would make a cycle.
ACTIVE_LOAN_STATES = ("disbursed", "repaying", "overdue")
OPEN_INSTALMENT_STATES = ("pending", "partial")


def monthly_payment(dues: Sequence[Decimal]) -> Decimal:
    """What a schedule of remaining monthly dues (next first) costs a month."""
    if not dues:
        return Decimal("0.00")
    return max(to_fen(dues[0]), to_fen(sum(dues, Decimal(0)) / len(dues)))


def new_loan_payment(plan: Quote) -> Decimal:
    return monthly_payment([installment.payment for installment in plan.schedule])


def product_quote(product: dict, amount: Decimal, term_months: int, method: str) -> Quote:
    """The cost engine's plan for this product's price at the borrower's choices."""
    fees = product["fees"]
    return quote(
        amount,
        term_months,
        method,
        product["rate"],
        product["rate_period"],
        json.loads(fees) if isinstance(fees, str) else fees,
    )


@dataclass(frozen=True)
class DebtToIncome:
    new_payment: Decimal
    existing_payments: Decimal
    monthly_income: Decimal
    limit: Decimal  # the share of income above which the borrower is warned

    @property
    def total(self) -> Decimal:
        return self.new_payment + self.existing_payments

    @property
    def ratio(self) -> Decimal | None:
        """Payments over income; None without any income (then always over the limit)."""
        if self.monthly_income <= 0:
            return None
        return self.total / self.monthly_income

    @property
    def exceeded(self) -> bool:
        ratio = self.ratio
        return ratio is None or ratio > self.limit

    def warning(self) -> str:
        ratio = self.ratio
        figures = {
            "total": f"{self.total:,.2f}",
            "new": f"{self.new_payment:,.2f}",
            "existing": f"{self.existing_payments:,.2f}",
            "share": _("全部") if ratio is None else f"{ratio * 100:.0f}%",
            "limit": f"{self.limit * 100:.0f}%",
        }
        if not self.existing_payments:
            return _(
                "这笔借款每月需还款约 {total} 元，占月收入的 {share}，超过建议的 {limit}。"
                "过度借贷会加重还款压力，请确认能按时还款后再提交。",
                **figures,
            )
        return _(
            "借款后您每月需还款约 {total} 元（本笔约 {new} 元，在本平台的其他借款约 {existing} 元），"
            "占月收入的 {share}，超过建议的 {limit}。过度借贷会加重还款压力，请确认能按时还款后再提交。",
            **figures,
        )


def cooling_off_end(
    submitted: Iterable[datetime], *, limit: int, days: int, now: datetime
) -> datetime | None:
    """When the pause after `limit` applications within `days` days ends, or None when the
    borrower may apply now."""
    window = timedelta(days=days)
    recent = sorted(at for at in submitted if at > now - window)
    if limit < 1 or len(recent) < limit:
        return None
    return recent[-limit] + window


def cooling_off_message(end: datetime, *, limit: int, days: int) -> str:
    return _(
        "您在{days}天内已提交{limit}次申请。为避免过度借贷，平台暂停您的新申请，"
        "{end} 之后可以再次申请。频繁申请也可能影响您的征信。",
        days=days,
        limit=limit,
        end=end.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
    )


@dataclass(frozen=True)
class GuardSettings:
    dti_warning_ratio: Decimal
    cooling_off_applications: int
    cooling_off_days: int


async def guard_settings() -> GuardSettings:
    return guard_from(await get_parameters(*GUARD_PARAMETERS))


def guard_from(params: Mapping[str, Any]) -> GuardSettings:
    """The guard's settings out of a `get_parameters` answer that includes them."""
    return GuardSettings(
        dti_warning_ratio=Decimal(str(params["dti_warning_ratio"])),
        cooling_off_applications=int(params["cooling_off_applications"]),
        cooling_off_days=int(params["cooling_off_days"]),
    )


# The open instalments of the borrower's tracked loans as JSON pairs [loan, due], next
# first: a scalar subquery, so the submission reads it in the statement that takes the
# borrower's lock (loans do not change with submissions, so its snapshot is good enough).
OPEN_DUES_SQL = (
    "SELECT COALESCE(json_agg(json_build_array(i.loan,"
    " i.principal_due + i.interest_due + i.fee_due) ORDER BY i.loan, i.number), '[]')"
    " FROM loan_instalment i JOIN loan l ON l.id = i.loan"
    " WHERE l.borrower = {} AND l.status = ANY({}) AND i.status = ANY({})"
)


def open_dues_args(borrower_id: int) -> tuple[int, list[str], list[str]]:
    return borrower_id, list(ACTIVE_LOAN_STATES), list(OPEN_INSTALMENT_STATES)


def active_loan_payments(open_dues: str) -> Decimal:
    """The monthly payments of the borrower's loans tracked here that still owe money,
    from `OPEN_DUES_SQL`'s answer."""
    dues: dict[int, list[Decimal]] = defaultdict(list)
    for loan, due in json.loads(open_dues, parse_float=Decimal):
        dues[loan].append(Decimal(due))
    return sum((monthly_payment(schedule) for schedule in dues.values()), Decimal("0.00"))


async def cooling_off_until(borrower_id: int, settings: GuardSettings) -> datetime | None:
    """The end of the borrower's cooling-off pause, or None when they may apply."""
    now = datetime.now(UTC)
    since = now - timedelta(days=settings.cooling_off_days)
    rows = await Application.select(Application.submitted_at).where(
        (Application.borrower == borrower_id) & (Application.submitted_at > since)
    )
    return cooling_off_end(
        (row["submitted_at"] for row in rows),
        limit=settings.cooling_off_applications,
        days=settings.cooling_off_days,
        now=now,
    )


async def recent_applications(borrower_id: int, days: int) -> int:
    """How many applications the borrower sent in the last `days` days."""
    since = datetime.now(UTC) - timedelta(days=days)
    return await Application.count().where(
        (Application.borrower == borrower_id) & (Application.submitted_at > since)
    )


async def cooling_off_notice(borrower_id: int) -> str | None:
    """Said on the application form before anything is typed, when it would be refused."""
    settings = await guard_settings()
    end = await cooling_off_until(borrower_id, settings)
    if end is None:
        return None
    return cooling_off_message(
        end, limit=settings.cooling_off_applications, days=settings.cooling_off_days
    )
