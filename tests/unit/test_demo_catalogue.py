"""Sanity of the demo catalogue: spread, consistency, wording and cost caps."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal, InvalidOperation

import pytest

from marketplace.demo.catalogue import (
    CATEGORIES,
    CITIES,
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    EMPLOYMENT_TYPES,
    FEE_KINDS,
    FEE_TIMINGS,
    INSTITUTION_KINDS,
    INSTITUTIONS,
    PRODUCTS,
    RATE_PERIODS,
    REPAYMENT_METHODS,
)
from marketplace.parameters.services import DEFAULTS
from marketplace.products.disclosures import load as load_contingent
from marketplace.products.disclosures import missing

BANNED_PHRASES = ("秒批", "无视征信", "黑户", "百分百", "包过", "零门槛")
BLOCK_APR = Decimal("0.24")

# Realistic amount bounds per category (yuan).
AMOUNT_BOUNDS = {
    "consumer": (1_000, 300_000),
    "business": (10_000, 3_000_000),
    "car": (30_000, 500_000),
    "mortgage": (100_000, 10_000_000),
    "credit_card": (1_000, 100_000),
}

INSTITUTION_KEYS = {
    "code",
    "name",
    "short_name",
    "kind",
    "licence_no",
    "city",
    "description",
    "service_phone",
    "contact_name",
    "contact_email",
}
# Only floating-rate products carry these.
FLOATING_KEYS = {"rate_type", "rate_spread_bps"}
PRODUCT_KEYS = {
    "institution",
    "name",
    "category",
    "summary",
    "description",
    "amount_min",
    "amount_max",
    "term_options",
    "rate",
    "rate_period",
    "repayment_methods",
    "contingent_fees",
    "fees",
    "age_min",
    "age_max",
    "cities",
    "min_monthly_income",
    "employment_types",
    "required_documents",
    "tags",
    "approval_speed_hours",
    "approval_rate",
    "popularity",
    "keywords",
}

INSTITUTION_CODES = {i["code"] for i in INSTITUTIONS}


def _pid(p: dict) -> str:
    return f"{p['institution']}:{p['name']}"


def _dec(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        pytest.fail(f"not a Decimal string: {text!r}")


def _texts(obj: object):
    """Every string inside a (nested) dict/list."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _texts(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _texts(v)


# --------------------------------------------------------------------------- counts


def test_counts_and_spread():
    assert len(INSTITUTIONS) >= 10
    assert len(PRODUCTS) >= 60
    per_category = Counter(p["category"] for p in PRODUCTS)
    for category in CATEGORIES:
        assert per_category[category] >= 8, category
    per_institution = Counter(p["institution"] for p in PRODUCTS)
    for code in INSTITUTION_CODES:
        assert per_institution[code] >= 3, code


def test_about_half_nationwide():
    nationwide = sum(1 for p in PRODUCTS if not p["cities"])
    assert 0.3 <= nationwide / len(PRODUCTS) <= 0.7


def test_every_institution_kind_present():
    assert {i["kind"] for i in INSTITUTIONS} == set(INSTITUTION_KINDS)


# --------------------------------------------------------------------------- institutions


def test_institutions_shape():
    names = set()
    for inst in INSTITUTIONS:
        assert set(inst) == INSTITUTION_KEYS, inst["code"]
        assert re.fullmatch(r"[a-z][a-z0-9-]+", inst["code"]), inst["code"]
        assert inst["kind"] in INSTITUTION_KINDS
        assert inst["city"] in CITIES
        assert inst["short_name"] and inst["name"] and inst["licence_no"]
        assert re.fullmatch(r"400-\d{3}-\d{4}", inst["service_phone"]), inst["service_phone"]
        assert re.fullmatch(r"[a-z0-9.]+@example\.com", inst["contact_email"])
        assert inst["contact_name"]
        names.add(inst["short_name"])
    assert len(INSTITUTION_CODES) == len(INSTITUTIONS)
    assert len(names) == len(INSTITUTIONS)


# --------------------------------------------------------------------------- products


