import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.money import FEN, format_cny, format_rate, parse_money, to_fen

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.005"), Decimal("1.01")),
        (Decimal("1.004999"), Decimal("1.00")),
        (Decimal("2.675"), Decimal("2.68")),  # 2.675 as a float would round to 2.67
        (Decimal("-1.005"), Decimal("-1.01")),  # half-up means away from zero
        (Decimal("12000"), Decimal("12000.00")),
        (7, Decimal("7.00")),
        ("0.125", Decimal("0.13")),
    ],
)
def test_to_fen_rounds_half_up(value, expected):
    result = to_fen(value)
    assert result == expected
    assert result.as_tuple().exponent == -2


def test_to_fen_refuses_float_and_non_finite():
    with pytest.raises(TypeError):
        to_fen(1.005)
    with pytest.raises(ValueError):
        to_fen(Decimal("NaN"))
    with pytest.raises(ValueError):
        to_fen(Decimal("Infinity"))


def test_fen_constant():
    assert Decimal("0.01") == FEN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12,000", Decimal("12000.00")),
        ("12000.5", Decimal("12000.50")),
        ("12000", Decimal("12000.00")),
        (" 1,234,567.89 ", Decimal("1234567.89")),
        ("¥12,000.00", Decimal("12000.00")),
        ("￥800", Decimal("800.00")),
        ("5000元", Decimal("5000.00")),
        ("１２，０００", Decimal("12000.00")),  # full-width input method
        ("0", Decimal("0.00")),
        ("0.5", Decimal("0.50")),
    ],
)
def test_parse_money_accepts(text, expected):
    result = parse_money(text)
    assert result == expected
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-5", "金额不能为负数"),
        ("-1,000.00", "金额不能为负数"),
        ("NaN", "金额格式不正确"),
        ("nan", "金额格式不正确"),
        ("inf", "金额格式不正确"),
        ("Infinity", "金额格式不正确"),
        ("1e5", "金额格式不正确"),
        ("abc", "金额格式不正确"),
        ("12,00", "金额格式不正确"),
        ("1,2345", "金额格式不正确"),
        ("1.2.3", "金额格式不正确"),
        ("12.", "金额格式不正确"),
        ("1" * 40, "金额格式不正确"),
        ("", "请输入金额"),
        ("   ", "请输入金额"),
        ("1.234", "金额最多保留两位小数"),
    ],
)
def test_parse_money_rejects_with_zh_message(text, message):
    with pytest.raises(ValueError) as excinfo:
        parse_money(text)
    assert str(excinfo.value) == message
    assert CJK.search(str(excinfo.value))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12000"), "¥12,000.00"),
        (Decimal("1234567.891"), "¥1,234,567.89"),
        (Decimal("0.005"), "¥0.01"),
        (Decimal("0"), "¥0.00"),
        (Decimal("-1234.5"), "-¥1,234.50"),
        (999, "¥999.00"),
    ],
)
def test_format_cny(value, expected):
    assert format_cny(value) == expected


@pytest.mark.parametrize(
    ("fraction", "digits", "expected"),
    [
        (Decimal("0.1825"), 2, "18.25%"),
        (Decimal("0.18"), 2, "18.00%"),
        (Decimal("0.123456"), 3, "12.346%"),
        (Decimal("0.0005"), 2, "0.05%"),
        (Decimal("0.000049"), 4, "0.0049%"),
        (Decimal("0.1089634752"), 2, "10.90%"),
        (Decimal("0.24"), 0, "24%"),
        (Decimal("-0.00001"), 2, "0.00%"),
    ],
)
def test_format_rate(fraction, digits, expected):
    assert format_rate(fraction, digits) == expected


@given(st.integers(min_value=0, max_value=10**13))
def test_format_then_parse_round_trips(fen):
    amount = Decimal(fen) / 100
    assert parse_money(format_cny(amount)) == amount
