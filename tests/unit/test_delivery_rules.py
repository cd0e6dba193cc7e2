"""The delivery gate's rule and the agreement's monthly fee, without the database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from marketplace.agreements.terms import AgreementTerms, PricingModel
from marketplace.delivery.rules import LeadFacts, Limits, Usage, judge


def _terms(model: str, rate: str, unit_cap: int | None = None, fee_cap: str | None = None):
    return AgreementTerms(
        id=1,
        institution_id=1,
        version=1,
        pricing_model=PricingModel(model),
        rate=Decimal(rate),
        monthly_unit_cap=unit_cap,
        monthly_fee_cap=Decimal(fee_cap) if fee_cap else None,
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 12, 31),
    )


LEAD = LeadFacts(
    city="北京", amount=Decimal("50000"), monthly_income=Decimal("9000"), employment_type="employee"
)


def test_month_fee_by_model_with_caps():
    assert _terms("cpl", "30").month_fee(7, Decimal(0)) == Decimal("210.00")
    assert _terms("cpl", "30", unit_cap=5).month_fee(7, Decimal(0)) == Decimal("150.00")
    assert _terms("cpa", "120", fee_cap="200").month_fee(3, Decimal(0)) == Decimal("200.00")
    # CPS: a fraction of the amount disbursed, rounded half-up to the fen.
    assert _terms("cps", "0.015").month_fee(99, Decimal("100000.33")) == Decimal("1500.00")
    assert _terms("cps", "0.0125").month_fee(0, Decimal("0.4")) == Decimal("0.01")


@given(units=st.integers(0, 10_000), cap=st.integers(1, 10_000))
def test_a_unit_cap_never_bills_more_than_the_cap(units, cap):
    terms = _terms("cpl", "30", unit_cap=cap)
    assert terms.month_fee(units, Decimal(0)) == Decimal(30 * min(units, cap)).quantize(
        Decimal("0.01")
    )


def test_checks_in_order_first_failure_answers():
    terms = _terms("cpl", "30")
    assert judge(False, terms, Limits(), Usage(), LEAD).reason_code == "inactive"
    assert judge(True, None, Limits(), Usage(), LEAD).reason_code == "no_agreement"
    full_day = judge(True, terms, Limits(daily_lead_cap=3, monthly_lead_cap=5), Usage(3, 5), LEAD)
    assert (full_day.reason_code, full_day.label) == ("daily_cap", "今日名额已满")
    full_month = judge(True, terms, Limits(daily_lead_cap=3, monthly_lead_cap=5), Usage(1, 5), LEAD)
    assert (full_month.reason_code, full_month.label) == ("monthly_cap", "本月名额已满")
    assert judge(True, terms, Limits(daily_lead_cap=3), Usage(2, 2), LEAD).ok


def test_budget_per_model():
    # CPL: the next lead's price must fit.
    assert judge(
        True, _terms("cpl", "30"), Limits(monthly_budget=Decimal(60)), Usage(0, 1), None
    ).ok
    over = judge(True, _terms("cpl", "30"), Limits(monthly_budget=Decimal(60)), Usage(0, 2), None)
    assert over.reason_code == "budget"
    # CPA and CPS: leads cost nothing until approved or disbursed; they stop at the budget.
    cpa = _terms("cpa", "100")
    assert judge(True, cpa, Limits(monthly_budget=Decimal(300)), Usage(0, 50, 2), None).ok
    assert not judge(True, cpa, Limits(monthly_budget=Decimal(300)), Usage(0, 50, 3), None).ok
    cps = _terms("cps", "0.02")
    limits = Limits(monthly_budget=Decimal(1000))
    assert judge(True, cps, limits, Usage(disbursed_month=Decimal("49999")), None).ok
    assert not judge(True, cps, limits, Usage(disbursed_month=Decimal("50000")), None).ok


def test_filters_name_what_does_not_fit():
    terms = _terms("cpl", "30")
    cases = {
        "filter.city": (Limits(cities=("上海", "杭州")), "所在城市须为 上海、杭州", "city"),
        "filter.amount": (Limits(amount_max=Decimal(30000)), "借款金额不高于 ¥30,000.00", "amount"),
        "filter.income": (
            Limits(min_monthly_income=Decimal(10000)),
            "月收入不低于",
            "monthly_income",
        ),
        "filter.employment": (
            Limits(employment_types=("civil_servant",)),
            "公务员",
            "employment_type",
        ),
    }
    for code, (limits, words, field) in cases.items():
        verdict = judge(True, terms, limits, Usage(), LEAD)
        assert verdict.reason_code == code and field == verdict.field
        assert verdict.label.startswith("暂不符合该机构的接收条件") and words in verdict.label
        assert judge(True, terms, limits, Usage(), None).ok, "no facts yet: filters wait"
