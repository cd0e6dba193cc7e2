"""The one input-parsing layer: bounded, ASCII-only, lengths from the columns, and never
an exception other than the field error, whatever it is given."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.accounts.tables import BorrowerProfile
from marketplace.applications.services import parse_application_input
from marketplace.applications.tables import Application
from marketplace.cities import gazetteer
from marketplace.errors import ValidationFailed
from marketplace.money import NO_VALUE, format_cny, format_rate
from marketplace.parsing import (
    MAX_ID,
    FieldError,
    column_length,
    lenient,
    parse_choice,
    parse_decimal,
    parse_int,
    parse_list,
    parse_text,
)
from marketplace.products import validation
from marketplace.products.tables import Product
from marketplace.products.validation import parse_price_terms, parse_product_input
from tests.factories import PRODUCT_FORM, application_form

HOSTILE = ["²", "٣", "１２", "-1", "+1", "1e3", "1e999999", "NaN", "Infinity", "0x10", " ", "\x00"]
anything = st.one_of(
    st.none(), st.text(), st.lists(st.text(), max_size=3), st.integers(), st.sampled_from(HOSTILE)
)


@given(anything, st.integers(0, 100), st.integers(100, MAX_ID))
def test_parse_int_raises_only_the_field_error(raw, minimum, maximum):
    try:
        value = parse_int(raw, label="期限", minimum=minimum, maximum=maximum)
    except FieldError as exc:
        assert exc.message
    else:
        assert minimum <= value <= maximum


@given(st.text(max_size=45))
def test_parse_int_accepts_exactly_ascii_digit_strings_in_bounds(text):
    accepted = text.strip().isascii() and text.strip().isdigit()
    accepted = accepted and 1 <= int(text.strip()) <= 360
    try:
        value = parse_int(text, label="期限", minimum=1, maximum=360)
    except FieldError:
        assert not accepted
    else:
        assert accepted and value == int(text)


@pytest.mark.parametrize("raw", ["²", "٣", "１２", "9" * 40, "1" + "0" * 20, "-1", "1.0", ""])
def test_parse_int_refuses_what_isdigit_or_postgres_would_not_survive(raw):
    with pytest.raises(FieldError):
        parse_int(raw, label="页码", minimum=1)


@given(anything, st.integers(0, 8))
def test_parse_decimal_raises_only_the_field_error(raw, scale):
    bounds = {"minimum": Decimal(0), "maximum": Decimal("1e10")}
    try:
        value = parse_decimal(raw, label="金额", scale=scale, **bounds)
    except FieldError as exc:
        assert exc.message
    else:
        assert value.is_finite() and bounds["minimum"] <= value <= bounds["maximum"]
        assert value == value.quantize(Decimal(1).scaleb(-scale))


@given(st.decimals(min_value=0, max_value=10**10, places=2, allow_nan=False))
def test_parse_decimal_round_trips_plain_and_grouped_amounts(amount):
    bounds = {"minimum": Decimal(0), "maximum": Decimal(10**10), "scale": 2}
    assert parse_decimal(f"{amount:f}", label="金额", **bounds) == amount
    assert parse_decimal(f"{amount:,}", label="金额", **bounds) == amount


@pytest.mark.parametrize(
    "raw", ["1e999999", "NaN", "Infinity", "-5", "1e3", "12.345", "²", "1,2345", "1" * 41]
)
def test_parse_decimal_refuses_exponents_non_numbers_and_extra_places(raw):
    with pytest.raises(FieldError):
        parse_decimal(raw, label="金额", minimum=Decimal(0), maximum=Decimal(10**10), scale=2)


@given(anything, st.integers(0, 50))
def test_parse_text_fits_its_bound_and_has_no_control_characters(raw, limit):
    try:
        text = parse_text(raw, label="城市", max_length=limit)
    except FieldError:
        return
    assert len(text) <= limit and "\x00" not in text


def test_parse_text_keeps_newlines_only_where_asked():
    assert parse_text("第一行\n第二行", label="说明", max_length=20, multiline=True)
    with pytest.raises(FieldError):
        parse_text("第一行\n第二行", label="名称", max_length=20)
    with pytest.raises(FieldError):
        parse_text("a\x00b", label="说明", max_length=20, multiline=True)


@given(anything)
def test_parse_list_items_fit_the_column(raw):
    limit = column_length(Product.tags)
    try:
        items = parse_list(raw, label="标签", max_length=limit, max_items=4)
    except FieldError:
        return
    assert len(items) <= 4 and all(len(item) <= limit for item in items)


def test_choices_and_lenient_query_values():
    assert parse_choice("year", ("day", "month", "year"), label="周期") == "year"
    with pytest.raises(FieldError):
        parse_choice("decade", ("day", "month", "year"), label="周期")
    assert lenient(parse_int, "²", 1, minimum=1) == 1
    assert lenient(parse_int, "9" * 40, 1, minimum=1) == 1
    assert lenient(parse_int, "7", 1, minimum=1) == 7
    assert lenient(parse_text, "x" * 101, "", max_length=100) == ""


def test_lengths_come_from_the_columns():
    assert column_length(BorrowerProfile.city) == 30
    assert column_length(Product.tags) == 20
    assert column_length(Product.required_documents) == 40
    # Business limits are never looser than the column they are stored in.
    assert column_length(Product.name) >= validation.NAME_MAX_LENGTH
    assert column_length(Product.summary) >= validation.SUMMARY_MAX_LENGTH
    with pytest.raises(TypeError):
        column_length(Product.description)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cities", "北京，" + "城" * 31),
        ("tags", "t" * 21),
        ("keywords", "k" * 21),
        ("required_documents", "d" * 41),
        ("rate", "500"),
        ("rate", "99"),  # with a monthly period: over 100% a year once annualised
        ("amount_max", "1e13"),
        ("amount_max", "10000000000000"),
        ("age_min", "²"),
        ("term_options", "6,12,٣"),
        ("fee_upfront_amount", "10000"),  # as large as the smallest loan
        ("name", "安居\x00装修贷"),
    ],
)
def test_product_form_rejects_with_a_field_error_never_a_crash(field, value):
    form = {**PRODUCT_FORM, field: value}
    if value == "99":
        form["rate_period"] = "month"
    with pytest.raises(ValidationFailed) as excinfo:
        parse_product_input(form)
    assert set(excinfo.value.errors) == {field}


def test_price_terms_alone_report_the_engine_verdict_as_a_field_error():
    with pytest.raises(ValidationFailed) as excinfo:
        parse_price_terms({**PRODUCT_FORM, "rate": "30", "rate_period": "month"})
    assert set(excinfo.value.errors) == {"rate"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("monthly_income", "1e999999"),
        ("monthly_income", "NaN"),
        ("amount", "²"),
        ("term_months", "9" * 40),
        ("city", "c" * 31),
        ("city", "北\x00京"),
        ("submission_key", "k" * 65),
    ],
)
def test_application_form_rejects_with_a_field_error(field, value):
    with pytest.raises(ValidationFailed) as excinfo:
        parse_application_input(1, application_form(**{field: value}))
    assert set(excinfo.value.errors) == {field}


form_values = st.dictionaries(
    st.sampled_from(sorted({*PRODUCT_FORM, *application_form(), "fee_upfront_amount"})),
    st.one_of(st.text(max_size=50), st.sampled_from(HOSTILE), st.lists(st.text(), max_size=3)),
)


@given(form_values)
def test_whole_forms_fail_only_with_field_errors(overrides):
    for parse, form in (
        (parse_product_input, PRODUCT_FORM),
        (lambda data: parse_application_input(1, data), application_form()),
    ):
        try:
            parse({**form, **overrides})
        except ValidationFailed as exc:
            assert exc.errors and all(exc.errors.values())


def test_application_form_fits_its_columns():
    longest = max(gazetteer().by_name, key=len)
    cmd = parse_application_input(1, application_form(city=longest))
    assert cmd.city == longest
    assert len(longest) <= column_length(Application.city)
    assert len(cmd.submission_key) <= column_length(Application.submission_key)


@given(
    st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True),
        st.sampled_from(
            [Decimal("1e999999"), Decimal("-1e999999"), Decimal("sNaN"), Decimal("1e-999999")]
        ),
        st.text(max_size=20),
        st.none(),
        st.integers(),
        st.floats(),
    )
)
def test_money_formatting_never_raises(value):
    assert isinstance(format_cny(value), str)
    assert isinstance(format_rate(value), str)


def test_money_formatting_of_what_cannot_be_money():
    assert format_cny(Decimal("NaN")) == NO_VALUE
    assert format_cny(Decimal("Infinity")) == NO_VALUE
    assert format_cny(Decimal("1e999999")) == "¥1.00E+999999"
    assert format_cny(Decimal("-0.001")) == "¥0.00"
    assert format_cny(Decimal("12000.5")) == "¥12,000.50"
    assert format_rate(Decimal("NaN")) == NO_VALUE
