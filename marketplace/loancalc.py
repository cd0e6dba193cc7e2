"""Loan cost engine: repayment schedules, all-in APR by IRR, cost classification.

Pure domain code (no HTTP, no database). Money is `Decimal`, rounded to the fen only
through `marketplace.money.to_fen`.

Conventions
-----------
* Periods are calendar months. Period ``n`` falls due ``n`` months after ``start_date``,
  clamped to the month end (31 Jan + 1 month = 28/29 Feb); ``start_date`` defaults to
  today in Asia/Shanghai.
* The rate is a fraction per ``rate_period``. The monthly rate used for interest is
  ``rate / 12`` for a yearly rate, ``rate`` for a monthly rate and
  ``daily rate × day_count / 12`` for a daily rate (``day_count`` is 360 unless the
  product states 365). So 0.05%/day is 1.5%/month and 18%/year nominal on a 360-day year.
* Interest of a period is the monthly rate on the principal the method charges interest
  on (the outstanding principal; the original principal for ``flat`` / 等本等息), rounded
  to the fen. ``bullet`` charges simple interest for the whole term in the last period.
* The last period absorbs rounding: the principal parts sum exactly to the principal.
* Fees: ``upfront`` fees are paid by the borrower at disbursement (not deducted from the
  principal); ``per_period`` fees are paid with every instalment. A fee is a fixed amount
  per charge or a rate on the ORIGINAL principal per charge.
* APR (PBOC 〔2021〕3号): the periodic IRR ``r`` of the borrower's real cash flows - receives
  ``principal - upfront fees`` at t=0, pays each period's payment (principal + interest +
  fees) at t=1..n - times 12. Under this convention a fee-free 等额本息 loan's APR equals
  its nominal annual rate. ``effective_annual_rate`` is ``(1 + r)^12 - 1``.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from marketplace.i18n import N_, _
from marketplace.money import to_fen

__all__ = [
    "CostLines",
    "CostVerdict",
    "Fee",
    "FeeKind",
    "FeeTiming",
    "Installment",
    "LoanInputError",
    "Quote",
    "RatePeriod",
    "RepaymentMethod",
    "add_months",
    "apr_range",
    "classify_cost",
    "monthly_rate",
    "nominal_annual_rate",
    "periodic_irr",
    "quote",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
MIN_TERM_MONTHS = 1
MAX_TERM_MONTHS = 360
MAX_PRINCIPAL = Decimal("10000000000")  # 100亿: a sanity bound, far above any product
MAX_NOMINAL_ANNUAL_RATE = Decimal("1")  # 100%/year equivalent
DAY_COUNTS = (360, 365)
PERIODS_PER_YEAR = 12
APR_QUANTUM = Decimal("1e-10")  # rates are fractions; 10 places so tiny fees still show

_ZERO = Decimal("0.00")  # fen-scaled zero, so sums and empty parts print as 0.00
_PREC = 34  # decimal digits for intermediate arithmetic, independent of the caller


# --------------------------------------------------------------------------- enums


class RepaymentMethod(StrEnum):
    EQUAL_INSTALLMENT = "equal_installment"
    EQUAL_PRINCIPAL = "equal_principal"
    INTEREST_FIRST = "interest_first"
    BULLET = "bullet"
    FLAT = "flat"

    @property
    def label(self) -> str:
        return _(_METHOD_LABELS[self])


_METHOD_LABELS = {
    RepaymentMethod.EQUAL_INSTALLMENT: N_("等额本息"),
    RepaymentMethod.EQUAL_PRINCIPAL: N_("等额本金"),
    RepaymentMethod.INTEREST_FIRST: N_("先息后本"),
    RepaymentMethod.BULLET: N_("到期一次还本付息"),
    RepaymentMethod.FLAT: N_("等本等息"),
}


class RatePeriod(StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"

    @property
    def label(self) -> str:
        return _(_RATE_PERIOD_LABELS[self])


_RATE_PERIOD_LABELS = {
    RatePeriod.DAY: N_("日"),
    RatePeriod.MONTH: N_("月"),
    RatePeriod.YEAR: N_("年"),
}


class FeeKind(StrEnum):
    SERVICE = "service"
    GUARANTEE = "guarantee"
    INSURANCE = "insurance"
    ARRANGEMENT = "arrangement"

    @property
    def label(self) -> str:
        return _(_FEE_KIND_LABELS[self])


_FEE_KIND_LABELS = {
    FeeKind.SERVICE: N_("服务费"),
    FeeKind.GUARANTEE: N_("担保费"),
    FeeKind.INSURANCE: N_("保险费"),
    FeeKind.ARRANGEMENT: N_("手续费"),
}


class FeeTiming(StrEnum):
    UPFRONT = "upfront"
    PER_PERIOD = "per_period"

    @property
    def label(self) -> str:
        return _(_FEE_TIMING_LABELS[self])


_FEE_TIMING_LABELS = {
    FeeTiming.UPFRONT: N_("放款时一次性收取"),
    FeeTiming.PER_PERIOD: N_("每期收取"),
}


class CostVerdict(StrEnum):
    OK = "ok"
    WARN = "warn"
    BLOCK = "block"

    @property
    def label(self) -> str:
        return _(_VERDICT_LABELS[self])


_VERDICT_LABELS = {
    CostVerdict.OK: N_("正常"),
    CostVerdict.WARN: N_("高于警示线，需风险提示"),
    CostVerdict.BLOCK: N_("超过上限，不得上架"),
}


# --------------------------------------------------------------------------- errors


class LoanInputError(ValueError):
    """Impossible calculator input. ``field`` names the form field, ``message`` is translated."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"LoanInputError(field={self.field!r}, message={self.message!r})"


