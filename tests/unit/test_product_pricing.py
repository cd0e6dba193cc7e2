"""A product's APR range covers every quote a borrower can get from it (any offered method,
term and amount), and contingent charges are read and disclosed as typed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.errors import ValidationFailed
from marketplace.loancalc import Fee, RepaymentMethod, quote
from marketplace.products.disclosures import Basis, ContingentKind, load, missing
from marketplace.products.validation import (
    PriceTerms,
    methods_apr_range,
    parse_product_input,
)
from tests.factories import PRODUCT_FORM

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# The range is computed at the amount extremes; between them fen rounding of a payment can
# move an APR a little (a 1-month loan of 1,704.08 yuan at 1%: 0.001 points), never by half
# of the 0.01% the pages show, so the displayed range still covers every displayed quote.
TOLERANCE = Decimal("0.00005")

methods = st.lists(st.sampled_from(list(RepaymentMethod)), min_size=1, max_size=5, unique=True)
fees = st.lists(
    st.one_of(
        st.builds(
            Fee,
            kind=st.just("arrangement"),
            timing=st.just("upfront"),
            amount=st.integers(1, 500).map(Decimal),
        ),
        st.builds(
            Fee,
            kind=st.just("service"),
            timing=st.just("per_period"),
            rate=st.integers(1, 80).map(lambda bp: Decimal(bp) / 10000),
        ),
    ),
    max_size=2,
)


@st.composite
def products(draw: st.DrawFn) -> PriceTerms:
    amount_min = Decimal(draw(st.integers(1000, 50_000)))
    amount_max = amount_min + Decimal(draw(st.integers(0, 200_000)))
    terms = sorted(draw(st.sets(st.integers(1, 60), min_size=1, max_size=4)))
    rate = Decimal(draw(st.integers(100, 2000))) / 10000  # 1%–20% a year
    return PriceTerms(
        amount_min=amount_min,
        amount_max=amount_max,
        term_options=terms,
        rate=rate,
        rate_period="year",
        repayment_methods=[str(m) for m in draw(methods)],
        fees=draw(fees),
    )


@PROPS
@given(products(), st.data())
def test_apr_range_covers_every_quote(terms, data):
    low, high = methods_apr_range(terms)
    method = data.draw(st.sampled_from(terms.repayment_methods))
    term = data.draw(st.sampled_from(terms.term_options))
    fen = data.draw(st.integers(int(terms.amount_min * 100), int(terms.amount_max * 100)))
    apr = quote(Decimal(fen) / 100, term, method, terms.rate, "year", terms.fees).apr
    assert low - TOLERANCE <= apr <= high + TOLERANCE


@PROPS
@given(products())
def test_each_method_is_inside_the_product_range(terms):
    low, high = methods_apr_range(terms)
    for method in terms.repayment_methods:
        one = PriceTerms(**{**terms.__dict__, "repayment_methods": [method]})
        method_low, method_high = methods_apr_range(one)
        assert low <= method_low <= method_high <= high


@PROPS
@given(st.integers(-100, 5000), st.integers(1, 800).map(lambda bp: Decimal(bp) / 10000))
def test_floating_rate_is_lpr_plus_spread(spread, lpr):
    parsed = parse_product_input(
        {**PRODUCT_FORM, "rate_type": "floating", "rate_spread_bps": str(spread), "rate": ""}
    ).price_terms
    assert parsed.spread_bps == spread
    priced = parsed.with_lpr(lpr)
    assert priced.rate == lpr + Decimal(spread) / 10000 and priced.rate_period == "year"


def test_contingent_fees_parsed_as_typed():
    data = {
        **PRODUCT_FORM,
        "late_fee_basis": "daily_rate",
        "late_fee_value": "0.05",
        "penalty_fee_basis": "amount",
        "penalty_fee_value": "50",
        "early_repayment_fee_basis": "rate",
        "early_repayment_fee_value": "2",
    }
    fees = parse_product_input(data).contingent_fees
    assert [(f.kind, f.basis, f.value) for f in fees] == [
        (ContingentKind.LATE, Basis.DAILY_RATE, Decimal("0.0005")),
        (ContingentKind.PENALTY, Basis.AMOUNT, Decimal("50")),
        (ContingentKind.EARLY_REPAYMENT, Basis.RATE, Decimal("0.02")),
    ]
    stored = load([fee.to_dict() for fee in fees])
    assert stored == tuple(fees) and not missing(stored)
    assert stored[0].describe() == "按逾期本金每日 0.05%"
    assert missing(stored[1:]) == [ContingentKind.LATE]


@pytest.mark.parametrize("basis", ["", "none"])
def test_a_charge_not_taken_needs_no_value(basis):
    data = {**PRODUCT_FORM, "late_fee_basis": basis, "late_fee_value": "垃圾"}
    fees = parse_product_input(data).contingent_fees
    assert ContingentKind.LATE not in {f.kind for f in fees} or fees[0].basis is Basis.NONE


def test_floating_spread_refuses_a_sign_in_the_middle():
    with pytest.raises(ValidationFailed) as excinfo:
        parse_product_input({**PRODUCT_FORM, "rate_type": "floating", "rate_spread_bps": "1-5"})
    assert set(excinfo.value.errors) == {"rate_spread_bps"}


def test_diff_reads_versions_listed_before_several_methods():
    from marketplace.products.versions import diff_snapshots

    old = {
        "name": "安居贷",
        "repayment_method": "equal_installment",
        "rate": "0.072",
        "rate_period": "year",
        "fees": "[]",
        "description": "甲" * 100,
    }
    new = {
        **old,
        "repayment_methods": ["equal_installment", "bullet"],
        "contingent_fees": [{"kind": "late", "basis": "none", "value": None}],
        "description": "甲" * 100 + "乙",
    }
    rows = {row.label: row for row in diff_snapshots(old, new)}
    assert not rows["产品名称"].changed
    assert (rows["还款方式"].old, rows["还款方式"].new) == (
        "等额本息",
        "等额本息、到期一次还本付息",
    )
    assert rows["逾期与提前还款费用"].old == "未披露"
    assert rows["逾期与提前还款费用"].new == "逾期罚息：不收取"
    assert rows["产品说明"].pieces[-1] == ("insert", "乙")
