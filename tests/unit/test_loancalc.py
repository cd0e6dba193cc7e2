"""Loan cost engine: worked examples, properties (hypothesis) and input errors.

Worked-example numbers were checked by hand / closed form and against numpy_financial.
"""

import json
import re
from datetime import date
from decimal import Decimal

import numpy_financial as npf
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from marketplace.loancalc import (
    CostLines,
    CostVerdict,
    Fee,
    FeeKind,
    FeeTiming,
    LoanInputError,
    RatePeriod,
    RepaymentMethod,
    add_months,
    apr_range,
    classify_cost,
    monthly_rate,
    periodic_irr,
    quote,
    today_shanghai,
)
from marketplace.money import to_fen

D = Decimal
START = date(2024, 1, 31)
CJK = re.compile(r"[\u4e00-\u9fff]")
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- strategies

amounts = st.integers(min_value=100_00, max_value=5_000_000_00).map(lambda fen: D(fen) / 100)
terms = st.integers(min_value=1, max_value=360)
methods = st.sampled_from(list(RepaymentMethod))
annual_rates = st.integers(min_value=0, max_value=10_000).map(lambda bp: D(bp) / 10_000)


@st.composite
def quoted_rates(draw):
    """(rate, rate_period, day_count) with the annual equivalent within 0–100%."""
    period = draw(st.sampled_from(list(RatePeriod)))
    if period is RatePeriod.YEAR:
        return draw(annual_rates), period, 360
    if period is RatePeriod.MONTH:
        return D(draw(st.integers(0, 83_333))) / 10_000_000, period, 360
    day_count = draw(st.sampled_from([360, 365]))
    return D(draw(st.integers(0, 100_000 // day_count * 100))) / 10_000_000, period, day_count


@st.composite
def fees(draw):
    """A fee that charges at least one fen on any principal >= 100."""
    kind = draw(st.sampled_from(list(FeeKind)))
    timing = draw(st.sampled_from(list(FeeTiming)))
    if draw(st.booleans()):
        return Fee(kind, timing, amount=D(draw(st.integers(1_00, 2_000_00))) / 100)
    return Fee(kind, timing, rate=D(draw(st.integers(1, 500))) / 10_000)


def cash_flows(q):
    return [-float(q.principal - q.upfront_fees)] + [float(i.payment) for i in q.schedule]


# --------------------------------------------------------------------------- worked examples


def test_equal_installment_100k_12pct_12m():
    q = quote(D("100000"), 12, RepaymentMethod.EQUAL_INSTALLMENT, D("0.12"), "year", (), START)
    # Closed form: 100000 × 1% / (1 − 1.01^−12) = 8884.8789 → 8884.88 a month.
    assert [i.payment for i in q.schedule[:11]] == [D("8884.88")] * 11
    first = q.schedule[0]
    assert (first.interest, first.principal) == (D("1000.00"), D("7884.88"))
    # Second month: 92115.12 × 1% = 921.1512 → 921.15.
    assert q.schedule[1].interest == D("921.15")
    # The formula figure 12 × 8884.8789 − 100000 = 6618.55 is the unrounded total; with the
    # monthly interest rounded to the fen the schedule's interest is 6618.53 and the last
    # payment (8796.88 principal + 87.97 interest) is 8884.85.
    assert q.total_interest == D("6618.53")
    assert abs(q.total_interest - D("6618.55")) <= D("0.05")
    assert q.schedule[-1].payment == D("8884.85")
    assert q.total_repayment == D("106618.53")
    assert q.total_fees == D("0.00")
    assert abs(q.apr - D("0.12")) < D("0.000001")
    assert abs(q.effective_annual_rate - D("0.126825")) < D("0.00001")  # 1.01^12 − 1
    assert q.first_payment == D("8884.88")
    assert q.max_payment == D("8884.88")


def test_flat_10k_half_percent_a_month():
    # 等本等息: 50.00 interest every month on the original 10,000 → 600 in a year, a "6%"
    # headline. The IRR of 10,000 against 11 × 883.33 + 883.37 is 0.908%/month, APR 10.90%
    # (numpy_financial.rate(12, −883.3333, 10000) × 12 = 10.8964% for the unrounded flows).
    # The oft-quoted "≈10.78%" does not survive the calculation.
    q = quote(D("10000"), 12, "flat", D("0.005"), "month", (), START)
    assert {i.interest for i in q.schedule} == {D("50.00")}
    assert q.schedule[0].payment == D("883.33")
    assert q.schedule[-1].principal == D("833.37")
    assert q.total_interest == D("600.00")
    assert q.nominal_annual_rate == D("0.060")
    assert abs(q.apr - D("0.108963")) < D("0.000001")
    assert abs(q.apr - D(repr(12 * float(npf.rate(12, -10000 / 12 - 50, 10000, 0))))) < D("0.00001")


def test_daily_rate_annualised_over_360_or_365_days():
    q = quote(D("10000"), 12, "equal_installment", D("0.0005"), "day", (), START)
    assert q.nominal_annual_rate == D("0.18")  # 0.05% × 360
    assert q.monthly_rate == D("0.015")  # 0.05% × 360 / 12
    # 10000 × 1.5% / (1 − 1.015^−12) = 916.7999 → 916.80
    assert q.first_payment == D("916.80")
    assert abs(q.apr - D("0.18")) < D("0.0001")

    q365 = quote(D("10000"), 12, "equal_installment", D("0.0005"), "day", (), START, day_count=365)
    assert q365.nominal_annual_rate == D("0.1825")
    assert abs(q365.apr - D("0.1825")) < D("0.0001")


def test_bullet_pays_everything_at_the_end():
    q = quote(D("10000"), 12, "bullet", D("0.12"), "year", (), START)
    assert all(i.payment == 0 for i in q.schedule[:-1])
    last = q.schedule[-1]
    assert (last.principal, last.interest, last.payment) == (
        D("10000.00"),
        D("1200.00"),
        D("11200.00"),
    )
    # One payment of 1.12 × principal after 12 months: (1 + r)^12 = 1.12 exactly, so the
    # effective rate is 12% and the APR is 12 × (1.12^(1/12) − 1) = 11.3866%.
    assert abs(q.effective_annual_rate - D("0.12")) < D("0.0000001")
    assert abs(q.apr - D("0.113866")) < D("0.000001")


def test_interest_first_irr_is_the_monthly_rate():
    q = quote(D("100000"), 12, "interest_first", D("0.12"), "year", (), START)
    assert [i.interest for i in q.schedule] == [D("1000.00")] * 12
    assert [i.principal for i in q.schedule[:-1]] == [D("0.00")] * 11
    assert q.schedule[-1].payment == D("101000.00")
    # Paying exactly 1% of the balance every month: IRR is exactly 1% a month.
    assert abs(q.apr - D("0.12")) < D("0.0000001")
    assert abs(q.effective_annual_rate - D("0.1268250301")) < D("0.0000001")


def test_equal_principal_12k_12pct():
    q = quote(D("12000"), 12, "equal_principal", D("0.12"), "year", (), START)
    assert [i.principal for i in q.schedule] == [D("1000.00")] * 12
    # 1% of 12000, 11000, …, 1000
    assert [i.interest for i in q.schedule] == [D(120 - 10 * k) for k in range(12)]
    assert q.total_interest == D("780.00")
    assert q.first_payment == q.max_payment == D("1120.00")
    assert abs(q.apr - D("0.12")) < D("0.0000001")


def test_upfront_fee_10k_12m():
    fee = Fee("arrangement", "upfront", amount=D("300"))
    q = quote(D("10000"), 12, "equal_installment", D("0.12"), "year", [fee], START)
    assert q.upfront_fees == D("300.00")
    assert q.first_payment == D("888.49")  # 10000 × 1% / (1 − 1.01^−12) = 888.4879
    assert q.total_fees == D("300.00")
    assert q.total_repayment == q.total_interest + D("10000") + D("300")
    # Borrower nets 9,700 and repays 11 × 888.49 + 888.47: APR 17.825%.
    assert abs(q.apr - D("0.178250")) < D("0.000001")
    assert abs(float(q.apr) - 12 * npf.irr(cash_flows(q))) < 1e-9


def test_zero_interest_with_service_fee_is_not_free():
    # "0利息" with a 0.5%/month service fee on the original principal: the same cash flows
    # as 等本等息 at 0.5%/month, so the same APR 10.90%.
    fee = Fee("service", "per_period", rate=D("0.005"))
    q = quote(D("10000"), 12, "flat", D("0"), "year", [fee], START)
    assert q.total_interest == D("0.00")
    assert q.total_fees == D("600.00")
    assert q.schedule[0].fees == D("50.00")
    flat = quote(D("10000"), 12, "flat", D("0.005"), "month", (), START)
    assert q.apr == flat.apr
    assert classify_cost(q.apr, CostLines()) is CostVerdict.OK


def test_zero_rate_and_no_fees_is_zero_apr():
    q = quote(D("3000"), 3, "equal_installment", D("0"), "year", (), START)
    assert [i.payment for i in q.schedule] == [D("1000.00")] * 3
    assert q.apr == 0
    assert q.effective_annual_rate == 0


# --------------------------------------------------------------------------- dates


def test_due_dates_clamp_to_month_end():
    q = quote(D("1000"), 4, "equal_principal", D("0.1"), "year", (), date(2024, 1, 31))
    assert [i.due_date for i in q.schedule] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    ]
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2023, 12, 15), 1) == date(2024, 1, 15)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 1), 360) == date(2054, 1, 1)