def _decimal(value: Any, field: str, label: str) -> Decimal:
    """Coerce Decimal/int/str to a finite Decimal; floats are refused (money is never float).
    ``label`` is an `N_()`-marked name of the value, for the error message."""
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool | float) or value is None:
        raise LoanInputError(field, _("{label}格式不正确", label=_(label)))
    elif isinstance(value, int | str):
        try:
            d = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise LoanInputError(field, _("{label}格式不正确", label=_(label))) from None
    else:
        raise LoanInputError(field, _("{label}格式不正确", label=_(label)))
    if not d.is_finite():
        raise LoanInputError(field, _("{label}格式不正确", label=_(label)))
    return d


# --------------------------------------------------------------------------- fees


@dataclass(frozen=True)
class Fee:
    """A fee the borrower pays. Exactly one of ``amount`` (CNY per charge) and ``rate``
    (fraction of the ORIGINAL principal per charge) is set."""

    kind: str
    timing: str
    amount: Decimal | None = None
    rate: Decimal | None = None

    def __post_init__(self) -> None:
        try:
            kind = FeeKind(self.kind)
        except ValueError:
            raise LoanInputError("fees", _("不支持的费用类型")) from None
        try:
            timing = FeeTiming(self.timing)
        except ValueError:
            raise LoanInputError("fees", _("不支持的收费方式")) from None
        if (self.amount is None) == (self.rate is None):
            raise LoanInputError("fees", _("费用须填写固定金额或费率之一"))
        amount = None if self.amount is None else _decimal(self.amount, "fees", N_("费用金额"))
        rate = None if self.rate is None else _decimal(self.rate, "fees", N_("费率"))
        if amount is not None and amount < 0:
            raise LoanInputError("fees", _("费用金额不能为负数"))
        if amount is not None and amount > MAX_PRINCIPAL:
            raise LoanInputError("fees", _("费用金额超出可计算范围"))
        if rate is not None and (rate < 0 or rate > 1):
            raise LoanInputError("fees", _("费率必须在0到100%之间"))
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "timing", timing)
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "rate", rate)

    def charge(self, principal: Decimal) -> Decimal:
        """The amount of one charge of this fee on a loan of ``principal``, in fen."""
        if self.amount is not None:
            return to_fen(self.amount)
        assert self.rate is not None
        return to_fen(principal * self.rate)

    @property
    def label(self) -> str:
        return FeeKind(self.kind).label

    def to_dict(self) -> dict[str, str | None]:
        return {
            "kind": str(self.kind),
            "timing": str(self.timing),
            "amount": None if self.amount is None else str(self.amount),
            "rate": None if self.rate is None else str(self.rate),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Fee:
        def dec(v: Any) -> Any:
            # JSON numbers may arrive as float: go through their shortest repr.
            return Decimal(repr(v)) if isinstance(v, float) else v

        try:
            kind, timing = d["kind"], d["timing"]
        except KeyError as exc:
            raise LoanInputError("fees", _("费用信息不完整")) from exc
        return cls(kind=kind, timing=timing, amount=dec(d.get("amount")), rate=dec(d.get("rate")))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Installment:
    period: int
    due_date: date
    principal: Decimal
    interest: Decimal
    fees: Decimal
    payment: Decimal
    remaining_principal: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "due_date": self.due_date.isoformat(),
            "principal": str(self.principal),
            "interest": str(self.interest),
            "fees": str(self.fees),
            "payment": str(self.payment),
            "remaining_principal": str(self.remaining_principal),
        }


