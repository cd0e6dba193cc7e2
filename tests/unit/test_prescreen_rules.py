"""The pre-screen rule language: conditions, verdicts, explanations and form parsing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.errors import ValidationFailed
from marketplace.prescreen.rules import (
    MAX_POINTS,
    Condition,
    HardFilter,
    LeadFacts,
    Operator,
    Outcome,
    RuleField,
    Rules,
    ScoreRule,
    evaluate,
    lines_from_json,
    parse_hard_filter,
    parse_score_rule,
    parse_threshold_form,
)

REASONS = {"income": "收入不足", "not_eligible": "资质不符"}
F = RuleField
O = Operator  # noqa: E741

incomes = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False)
amounts = st.decimals(min_value=1, max_value=10**7, places=2, allow_nan=False)


def facts(income: str = "12000", amount: str = "50000", city: str = "北京", job: str = "employee"):
    return LeadFacts(Decimal(income), Decimal(amount), city, job)


def band(low: str, high: str) -> Condition:
    return Condition(F.MONTHLY_INCOME, O.BETWEEN, Decimal(low), Decimal(high))


def test_income_band_is_half_open_so_neighbouring_bands_never_both_count():
    rules = Rules(
        scores=(ScoreRule(band("8000", "15000"), 20), ScoreRule(band("15000", "30000"), 30))
    )
    assert evaluate(rules, facts(income="15000")).score == 30
    assert evaluate(rules, facts(income="14999.99")).score == 20
    assert evaluate(rules, facts(income="7999")).score == 0


def test_city_filter_rejects_with_its_reason_and_explains_every_rule():
    rules = Rules(
        filters=(HardFilter(Condition(F.CITY, O.NOT_IN, values=("北京", "上海")), "not_eligible"),),
        scores=(ScoreRule(band("8000", "15000"), 20),),
    )
    verdict = evaluate(rules, facts(city="广州"))
    assert verdict.outcome is Outcome.REJECT
    assert verdict.reason == "not_eligible"
    assert verdict.score == 20  # scored all the same: the explanation is complete
    assert [(line.kind, line.held) for line in verdict.lines] == [("filter", True), ("score", True)]
    assert evaluate(rules, facts(city="上海")).outcome is Outcome.PASS


def test_threshold_rejects_below_and_passes_at_it():
    rules = Rules(
        scores=(ScoreRule(band("8000", "15000"), 20),), threshold=20, threshold_reason="income"
    )
    assert evaluate(rules, facts(income="9000")).outcome is Outcome.PASS
    low = evaluate(rules, facts(income="5000"))
    assert (low.outcome, low.reason, low.score) == (Outcome.REJECT, "income", 0)


def test_first_filter_that_holds_gives_the_reason_over_the_threshold():
    rules = Rules(
        filters=(
            HardFilter(Condition(F.EMPLOYMENT_TYPE, O.IN, values=("freelancer",)), "not_eligible"),
        ),
        threshold=10,
        threshold_reason="income",
    )
    assert evaluate(rules, facts(job="freelancer")).reason == "not_eligible"
    assert evaluate(rules, facts(job="employee")).reason == "income"


def test_ratio_over_no_income_is_unbounded():
    at_least = Condition(F.AMOUNT_TO_INCOME, O.AT_LEAST, Decimal("10"))
    below = Condition(F.AMOUNT_TO_INCOME, O.BELOW, Decimal("10"))
    assert at_least.holds(facts(income="0"))
    assert not below.holds(facts(income="0"))
    assert at_least.holds(facts(income="5000", amount="50000"))
    assert below.holds(facts(income="5001", amount="50000"))


def test_descriptions_read_as_the_page_shows_them():
    assert band("8000", "15000").describe() == "月收入 8,000–15,000"
    assert (
        Condition(F.EMPLOYMENT_TYPE, O.IN, values=("employee", "freelancer")).describe()
        == "职业类型属于企业员工、自由职业"
    )
    assert (
        Condition(F.AMOUNT_TO_INCOME, O.AT_LEAST, Decimal("8")).describe()
        == "借款金额/月收入不低于 8 倍"
    )


@given(
    income=incomes,
    amount=amounts,
    cut=st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False),
    points=st.integers(-MAX_POINTS, MAX_POINTS),
)
def test_below_and_at_least_split_every_lead(income, amount, cut, points):
    """Exactly one of "below x" and "at least x" holds, for income and for the ratio."""
    lead = LeadFacts(income, amount, "北京", "employee")
    for field in (F.MONTHLY_INCOME, F.AMOUNT_TO_INCOME):
        rules = Rules(
            scores=(
                ScoreRule(Condition(field, O.BELOW, cut), points),
                ScoreRule(Condition(field, O.AT_LEAST, cut), points),
            )
        )
        assert evaluate(rules, lead).score == points


@given(
    income=incomes,
    amount=amounts,
    points=st.lists(st.integers(-MAX_POINTS, MAX_POINTS), max_size=8),
)
def test_score_is_the_sum_of_the_points_of_rules_that_hold_and_survives_storage(
    income, amount, points
):
    lead = LeadFacts(income, amount, "北京", "employee")
    rules = Rules(
        scores=tuple(
            ScoreRule(band(str(i * 1000), str(i * 1000 + 5000)), p) for i, p in enumerate(points)
        ),
        threshold=0,
        threshold_reason="income",
    )
    stored = Rules.from_json(rules.as_json())
    assert stored == rules
    verdict = evaluate(stored, lead)
    assert verdict.score == sum(line.points for line in verdict.lines)
    assert (verdict.outcome is Outcome.REJECT) == (verdict.score < 0)
    assert lines_from_json([line.as_json() for line in verdict.lines]) == verdict.lines


def form(**fields: str) -> dict[str, str]:
    return fields


def test_forms_parse_typed_rules():
    hard = parse_hard_filter(
        form(
            filter_field="city",
            filter_operator="not_in",
            filter_values="北京，上海 、北京",
            reason="not_eligible",
        ),
        REASONS,
    )
    # Cities are kept by their canonical names, each once.
    assert hard == HardFilter(
        Condition(F.CITY, O.NOT_IN, values=("北京市", "上海市")), "not_eligible"
    )
    rule = parse_score_rule(
        form(
            score_field="employment_type",
            score_operator="in",
            score_values="企业员工、freelancer",
            score_low="",
            points="-15",
        )
    )
    assert rule == ScoreRule(
        Condition(F.EMPLOYMENT_TYPE, O.IN, values=("employee", "freelancer")), -15
    )
    assert parse_threshold_form(form(threshold=""), REASONS).value is None


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        (
            {"score_field": "monthly_income", "score_operator": "in", "points": "1"},
            "score_operator",
        ),
        ({"score_field": "city", "score_operator": "below", "points": "1"}, "score_operator"),
        ({"score_field": "salary", "score_operator": "below", "points": "1"}, "score_field"),
        (
            {
                "score_field": "monthly_income",
                "score_operator": "below",
                "score_low": "１２",
                "points": "1",
            },
            "score_low",
        ),
        (
            {
                "score_field": "monthly_income",
                "score_operator": "below",
                "score_low": "-5",
                "points": "1",
            },
            "score_low",
        ),
        (
            {
                "score_field": "monthly_income",
                "score_operator": "below",
                "score_low": "1e9",
                "points": "1",
            },
            "score_low",
        ),
        (
            {
                "score_field": "monthly_income",
                "score_operator": "below",
                "score_low": "9" * 60,
                "points": "1",
            },
            "score_low",
        ),
        (
            {
                "score_field": "monthly_income",
                "score_operator": "between",
                "score_low": "9",
                "score_high": "9",
                "points": "1",
            },
            "score_high",
        ),
        (
            {
                "score_field": "monthly_income",
                "score_operator": "below",
                "score_low": "5",
                "points": "1001",
            },
            "points",
        ),
        (
            {
                "score_field": "monthly_income",
                "score_operator": "below",
                "score_low": "5",
                "points": "٣",
            },
            "points",
        ),
        (
            {
                "score_field": "monthly_income",
                "score_operator": "below",
                "score_low": "5",
                "points": "--3",
            },
            "points",
        ),
        (
            {"score_field": "city", "score_operator": "in", "score_values": "", "points": "1"},
            "score_values",
        ),
        (
            {
                "score_field": "city",
                "score_operator": "in",
                "score_values": "城" * 31,
                "points": "1",
            },
            "score_values",
        ),
        (
            {
                "score_field": "city",
                "score_operator": "in",
                "score_values": "a\x00b",
                "points": "1",
            },
            "score_values",
        ),
        (
            {
                "score_field": "city",
                "score_operator": "in",
                "score_values": ",".join(str(i) for i in range(51)),
                "points": "1",
            },
            "score_values",
        ),
        (
            {
                "score_field": "employment_type",
                "score_operator": "in",
                "score_values": "宇航员",
                "points": "1",
            },
            "score_values",
        ),
        (
            {
                "score_field": ["city", "x"],
                "score_operator": "in",
                "score_values": "北京",
                "points": ["1", "2"],
            },
            None,
        ),
    ],
)
def test_hostile_rule_forms_get_field_errors(fields, key):
    if key is None:  # repeated keys: the first value is read, as everywhere
        assert parse_score_rule(fields).points == 1
        return
    with pytest.raises(ValidationFailed) as caught:
        parse_score_rule(fields)
    assert key in caught.value.errors


def test_filter_needs_a_current_reason_and_threshold_its_reason():
    with pytest.raises(ValidationFailed) as caught:
        parse_hard_filter(
            form(filter_field="city", filter_operator="in", filter_values="北京", reason="gone"),
            REASONS,
        )
    assert "reason" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        parse_threshold_form(form(threshold="99999999"), REASONS)
    assert set(caught.value.errors) == {"threshold", "threshold_reason"}
    assert (
        parse_threshold_form(form(threshold="-20", threshold_reason="income"), REASONS).value == -20
    )


@given(
    data=st.dictionaries(
        st.sampled_from(
            ["score_field", "score_operator", "score_low", "score_high", "score_values", "points"]
        ),
        st.one_of(st.text(max_size=40), st.lists(st.text(max_size=10), max_size=3)),
    )
)
def test_any_rule_form_is_parsed_or_refused_with_field_errors(data):
    """Whatever a browser (or an attacker) sends, the parser answers with a rule or with
    field errors: never another exception."""
    try:
        rule = parse_score_rule(data)
    except ValidationFailed as exc:
        assert exc.errors
    else:
        assert -MAX_POINTS <= rule.points <= MAX_POINTS
        assert rule.condition.describe()