def test_start_date_defaults_to_today_in_shanghai():
    before = today_shanghai()
    q = quote(D("1000"), 1, "bullet", D("0.1"), "year")
    after = today_shanghai()
    assert q.start_date in {before, after}
    assert q.schedule[0].due_date == add_months(q.start_date, 1)


# --------------------------------------------------------------------------- properties


@PROPS
@given(amounts, terms, methods, quoted_rates(), st.lists(fees(), max_size=3))
def test_schedule_invariants(principal, n, method, rate, fee_list):
    r, period, day_count = rate
    try:
        q = quote(principal, n, method, r, period, fee_list, START, day_count=day_count)
    except LoanInputError as exc:
        assume(exc.field != "fees")  # upfront fees >= principal is rejected by design
        raise
    assert len(q.schedule) == n
    assert [i.period for i in q.schedule] == list(range(1, n + 1))
    assert sum(i.principal for i in q.schedule) == principal
    assert q.schedule[-1].remaining_principal == 0
    remaining = principal
    for inst in q.schedule:
        for amount in (inst.principal, inst.interest, inst.fees, inst.payment):
            assert amount >= 0
            assert amount == to_fen(amount)
        assert inst.payment == inst.principal + inst.interest + inst.fees
        remaining -= inst.principal
        assert inst.remaining_principal == remaining >= 0
    dates = [i.due_date for i in q.schedule]
    assert dates == sorted(set(dates))
    assert q.total_interest == sum(i.interest for i in q.schedule)
    assert q.total_fees == q.upfront_fees + sum(i.fees for i in q.schedule)
    assert q.total_repayment == principal + q.total_interest + q.total_fees
    assert q.apr >= 0
    # effective = (1 + APR/12)^12 − 1 (relative check: a fee eating most of a small
    # principal makes both astronomically large)
    expected = (1 + q.apr / 12) ** 12 - 1
    assert abs(q.effective_annual_rate - expected) <= D("1e-8") * max(1, expected)