@dataclass(frozen=True)
class Quote:
    principal: Decimal
    term_months: int
    method: RepaymentMethod
    schedule: tuple[Installment, ...]
    upfront_fees: Decimal
    total_interest: Decimal
    total_fees: Decimal  # upfront + periodic
    total_repayment: Decimal  # every payment including upfront fees
    apr: Decimal  # fraction: periodic IRR × 12
    effective_annual_rate: Decimal  # fraction: (1 + periodic IRR)^12 - 1
    monthly_rate: Decimal  # nominal monthly interest rate (fraction), simple interest
    nominal_annual_rate: Decimal  # simple-interest annual equivalent of the quoted rate
    start_date: date
    fees: tuple[Fee, ...] = ()

    @property
    def first_payment(self) -> Decimal:
        return self.schedule[0].payment

    @property
    def max_payment(self) -> Decimal:
        return max(i.payment for i in self.schedule)

    @property
    def net_disbursed(self) -> Decimal:
        """What the borrower really has in hand at t=0: principal minus upfront fees."""
        return self.principal - self.upfront_fees

    @property
    def total_cost(self) -> Decimal:
        """Interest plus every fee."""
        return self.total_interest + self.total_fees

    def to_dict(self) -> dict[str, Any]:
        return {
            "principal": str(self.principal),
            "term_months": self.term_months,
            "method": str(self.method),
            "schedule": [i.to_dict() for i in self.schedule],
            "upfront_fees": str(self.upfront_fees),
            "total_interest": str(self.total_interest),
            "total_fees": str(self.total_fees),
            "total_repayment": str(self.total_repayment),
            "apr": str(self.apr),
            "effective_annual_rate": str(self.effective_annual_rate),
            "monthly_rate": str(self.monthly_rate),
            "nominal_annual_rate": str(self.nominal_annual_rate),
            "start_date": self.start_date.isoformat(),
            "fees": [f.to_dict() for f in self.fees],
        }


@dataclass(frozen=True)
class CostLines:
    """The configured cost lines (system parameters, not literals in code)."""

    block_apr: Decimal = Decimal("0.24")
    lpr_1y: Decimal = Decimal("0.030")
    warn_multiple: Decimal = Decimal("4")

    @property
    def warn_apr(self) -> Decimal:
        return self.lpr_1y * self.warn_multiple


# --------------------------------------------------------------------------- helpers


def add_months(d: date, months: int) -> date:
    """``d`` plus ``months`` calendar months, clamped to the end of the target month."""
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def today_shanghai() -> date:
    return datetime.now(SHANGHAI).date()


def _parse_method(method: Any) -> RepaymentMethod:
    try:
        return RepaymentMethod(method)
    except ValueError:
        raise LoanInputError("method", _("不支持的还款方式")) from None


def _parse_rate_period(rate_period: Any) -> RatePeriod:
    try:
        return RatePeriod(rate_period)
    except ValueError:
        raise LoanInputError("rate_period", _("不支持的利率周期，请选择日、月或年")) from None


