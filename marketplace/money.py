"""Money helpers: CNY held as `Decimal`, never float.

`to_fen` is the one place where amounts are rounded to the fen (0.01 CNY), half-up.
Everything that produces an amount a borrower pays goes through it.
"""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_UP, Context, Decimal, InvalidOperation

from marketplace.i18n import _

__all__ = ["FEN", "NO_VALUE", "format_cny", "format_rate", "parse_money", "to_fen"]

FEN = Decimal("0.01")

# Plain digits ("12000", "12000.5") or thousands-grouped digits ("12,000.50").
_MONEY_RE = re.compile(r"^(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?$")
_MAX_INPUT_LEN = 32


def _as_decimal(x: Decimal | int | str) -> Decimal:
    if isinstance(x, bool | float):
        raise TypeError(f"money must be Decimal, int or str, not {type(x).__name__}")
    if isinstance(x, Decimal):
        return x
    return Decimal(x)


def to_fen(x: Decimal | int | str) -> Decimal:
    """Round to the fen (two decimal places), ROUND_HALF_UP. Floats are refused."""
    d = _as_decimal(x)
    if not d.is_finite():
        raise ValueError(_("金额必须是有限数值"))
    return d.quantize(FEN, rounding=ROUND_HALF_UP)


def parse_money(text: str) -> Decimal:
    """Parse an amount typed by a person: "12,000", "12000.5", "¥12,000.00", "5000元".

    Returns a `Decimal` with two decimal places. Raises `ValueError` with a translated message
    for empty input, malformed numbers, negatives, NaN/Infinity and more than two decimals.
    """
    if text is None:
        raise ValueError(_("请输入金额"))
    s = str(text).strip()
    if not s:
        raise ValueError(_("请输入金额"))
    if len(s) > _MAX_INPUT_LEN:
        raise ValueError(_("金额格式不正确"))
    # Full-width forms are common with Chinese input methods.
    s = s.replace("，", ",").replace("．", ".").replace("－", "-")
    s = s.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if s[:1] in ("¥", "￥"):
        s = s[1:].strip()
    if s.endswith("元"):
        s = s[:-1].strip()
    if s.startswith("-"):
        raise ValueError(_("金额不能为负数"))
    if not _MONEY_RE.match(s):
        raise ValueError(_("金额格式不正确"))
    try:
        value = Decimal(s.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise ValueError(_("金额格式不正确")) from exc
    if value != value.quantize(FEN, rounding=ROUND_HALF_UP):
        raise ValueError(_("金额最多保留两位小数"))
    return to_fen(value)


# Beyond this an amount is not money any more (Numeric(14, 2) columns stop at 10^12);
# it is shown in scientific notation instead of being rounded to a million digits.
_FORMAT_LIMIT = Decimal("1e18")
NO_VALUE = "—"
_WIDE = Context(Emax=MAX_EMAX, Emin=MIN_EMIN)


def _displayable(x: object) -> Decimal | None:
    """A finite Decimal for display, or None; accepts whatever a template hands over."""
    if isinstance(x, bool) or x is None:
        return None
    try:
        value = x if isinstance(x, Decimal) else Decimal(str(x).strip())
    except (InvalidOperation, ValueError, TypeError):
        return None
    return value if value.is_finite() else None


def format_cny(d: object) -> str:
    """Format as "¥12,000.00" (negative amounts as "-¥12.00"). Never raises: a value that
    is not a finite number shows as "—", an absurdly large one in scientific notation."""
    value = _displayable(d)
    if value is None:
        return NO_VALUE
    if abs(value) >= _FORMAT_LIMIT:
        return f"{'-' if value < 0 else ''}¥{abs(value):.2E}"
    value = to_fen(value)
    return f"-¥{-value:,.2f}" if value < 0 else f"¥{abs(value):,.2f}"


def format_rate(fraction: object, digits: int = 2) -> str:
    """Format a rate held as a fraction: Decimal("0.1825") -> "18.25%". Never raises."""
    value = _displayable(fraction)
    if value is None:
        return NO_VALUE
    if abs(value) >= _FORMAT_LIMIT:
        return f"{value.scaleb(2, _WIDE):.2E}%"
    percent = value.scaleb(2)
    quantum = Decimal(1).scaleb(-digits)
    percent = percent.quantize(quantum, rounding=ROUND_HALF_UP)
    if percent == 0:
        percent = abs(percent)  # never print "-0.00%"
    return f"{percent:.{digits}f}%"