@PROPS
@given(amounts, terms, annual_rates)
def test_fee_free_equal_installment_apr_is_nominal_rate(principal, n, rate):
    q = quote(principal, n, "equal_installment", rate, "year", (), START)
    # Within 0.01 percentage point. Only fen rounding separates the two; it can move the
    # APR by at most ~0.12/principal (each payment is within a fen of the exact one), which
    # is below 0.0001 for every principal from 1,200 up; smaller loans get that bound.
    tolerance = max(D("0.0001"), D("0.12") / principal)
    assert abs(q.apr - rate) <= tolerance


@PROPS
@given(amounts, terms, methods, quoted_rates(), fees())
def test_adding_any_fee_raises_apr(principal, n, method, rate, fee):
    r, period, day_count = rate
    base = quote(principal, n, method, r, period, (), START, day_count=day_count)
    assume(fee.charge(principal) < principal)
    with_fee = quote(principal, n, method, r, period, [fee], START, day_count=day_count)
    assert with_fee.apr > base.apr
    assert with_fee.total_repayment > base.total_repayment


@PROPS
@given(amounts, st.integers(min_value=2, max_value=360), st.integers(100, 10_000))
def test_flat_costs_more_than_equal_installment(principal, n, bp):
    rate = D(bp) / 10_000  # 1%–100% a year
    flat = quote(principal, n, "flat", rate, "year", (), START)
    annuity = quote(principal, n, "equal_installment", rate, "year", (), START)
    assert flat.apr > annuity.apr
    # Interest can tie in fen-starved corners (100 yuan over 278 months: both charge 1.92 a
    # month because the 等额本息 payment rounds to its interest); it is never lower.
    assert flat.total_interest >= annuity.total_interest


@settings(max_examples=40, deadline=None)
@given(amounts, terms, methods, quoted_rates(), st.lists(fees(), max_size=2))
def test_apr_matches_numpy_financial_irr(principal, n, method, rate, fee_list):
    r, period, day_count = rate
    try:
        q = quote(principal, n, method, r, period, fee_list, START, day_count=day_count)
    except LoanInputError:
        assume(False)
    reference = npf.irr(cash_flows(q))
    assume(reference == reference)  # np.roots may miss a root of a degree-360 polynomial
    assert abs(float(q.apr) - 12 * reference) < 1e-6