def _check_day_count(day_count: Any) -> int:
    if isinstance(day_count, bool) or day_count not in DAY_COUNTS:
        raise LoanInputError("day_count", _("计息天数只能是360或365"))
    return int(day_count)


def _check_principal(principal: Any) -> Decimal:
    p = _decimal(principal, "principal", N_("借款金额"))
    if p <= 0:
        raise LoanInputError("principal", _("借款金额必须大于0"))
    if p > MAX_PRINCIPAL:
        raise LoanInputError("principal", _("借款金额超出可计算范围"))
    if p != to_fen(p):
        raise LoanInputError("principal", _("借款金额最多保留两位小数"))
    return to_fen(p)


def _check_term(term_months: Any) -> int:
    if isinstance(term_months, bool) or not isinstance(term_months, int):
        raise LoanInputError("term_months", _("借款期限必须是整数月"))
    if not MIN_TERM_MONTHS <= term_months <= MAX_TERM_MONTHS:
        raise LoanInputError(
            "term_months",
            _(
                "借款期限必须在{min}到{max}个月之间",
                min=MIN_TERM_MONTHS,
                max=MAX_TERM_MONTHS,
            ),
        )
    return term_months


def _rates(rate: Any, rate_period: Any, day_count: int) -> tuple[Decimal, Decimal]:
    """(monthly rate, nominal annual rate) as fractions; validates the rate."""
    period = _parse_rate_period(rate_period)
    day_count = _check_day_count(day_count)
    r = _decimal(rate, "rate", N_("利率"))
    if r < 0:
        raise LoanInputError("rate", _("利率不能为负数"))
    with localcontext() as ctx:
        ctx.prec = _PREC
        if period is RatePeriod.DAY:
            annual = r * day_count
            monthly = annual / PERIODS_PER_YEAR
        elif period is RatePeriod.MONTH:
            annual = r * PERIODS_PER_YEAR
            monthly = r
        else:
            annual = r
            monthly = r / PERIODS_PER_YEAR
    if annual > MAX_NOMINAL_ANNUAL_RATE:
        raise LoanInputError("rate", _("利率过高：折合年利率不能超过100%"))
    return monthly, annual


def monthly_rate(rate: Any, rate_period: Any, *, day_count: int = 360) -> Decimal:
    """Nominal monthly rate (fraction) for a rate quoted per day, month or year.

    A daily rate becomes ``daily × day_count / 12`` per month (360-day year by default).
    Raises `LoanInputError` for a negative rate or one above 100%/year equivalent.
    """
    return _rates(rate, rate_period, day_count)[0]


def nominal_annual_rate(rate: Any, rate_period: Any, *, day_count: int = 360) -> Decimal:
    """Simple-interest annual equivalent: daily × day_count, monthly × 12, or the yearly rate."""
    return _rates(rate, rate_period, day_count)[1]


def _check_fees(fees: Iterable[Fee | Mapping[str, Any]] | None) -> tuple[Fee, ...]:
    if fees is None:
        return ()
    out: list[Fee] = []
    for f in fees:
        if isinstance(f, Fee):
            out.append(f)
        elif isinstance(f, Mapping):
            out.append(Fee.from_dict(f))
        else:
            raise LoanInputError("fees", _("费用信息格式不正确"))
    return tuple(out)


# --------------------------------------------------------------------------- schedule


