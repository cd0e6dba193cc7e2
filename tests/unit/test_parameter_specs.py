"""Every system parameter has a spec (type, unit, range, description), its default fits the
spec, and whatever an operator types is either read in the parameter's shape or refused
with a message — never another exception."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.errors import DomainError
from marketplace.parameters.services import DEFAULTS
from marketplace.parameters.specs import (
    CODE_LIST,
    GROUPS,
    INTEGER,
    INTEGER_LIST,
    KIND_LABELS,
    SPECS,
    as_text,
    coerce,
    parse_text,
)


def test_every_parameter_has_a_spec_and_every_spec_a_parameter() -> None:
    assert set(DEFAULTS) - set(SPECS) == set(), "add these to marketplace/parameters/specs.py"
    assert set(SPECS) - set(DEFAULTS) == set()


@pytest.mark.parametrize("key", sorted(SPECS))
def test_the_default_fits_its_spec_and_survives_the_edit_form(key: str) -> None:
    spec = SPECS[key]
    assert spec.key == key and spec.group in GROUPS and spec.kind in KIND_LABELS
    assert spec.label and spec.description
    default = DEFAULTS[key]
    assert coerce(spec, default) == default
    assert parse_text(spec, as_text(spec, default)) == default
    if spec.kind in (INTEGER, INTEGER_LIST, "decimal"):
        assert spec.minimum is not None and spec.maximum is not None
        assert spec.minimum <= spec.maximum
    if spec.kind in (CODE_LIST, INTEGER_LIST):
        assert spec.max_items >= len(default)


@pytest.mark.parametrize(
    ("key", "typed", "stored"),
    [
        ("lpr_1y", "0.035", "0.035"),
        ("lpr_1y", " 0.04 ", "0.04"),
        ("collection_daily_cap", "5", 5),
        ("collection_hours_start", "09:30", "09:30"),
        ("licence_reminder_days", "7，30, 60", [60, 30, 7]),
        (
            "rejection_reasons",
            "income=收入不足\n\nother=其他",
            [{"code": "income", "label": "收入不足"}, {"code": "other", "label": "其他"}],
        ),
    ],
)
def test_typed_values_are_read_in_the_stored_shape(key: str, typed: str, stored: object) -> None:
    assert parse_text(SPECS[key], typed) == stored


HOSTILE = [
    ("lpr_1y", ""),
    ("lpr_1y", "abc"),
    ("lpr_1y", "0"),  # below the range
    ("lpr_1y", "-0.01"),
    ("lpr_1y", "1e999"),
    ("lpr_1y", "NaN"),
    ("lpr_1y", "Infinity"),
    ("lpr_1y", "０.０３"),  # full-width digits
    ("lpr_1y", "0.0300001"),  # more than six places
    ("vat_rate", "1.5"),
    ("collection_daily_cap", "3.5"),
    ("collection_daily_cap", "99999999999999999999999"),
    ("collection_daily_cap", "-1"),
    ("collection_daily_cap", "٣"),  # Arabic-Indic digit
    ("collection_daily_cap", "1; DROP TABLE system_parameter"),
    ("collection_hours_start", "24:00"),
    ("collection_hours_start", "8:00"),
    ("collection_hours_start", "<script>alert(1)</script>"),
    ("licence_reminder_days", "30, 30"),
    ("licence_reminder_days", "1,2,3,4,5,6,7,8,9,10,11"),
    ("licence_reminder_days", "0"),
    ("rejection_reasons", "收入不足"),  # no "code="
    ("rejection_reasons", "Income=收入不足"),
    ("rejection_reasons", "a=x\na=y"),
    ("rejection_reasons", "a=" + "长" * 21),
    ("rejection_reasons", "a=\x00"),
    ("rejection_reasons", "x" * 5000),
]


@pytest.mark.parametrize(("key", "typed"), HOSTILE)
def test_hostile_text_is_refused_with_a_message(key: str, typed: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_text(SPECS[key], typed)
    assert refused.value.field == "value" and refused.value.message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("collection_daily_cap", True),
        ("collection_daily_cap", 2.5),
        ("collection_daily_cap", None),
        ("lpr_1y", 0.03),  # a float is not a decimal
        ("lpr_1y", Decimal("NaN")),
        ("licence_reminder_days", [30, "7"]),
        ("licence_reminder_days", "30"),
        ("document_kinds", [{"code": "x"}]),
        ("collection_hours_end", 2100),
    ],
)
def test_values_of_the_wrong_type_from_code_are_refused(key: str, value: object) -> None:
    with pytest.raises(DomainError):
        coerce(SPECS[key], value)


@given(key=st.sampled_from(sorted(SPECS)), typed=st.text(max_size=300))
def test_any_text_is_read_or_refused_never_crashes(key: str, typed: str) -> None:
    spec = SPECS[key]
    try:
        value = parse_text(spec, typed)
    except DomainError as exc:
        assert exc.field == "value"
        return
    assert coerce(spec, value) == value  # whatever is accepted is in range and shape