@pytest.mark.parametrize(
    ("net", "payments", "expected"),
    [
        (1.0, [1_000_000.0], 999_999.0),  # absurd rate, one period
        (100.0, [110.0], 0.1),
        (100.0, [0.0] * 359 + [100.0 + 1e-6], 1e-6 / 100 / 360),  # tiny rate, 360 periods
        (100.0, [100.0], 0.0),
        (100.0, [1.0] * 359 + [101.0], 0.01),  # interest-only at 1%/month
        (0.01, [0.0] * 359 + [5_000_000.0], 5e8 ** (1 / 360) - 1),
    ],
)
def test_periodic_irr_is_robust(net, payments, expected):
    r = periodic_irr(net, payments)
    assert r == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_huge_upfront_fee_gives_huge_but_finite_apr():
    fee = Fee("arrangement", "upfront", amount=D("99.99"))
    q = quote(D("100"), 1, "bullet", D("1"), "year", [fee], START)
    # Receives 0.01, pays 108.33 a month later: r = 10832 a month.
    assert q.schedule[0].payment == D("108.33")
    assert abs(q.apr - D(10832 * 12)) < D("0.0001")


# --------------------------------------------------------------------------- apr_range


def test_apr_range_fixed_fee_makes_small_short_loans_dearest():
    fee = [Fee("arrangement", "upfront", amount=D("200"))]
    lo, hi = apr_range(
        D("1000"), D("50000"), [3, 6, 12], "equal_installment", D("0.12"), "year", fee
    )

    def apr(a, t):
        return quote(D(a), t, "equal_installment", D("0.12"), "year", fee, START).apr

    assert lo == apr(50000, 12)
    assert hi == apr(1000, 3)
    assert D("0.12") < lo < hi


def test_apr_range_without_fees_is_the_nominal_rate():
    lo, hi = apr_range(D("5000"), D("200000"), [12, 24, 36], "equal_installment", D("0.15"), "year")
    assert abs(lo - D("0.15")) < D("0.0001")
    assert abs(hi - D("0.15")) < D("0.0001")


def test_apr_range_rejects_inverted_amounts_and_empty_terms():
    with pytest.raises(LoanInputError) as excinfo:
        apr_range(D("5000"), D("1000"), [12], "flat", D("0.01"), "month")
    assert excinfo.value.field == "amount_max"
    with pytest.raises(LoanInputError) as excinfo:
        apr_range(D("1000"), D("5000"), [], "flat", D("0.01"), "month")
    assert excinfo.value.field == "term_options"


# --------------------------------------------------------------------------- classify_cost


@pytest.mark.parametrize(
    ("apr", "expected"),
    [
        (D("0"), CostVerdict.OK),
        (D("0.12"), CostVerdict.OK),  # exactly on the warn line (4 × 3.0%)
        (D("0.1200000001"), CostVerdict.WARN),
        (D("0.18"), CostVerdict.WARN),
        (D("0.24"), CostVerdict.WARN),  # exactly on the block line
        (D("0.2400000001"), CostVerdict.BLOCK),
        (D("0.36"), CostVerdict.BLOCK),
    ],
)
def test_classify_cost_default_lines(apr, expected):
    assert classify_cost(apr, CostLines()) is expected


def test_classify_cost_configured_lines():
    lines = CostLines(block_apr=D("0.20"), lpr_1y=D("0.0345"), warn_multiple=D("4"))
    assert lines.warn_apr == D("0.1380")
    assert classify_cost(D("0.138"), lines) is CostVerdict.OK
    assert classify_cost(D("0.1381"), lines) is CostVerdict.WARN
    assert classify_cost(D("0.2001"), lines) is CostVerdict.BLOCK
    assert CostLines().warn_apr == D("0.12")
    with pytest.raises(AttributeError):
        lines.block_apr = D("0.3")  # frozen


def test_labels_are_zh_cn():
    assert [m.label for m in RepaymentMethod] == [
        "等额本息",
        "等额本金",
        "先息后本",
        "到期一次还本付息",
        "等本等息",
    ]
    assert [p.label for p in RatePeriod] == ["日", "月", "年"]
    assert [k.label for k in FeeKind] == ["服务费", "担保费", "保险费", "手续费"]
    assert all(CJK.search(v.label) for v in CostVerdict)
    assert RepaymentMethod("flat") is RepaymentMethod.FLAT
    assert RepaymentMethod.FLAT == "flat"