def _principal_and_interest(
    principal: Decimal, n: int, method: RepaymentMethod, r: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """(principal part, interest) per period, in fen; principal parts sum to ``principal``."""
    rows: list[tuple[Decimal, Decimal]] = []
    remaining = principal
    if method is RepaymentMethod.EQUAL_INSTALLMENT:
        if r == 0:
            payment = to_fen(principal / n)
        else:
            growth = (1 + r) ** n
            payment = to_fen(principal * r * growth / (growth - 1))
        for k in range(1, n + 1):
            interest = to_fen(remaining * r)
            part = remaining if k == n else min(payment - interest, remaining)
            rows.append((part, interest))
            remaining -= part
    elif method is RepaymentMethod.EQUAL_PRINCIPAL:
        part_std = to_fen(principal / n)
        for k in range(1, n + 1):
            interest = to_fen(remaining * r)
            part = remaining if k == n else min(part_std, remaining)
            rows.append((part, interest))
            remaining -= part
    elif method is RepaymentMethod.FLAT:
        part_std = to_fen(principal / n)
        interest = to_fen(principal * r)
        for k in range(1, n + 1):
            part = remaining if k == n else min(part_std, remaining)
            rows.append((part, interest))
            remaining -= part
    elif method is RepaymentMethod.INTEREST_FIRST:
        interest = to_fen(principal * r)
        for k in range(1, n + 1):
            rows.append((principal if k == n else _ZERO, interest))
    elif method is RepaymentMethod.BULLET:
        for k in range(1, n + 1):
            if k == n:
                rows.append((principal, to_fen(principal * r * n)))
            else:
                rows.append((_ZERO, _ZERO))
    else:  # pragma: no cover - _parse_method rejects everything else
        raise LoanInputError("method", _("不支持的还款方式"))
    return rows


# --------------------------------------------------------------------------- IRR


def periodic_irr(net_received: float, payments: list[float]) -> float:
    """Periodic rate r >= 0 with ``net_received = sum(payments[t-1] / (1+r)^t)``.

    The borrower's NPV is strictly decreasing in r when every payment is >= 0 and at
    least one is > 0, so the root is unique. It is found with Newton's method safeguarded
    by a bracket: any Newton step that leaves the bracket is replaced by bisection, so
    convergence is guaranteed for every input (tiny or huge rates, 1 to 360 periods).
    Requires ``0 < net_received <= sum(payments)``.
    """

    def npv_and_slope(r: float) -> tuple[float, float]:
        v = 1.0 / (1.0 + r)
        d = 1.0
        value = -net_received
        slope = 0.0
        for t, p in enumerate(payments, start=1):
            d *= v
            value += p * d
            slope -= t * p * d
        return value, slope * v

    f0 = npv_and_slope(0.0)[0]
    if f0 <= 0.0:
        return 0.0
    lo, hi = 0.0, 0.01
    while npv_and_slope(hi)[0] > 0.0:
        lo, hi = hi, hi * 4.0
        if hi > 1e30:  # pragma: no cover - impossible for validated input
            raise ArithmeticError("IRR does not converge")
    # Initial guess: from the simple average cost, inside the bracket.
    total = math.fsum(payments)
    n = len(payments)
    r = min(max((total / net_received - 1.0) / max(1.0, (n + 1) / 2.0), lo), hi)
    for _iteration in range(200):
        f, df = npv_and_slope(r)
        if f == 0.0:
            return r
        if f > 0.0:
            lo = r
        else:
            hi = r
        step_ok = df < 0.0
        nxt = r - f / df if step_ok else r
        if not step_ok or not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
        if abs(nxt - r) <= 1e-15 * max(1.0, abs(r)) or hi - lo <= 1e-16 * max(1.0, hi):
            return nxt
        r = nxt
    return r  # pragma: no cover - Newton/bisection converges far earlier


# --------------------------------------------------------------------------- entry points


def quote(
    principal: Decimal,
    term_months: int,
    method: RepaymentMethod | str,
    rate: Decimal,
    rate_period: RatePeriod | str,
    fees: Iterable[Fee | Mapping[str, Any]] = (),
    start_date: date | None = None,
    *,
    day_count: int = 360,
) -> Quote:
    """Schedule, totals and all-in APR of a loan.

    ``rate`` is a fraction per ``rate_period`` ("day", "month" or "year"). Interest per
    month from a daily rate = daily rate × ``day_count`` / 12 (360 unless the product
    states 365). See the module docstring for the rounding and APR conventions.
    Raises `LoanInputError` (with ``field`` and a zh-CN ``message``) for impossible input.
    """
    p = _check_principal(principal)
    n = _check_term(term_months)
    m = _parse_method(method)
    r, nominal = _rates(rate, rate_period, day_count)
    fee_list = _check_fees(fees)
    start = today_shanghai() if start_date is None else start_date
    if not isinstance(start, date):
        raise LoanInputError("start_date", _("起始日期格式不正确"))

    upfront = sum((f.charge(p) for f in fee_list if f.timing is FeeTiming.UPFRONT), _ZERO)
    per_period = sum((f.charge(p) for f in fee_list if f.timing is FeeTiming.PER_PERIOD), _ZERO)
    if upfront >= p:
        raise LoanInputError("fees", _("一次性收取的费用不能大于或等于借款金额"))

    with localcontext() as ctx:
        ctx.prec = _PREC
        ctx.rounding = ROUND_HALF_UP
        rows = _principal_and_interest(p, n, m, r)

    schedule: list[Installment] = []
    remaining = p
    for k, (part, interest) in enumerate(rows, start=1):
        remaining -= part
        schedule.append(
            Installment(
                period=k,
                due_date=add_months(start, k),
                principal=part,
                interest=interest,
                fees=per_period,
                payment=part + interest + per_period,
                remaining_principal=remaining,
            )
        )

    total_interest = sum((i.interest for i in schedule), _ZERO)
    total_fees = upfront + per_period * n
    total_repayment = sum((i.payment for i in schedule), _ZERO) + upfront

    irr = periodic_irr(float(p - upfront), [float(i.payment) for i in schedule])
    with localcontext() as ctx:
        ctx.prec = _PREC
        r_dec = Decimal(repr(irr))
        apr_raw = r_dec * PERIODS_PER_YEAR
        ear_raw = (1 + r_dec) ** PERIODS_PER_YEAR - 1
        # Absurd inputs (a fee eating almost all the principal) give astronomically large
        # rates; widen the precision so quantizing to APR_QUANTUM never overflows it.
        ctx.prec = max(_PREC, ear_raw.adjusted() + 12)
        apr = apr_raw.quantize(APR_QUANTUM, rounding=ROUND_HALF_UP)
        ear = ear_raw.quantize(APR_QUANTUM, rounding=ROUND_HALF_UP)

    return Quote(
        principal=p,
        term_months=n,
        method=m,
        schedule=tuple(schedule),
        upfront_fees=upfront,
        total_interest=total_interest,
        total_fees=total_fees,
        total_repayment=total_repayment,
        apr=apr,
        effective_annual_rate=ear,
        monthly_rate=r,
        nominal_annual_rate=nominal,
        start_date=start,
        fees=fee_list,
    )


def apr_range(
    amount_min: Decimal,
    amount_max: Decimal,
    term_options: Iterable[int],
    method: RepaymentMethod | str,
    rate: Decimal,
    rate_period: RatePeriod | str,
    fees: Iterable[Fee | Mapping[str, Any]] = (),
    day_count: int = 360,
) -> tuple[Decimal, Decimal]:
    """(cheapest, dearest) APR over {amount_min, amount_max} × term_options.

    Fixed-amount fees weigh more on small amounts and short terms, so a product's APR is a
    range, not a number. Amount/term validation errors are raised as `LoanInputError`.
    """
    lo_amt = _check_principal(amount_min)
    hi_amt = _check_principal(amount_max)
    if lo_amt > hi_amt:
        raise LoanInputError("amount_max", _("最高金额不能低于最低金额"))
    terms = sorted({_check_term(t) for t in term_options})
    if not terms:
        raise LoanInputError("term_options", _("请至少提供一个借款期限"))
    fee_list = _check_fees(fees)
    start = date(2000, 1, 1)  # APR is per period; the calendar does not change it
    aprs = [
        quote(a, t, method, rate, rate_period, fee_list, start, day_count=day_count).apr
        for a in sorted({lo_amt, hi_amt})
        for t in terms
    ]
    return min(aprs), max(aprs)


def classify_cost(apr: Decimal, lines: CostLines | None = None) -> CostVerdict:
    """BLOCK above ``lines.block_apr``, WARN above ``lines.warn_apr``, else OK.

    Lines are exclusive: an APR exactly on a line is on the cheaper side of it.
    """
    lines = CostLines() if lines is None else lines
    a = _decimal(apr, "apr", N_("年化利率"))
    if a > lines.block_apr:
        return CostVerdict.BLOCK
    if a > lines.warn_apr:
        return CostVerdict.WARN
    return CostVerdict.OK
