"""Numbers the way Chinese finance staff read them: headline tiles in 万 / 亿, tables and
exports in full digits. `headline` is the one template filter for tiles."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from marketplace.i18n import _

NO_VALUE = "—"
_WAN = Decimal(10_000)
_YI = Decimal(100_000_000)
_LIMIT = Decimal("1e20")


def headline(value: object, money: bool = False) -> str:
    """1234 → 1,234; 123456 → 12.35万; 234560000 → 2.35亿 (money: with ¥). Never raises."""
    if value is None or isinstance(value, bool):
        return NO_VALUE
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return NO_VALUE
    if not number.is_finite() or abs(number) >= _LIMIT:
        return NO_VALUE
    sign = "-" if number < 0 else ""
    number = abs(number)
    prefix = sign + ("¥" if money else "")
    if number >= _YI:
        scaled = (number / _YI).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return _("{n}亿", n=f"{prefix}{scaled:,}")
    if number >= _WAN:
        scaled = (number / _WAN).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return _("{n}万", n=f"{prefix}{scaled:,}")
    if money:
        return f"{prefix}{number.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
    return f"{prefix}{number.quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"


def full(value: object, kind: str) -> str:
    """A table cell in full digits: int 1,234,567; money 1,234,567.89; rate 12.34%;
    hours 12.3. None is "—"."""
    from marketplace.money import format_rate

    if value is None:
        return NO_VALUE
    if kind == "rate":
        return format_rate(value)
    if kind in ("int", "money", "hours"):
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return NO_VALUE
        if not number.is_finite():
            return NO_VALUE
        if kind == "money":
            return f"{number.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
        if kind == "hours":
            return f"{number.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,}"
        return f"{number.quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"
    return str(value)


def number(value: object, kind: str = "int", headline_figure: bool = False) -> str:
    """The one template filter: `{{ x|number("money", true) }}` on a headline tile (万/亿),
    `{{ x|number("money") }}` in a table (full digits). Rates are percentages either way."""
    if headline_figure and kind in ("int", "money"):
        return headline(value, money=kind == "money")
    return full(value, kind)