# --------------------------------------------------------------------------- fees


def test_fee_round_trips_through_json():
    fees_ = [
        Fee("guarantee", "per_period", rate=D("0.0025")),
        Fee(FeeKind.INSURANCE, FeeTiming.UPFRONT, amount=D("120.50")),
    ]
    for fee in fees_:
        data = json.loads(json.dumps(fee.to_dict()))
        assert Fee.from_dict(data) == fee
    assert fees_[0].to_dict() == {
        "kind": "guarantee",
        "timing": "per_period",
        "amount": None,
        "rate": "0.0025",
    }
    # JSON numbers may arrive as floats; they go through their shortest repr.
    assert Fee.from_dict({"kind": "service", "timing": "upfront", "amount": 99.9}).amount == D(
        "99.9"
    )


def test_quote_accepts_fee_dicts():
    as_dict = {"kind": "service", "timing": "upfront", "amount": "100"}
    a = quote(D("5000"), 6, "equal_principal", D("0.1"), "year", [as_dict], START)
    b = quote(D("5000"), 6, "equal_principal", D("0.1"), "year", [Fee.from_dict(as_dict)], START)
    assert a == b
    assert json.loads(json.dumps(a.to_dict()))["apr"] == str(a.apr)


# --------------------------------------------------------------------------- input errors


def _err(**overrides):
    args = {
        "principal": D("10000"),
        "term_months": 12,
        "method": "equal_installment",
        "rate": D("0.12"),
        "rate_period": "year",
        "fees": (),
        "start_date": START,
        "day_count": 360,
    }
    args.update(overrides)
    with pytest.raises(LoanInputError) as excinfo:
        quote(**args)
    err = excinfo.value
    assert isinstance(err, ValueError)
    assert str(err) == err.message
    assert CJK.search(err.message), err.message
    return err


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"principal": D("0")}, "principal", "借款金额必须大于0"),
        ({"principal": D("-100")}, "principal", "借款金额必须大于0"),
        ({"principal": D("NaN")}, "principal", None),
        ({"principal": 100.0}, "principal", None),
        ({"principal": "abc"}, "principal", None),
        ({"principal": D("100.001")}, "principal", None),
        ({"term_months": 0}, "term_months", "借款期限必须在1到360个月之间"),
        ({"term_months": 361}, "term_months", "借款期限必须在1到360个月之间"),
        ({"term_months": 1.5}, "term_months", None),
        ({"term_months": True}, "term_months", None),
        ({"method": "balloon"}, "method", "不支持的还款方式"),
        ({"rate_period": "week"}, "rate_period", None),
        ({"rate": D("-0.01")}, "rate", "利率不能为负数"),
        ({"rate": D("1.01")}, "rate", None),
        ({"rate": D("0.0834"), "rate_period": "month"}, "rate", None),  # 100.08%/year
        ({"rate": D("0.0028"), "rate_period": "day"}, "rate", None),  # 100.8%/year
        ({"rate": D("Infinity")}, "rate", None),
        ({"day_count": 366}, "day_count", None),
        ({"fees": [{"kind": "service", "timing": "upfront", "amount": "10000"}]}, "fees", None),
        ({"fees": ["oops"]}, "fees", None),
    ],
)
def test_impossible_input_names_the_field(overrides, field, message):
    err = _err(**overrides)
    assert err.field == field
    if message is not None:
        assert err.message == message


def test_rate_upper_bound_is_inclusive_at_100_percent():
    assert abs(monthly_rate(D("1"), "year") * 12 - 1) < D("1e-30")
    assert monthly_rate(D("0.0025"), "day", day_count=360) == D("0.075")
    quote(D("10000"), 12, "flat", D("1"), "year", (), START)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "tip", "timing": "upfront", "amount": D("1")},
        {"kind": "service", "timing": "yearly", "amount": D("1")},
        {"kind": "service", "timing": "upfront"},
        {"kind": "service", "timing": "upfront", "amount": D("1"), "rate": D("0.01")},
        {"kind": "service", "timing": "upfront", "amount": D("-1")},
        {"kind": "service", "timing": "upfront", "rate": D("1.5")},
        {"kind": "service", "timing": "upfront", "amount": 1.5},
    ],
)
def test_bad_fee_is_a_loan_input_error(kwargs):
    with pytest.raises(LoanInputError) as excinfo:
        Fee(**kwargs)
    assert excinfo.value.field == "fees"
    assert CJK.search(excinfo.value.message)