@pytest.mark.parametrize("product", PRODUCTS, ids=_pid)
def test_product_shape(product):
    p = product
    assert set(p) - FLOATING_KEYS == PRODUCT_KEYS
    assert p["institution"] in INSTITUTION_CODES
    assert p["category"] in CATEGORIES
    assert p["rate_period"] in RATE_PERIODS
    methods = p["repayment_methods"]
    assert methods and len(set(methods)) == len(methods)
    assert all(m in REPAYMENT_METHODS for m in methods)
    # Every product discloses its late, penalty and early-repayment charges.
    assert not missing(load_contingent(p["contingent_fees"]))
    assert p["name"] and p["summary"] and p["description"]

    assert isinstance(p["amount_min"], int) and isinstance(p["amount_max"], int)
    assert 0 < p["amount_min"] < p["amount_max"]
    lo, hi = AMOUNT_BOUNDS[p["category"]]
    assert lo <= p["amount_min"] and p["amount_max"] <= hi

    terms = p["term_options"]
    assert terms and all(isinstance(t, int) and t > 0 for t in terms)
    assert terms == sorted(set(terms))
    assert terms[-1] <= 360

    assert _dec(p["rate"]) > 0

    for fee in p["fees"]:
        assert set(fee) == {"kind", "timing", "amount", "rate"}
        assert fee["kind"] in FEE_KINDS
        assert fee["timing"] in FEE_TIMINGS
        assert (fee["amount"] is None) != (fee["rate"] is None)
        value = fee["amount"] if fee["amount"] is not None else fee["rate"]
        assert _dec(value) > 0

    assert 18 <= p["age_min"] < p["age_max"] <= 70
    assert all(c in CITIES for c in p["cities"])
    assert len(set(p["cities"])) == len(p["cities"])
    assert isinstance(p["min_monthly_income"], int) and p["min_monthly_income"] > 0
    assert p["employment_types"]
    assert set(p["employment_types"]) <= set(EMPLOYMENT_TYPES)
    assert p["required_documents"] and "身份证" in p["required_documents"]
    assert 2 <= len(p["tags"]) <= 4
    assert isinstance(p["approval_speed_hours"], int) and p["approval_speed_hours"] > 0
    assert isinstance(p["approval_rate"], float) and 0.2 <= p["approval_rate"] <= 0.8
    assert isinstance(p["popularity"], int) and p["popularity"] >= 0
    assert p["keywords"]


def test_method_is_consistent_with_category():
    for p in PRODUCTS:
        methods = p["repayment_methods"]
        if p["category"] == "credit_card":
            assert methods == ["flat"], _pid(p)
            assert p["rate_period"] == "month", _pid(p)
        if "flat" in methods:
            assert p["rate_period"] == "month", _pid(p)
        if "bullet" in methods:
            assert max(p["term_options"]) <= 12, _pid(p)


def test_demo_shows_several_methods_and_floating_rates():
    assert any(len(p["repayment_methods"]) >= 3 for p in PRODUCTS)
    floating = [p for p in PRODUCTS if p.get("rate_type") == "floating"]
    assert floating
    for p in floating:
        # The stored rate is the floating rate at the default LPR.
        spread = Decimal(p["rate_spread_bps"]) / 10000
        assert _dec(p["rate"]) == Decimal(DEFAULTS["lpr_1y"]) + spread, _pid(p)
        assert p["rate_period"] == "year"


def test_product_names_unique():
    names = [p["name"] for p in PRODUCTS]
    assert len(names) == len(set(names))


def test_renovation_product_exists():
    assert any("装修" in p["name"] or "装修" in p["summary"] for p in PRODUCTS)


def test_no_banned_marketing_phrases():
    for item in [*INSTITUTIONS, *PRODUCTS]:
        for text in _texts(item):
            for phrase in BANNED_PHRASES:
                assert phrase not in text, (phrase, text)


def test_every_city_is_used():
    used = {c for p in PRODUCTS for c in p["cities"]} | {i["city"] for i in INSTITUTIONS}
    assert used == set(CITIES)


# --------------------------------------------------------------------------- cost caps


@pytest.mark.parametrize("day_count", [360, 365])
def test_dearest_apr_under_block_line(day_count):
    try:
        from marketplace.loancalc import apr_range
    except ImportError:
        pytest.skip("marketplace.loancalc.apr_range not available yet")

    dearest = {}
    for p in PRODUCTS:
        hi = max(
            apr_range(
                Decimal(p["amount_min"]),
                Decimal(p["amount_max"]),
                p["term_options"],
                method,
                Decimal(p["rate"]),
                p["rate_period"],
                p["fees"],
                day_count=day_count,
            )[1]
            for method in p["repayment_methods"]
        )
        assert hi < BLOCK_APR, (_pid(p), hi)
        dearest[_pid(p)] = hi
    # A believable market: most products cheap, a real minority between 12% and 24%.
    share = sum(1 for a in dearest.values() if a >= Decimal("0.12")) / len(dearest)
    assert 0.1 <= share <= 0.35, share


# --------------------------------------------------------------------------- demo logins


def test_demo_accounts():
    assert DEMO_PASSWORD == "Demo12345"
    assert all(a["password"] == DEMO_PASSWORD for a in DEMO_ACCOUNTS)

    staff = [a for a in DEMO_ACCOUNTS if a["kind"] == "institution"]
    admins = {a["institution"] for a in staff if a["role"] == "institution_admin"}
    assert admins == {i["code"] for i in INSTITUTIONS[:3]}
    assert any(a["role"] == "loan_officer" for a in staff)
    for a in staff:
        assert a["institution"] in INSTITUTION_CODES
        assert a["username"] == f"{a['username'].split('@')[0]}@{a['institution']}.example"

    operators = {a["username"]: a["role"] for a in DEMO_ACCOUNTS if a["kind"] == "operator"}
    assert operators == {
        "super@loanmart.example": "super_admin",
        "reviewer@loanmart.example": "product_reviewer",
        "auditor@loanmart.example": "auditor",
    }

    borrowers = [a for a in DEMO_ACCOUNTS if a["kind"] == "borrower"]
    assert borrowers == [
        {"kind": "borrower", "mobile": "13800138000", "password": "Demo12345", "name": "张伟"}
    ]
