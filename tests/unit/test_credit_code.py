"""GB 32100-2015 unified social credit codes: the check character over 17 characters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from marketplace.partners.credit_code import CHARSET, check_char, is_valid_credit_code

# Published codes of real organisations.
REAL_CODES = ["91350100M000100Y43", "91110108MA01KPGK0L", "91440300708461136T"]


def test_real_codes_are_valid():
    for code in REAL_CODES:
        assert is_valid_credit_code(code), code


def test_wrong_length_charset_or_check_character_is_refused():
    assert not is_valid_credit_code("91350100M000100Y4")
    assert not is_valid_credit_code("91350100M000100Y433")
    assert not is_valid_credit_code("91350100M000100Y44")
    assert not is_valid_credit_code("91350100I000100Y43")  # I is not in the charset
    assert not is_valid_credit_code("９1350100M000100Y43")  # a full-width digit
    assert not is_valid_credit_code("")


body = st.text(alphabet=CHARSET, min_size=17, max_size=17)


@given(body)
def test_the_computed_check_character_always_validates(first_17):
    assert is_valid_credit_code(first_17 + check_char(first_17))


@given(body, st.sampled_from(CHARSET))
def test_any_other_check_character_is_refused(first_17, other):
    if other != check_char(first_17):
        assert not is_valid_credit_code(first_17 + other)


@given(body, st.integers(0, 16), st.sampled_from(CHARSET))
def test_a_single_changed_character_is_caught(first_17, position, replacement):
    code = first_17 + check_char(first_17)
    changed = code[:position] + replacement + code[position + 1 :]
    if changed != code:
        assert not is_valid_credit_code(changed)
