"""The credit-health score: each factor's published rule, the weighted total, and the
properties a borrower relies on (paying on time never lowers it; applying more, owing more
or falling overdue never raises it)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from marketplace.credit.score import CreditFacts, Factor, credit_score

WEIGHTS = {Factor.VELOCITY: 20, Factor.REPAYMENT: 35, Factor.DEBT_TO_INCOME: 25, Factor.OVERDUE: 20}
CLEAN = CreditFacts(
    applications_recent=1,
    instalments_due=6,
    instalments_on_time=6,
    monthly_income=Decimal("10000"),
    monthly_payments=Decimal("1500"),
    current_dpd=0,
    late_instalments=0,
)


def _points(facts: CreditFacts, factor: Factor) -> int:
    return next(f.points for f in credit_score(facts, WEIGHTS).factors if f.factor is factor)


def test_a_clean_record_scores_full_marks_and_says_so():
    score = credit_score(CLEAN, WEIGHTS)
    assert score.score == 100
    assert score.band == "优秀"
    assert [f.weight for f in score.factors] == [20, 35, 20 + 5, 20]
    assert all(f.tips for f in score.factors)


def test_each_factor_follows_its_rule():
    assert _points(replace(CLEAN, applications_recent=3), Factor.VELOCITY) == 70
    assert _points(replace(CLEAN, applications_recent=12), Factor.VELOCITY) == 10
    assert _points(replace(CLEAN, instalments_on_time=3), Factor.REPAYMENT) == 50
    assert _points(replace(CLEAN, instalments_due=0, instalments_on_time=0), Factor.REPAYMENT) == 60
    assert _points(replace(CLEAN, monthly_payments=Decimal("4000")), Factor.DEBT_TO_INCOME) == 55
    assert _points(replace(CLEAN, monthly_payments=Decimal("8000")), Factor.DEBT_TO_INCOME) == 10
    assert _points(replace(CLEAN, monthly_income=None), Factor.DEBT_TO_INCOME) == 50
    assert _points(replace(CLEAN, current_dpd=15), Factor.OVERDUE) == 30
    assert _points(replace(CLEAN, current_dpd=45), Factor.OVERDUE) == 10
    assert _points(replace(CLEAN, current_dpd=120), Factor.OVERDUE) == 0
    assert _points(replace(CLEAN, late_instalments=2), Factor.OVERDUE) == 70
    assert _points(replace(CLEAN, late_instalments=5), Factor.OVERDUE) == 45


def test_the_total_is_the_weighted_mean_rounded_half_up():
    facts = replace(CLEAN, instalments_on_time=3, current_dpd=45)  # repayment 50, overdue 10
    assert (
        credit_score(facts, WEIGHTS).score == (20 * 100 + 35 * 50 + 25 * 100 + 20 * 10 + 50) // 100
    )
    only_overdue = {Factor.OVERDUE: 1}
    assert credit_score(facts, only_overdue).score == 10
    # Weights all zero or negative (a mistyped parameter) count every factor equally.
    equal = credit_score(facts, dict.fromkeys(Factor, 0)).score
    assert (
        equal
        == credit_score(facts, dict.fromkeys(Factor, 7)).score
        == (100 + 50 + 100 + 10 + 2) // 4
    )


def test_the_facts_appear_in_the_explanation():
    score = credit_score(
        replace(CLEAN, applications_recent=4, monthly_payments=Decimal("3000")), WEIGHTS
    )
    details = {f.factor: f.detail for f in score.factors}
    assert "4笔" in details[Factor.VELOCITY]
    assert "¥3,000.00" in details[Factor.DEBT_TO_INCOME] and "30%" in details[Factor.DEBT_TO_INCOME]
    velocity = next(f for f in score.factors if f.factor is Factor.VELOCITY)
    assert any("30天内不超过2笔" in tip for tip in velocity.tips)


facts = st.builds(
    CreditFacts,
    applications_recent=st.integers(0, 10_000),
    instalments_due=st.integers(0, 500),
    instalments_on_time=st.integers(0, 500),
    monthly_income=st.one_of(st.none(), st.decimals(Decimal("-10"), Decimal("1e9"), places=2)),
    monthly_payments=st.decimals(Decimal("0"), Decimal("1e9"), places=2),
    current_dpd=st.integers(0, 5000),
    late_instalments=st.integers(0, 500),
)
weights = st.dictionaries(st.sampled_from(list(Factor)), st.integers(-5, 1000))


@given(facts, weights)
def test_the_score_is_always_between_0_and_100(f, w):
    score = credit_score(f, w)
    assert 0 <= score.score <= 100
    assert all(0 <= factor.points <= 100 for factor in score.factors)


@given(facts, st.integers(1, 50))
def test_applying_more_owing_more_or_falling_overdue_never_raises_the_score(f, more):
    base = credit_score(f, WEIGHTS).score
    assert (
        credit_score(replace(f, applications_recent=f.applications_recent + more), WEIGHTS).score
        <= base
    )
    assert (
        credit_score(replace(f, monthly_payments=f.monthly_payments + more), WEIGHTS).score <= base
    )
    assert credit_score(replace(f, current_dpd=f.current_dpd + more), WEIGHTS).score <= base


@given(facts)
def test_paying_an_instalment_on_time_never_lowers_the_repayment_points(f):
    on_time = min(f.instalments_on_time, f.instalments_due)
    paid = replace(f, instalments_due=f.instalments_due + 1, instalments_on_time=on_time + 1)
    assert _points(paid, Factor.REPAYMENT) >= _points(
        replace(f, instalments_on_time=on_time), Factor.REPAYMENT
    ) or (f.instalments_due == 0)
