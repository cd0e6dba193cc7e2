"""The one eligibility check and the address mask (issue #10, P5)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from marketplace.accounts.profiles import ProfileFacts
from marketplace.applications.applicant import eligibility_reasons
from marketplace.security import mask_address
from tests.factories import valid_id_number

PRODUCT = {
    "amount_min": Decimal(10000),
    "amount_max": Decimal(200000),
    "term_options": [6, 12],
    "repayment_methods": ["equal_installment"],
    "age_min": 22,
    "age_max": 55,
    "cities": ["杭州"],
    "min_monthly_income": Decimal(5000),
    "employment_types": ["employee"],
}


def _person(**overrides: object) -> ProfileFacts:
    values: dict = {
        "real_name": "张伟",
        "id_number": valid_id_number(),
        "city": "杭州市",
        "monthly_income": Decimal(8000),
        "employment_type": "employee",
        **overrides,
    }
    return ProfileFacts(**values)


def test_a_borrower_who_fits_has_no_reasons():
    assert eligibility_reasons(PRODUCT, _person(), amount=Decimal(50000), term_months=12) == {}


def test_each_condition_gives_its_reason_on_its_field():
    reasons = eligibility_reasons(
        PRODUCT,
        _person(
            id_number=valid_id_number(birth="19500101"),
            city="宁波市",
            monthly_income=Decimal(3000),
            employment_type="freelancer",
        ),
        amount=Decimal(500),
        term_months=24,
        method="bullet",
    )
    assert set(reasons) == {
        "amount",
        "term_months",
        "repayment_method",
        "id_number",
        "city",
        "monthly_income",
        "employment_type",
    }
    assert reasons["city"] == "该产品暂不覆盖您所在的城市：杭州"
    assert reasons["monthly_income"] == "该产品要求月收入不低于5,000元"


def test_what_is_not_known_yet_is_not_held_against_the_borrower():
    blank = _person(id_number="", city="", monthly_income=Decimal(0), employment_type="")
    assert eligibility_reasons(PRODUCT, blank) == {}
    assert eligibility_reasons(PRODUCT, None) == {}
    assert set(eligibility_reasons(PRODUCT, None, amount=Decimal(1))) == {"amount"}


def test_an_address_mask_keeps_only_the_city_part():
    assert mask_address("浙江省杭州市西湖区文三路 90 号 5 幢 301 室") == "浙江省杭州市****"
    assert mask_address("杭州") == "**"
    assert mask_address("") == ""


@given(st.text(max_size=200))
def test_an_address_mask_never_shows_more_than_six_characters(address):
    masked = mask_address(address)
    assert len(masked.replace("*", "")) <= 6
    if len(address.strip()) > 6:
        assert masked == address.strip()[:6] + "****"
