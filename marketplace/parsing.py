"""The one input-parsing layer: bounded parsers for text that people and browsers send.

Every parser takes the raw value (a str, a list of them for repeated keys, or None when
absent) and returns a typed value or raises `FieldError` with a translated message; it
never raises anything else, whatever it is given. Forms use them strictly (collecting
field errors); query strings leniently (`lenient` falls back to a default). Lengths come
from the Piccolo columns (`column_length`), so a form and its column never disagree.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, TypeVar

from piccolo.columns import Array, Column, Varchar

from marketplace.errors import DomainError, ValidationFailed
from marketplace.i18n import _
from marketplace.loancalc import MAX_PRINCIPAL

T = TypeVar("T")

# PostgreSQL `integer` / `serial`: ids and counts past it overflow in the database.
MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Plain or thousands-grouped digits, optional fraction; no sign, exponent, NaN or Infinity.
_DECIMAL = re.compile(r"(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.([0-9]+))?")
# Longest decimal text worth reading: anything longer is out of every range we accept.
_MAX_NUMBER_TEXT = 40
# Tab and newlines are kept for multi-line text; every other control character is refused
# (PostgreSQL rejects NUL; the rest are never typed by a person).
_ALLOWED_CONTROLS = frozenset("\t\n\r")


class FieldError(ValueError):
    """One field's value is unusable; `message` is translated and safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def column_length(column: Column) -> int:
    """The character limit of a Varchar column, or of the Varchar items of an Array."""
    if isinstance(column, Array):
        column = column.base_column
    if not isinstance(column, Varchar) or column.length is None:
        raise TypeError(f"{column!r} has no length")
    return column.length


def first(raw: Any) -> str:
    """A single value from a form or query: the first of repeated keys, never None."""
    if isinstance(raw, list | tuple):
        raw = raw[0] if raw else ""
    return "" if raw is None else str(raw)


def parse_int(raw: Any, *, label: str, minimum: int = 0, maximum: int = MAX_ID) -> int:
    """ASCII digits only (`str.isdigit` also accepts '²' and '٣'), within the bounds.
    `label` is the field's name, already translated."""
    text = first(raw).strip()
    if not text:
        raise FieldError(_("请填写{label}", label=label))
    if not _DIGITS.fullmatch(text) or len(text) > len(str(maximum)):
        raise FieldError(
            _(
                "{label}应为{minimum}到{maximum}之间的整数",
                label=label,
                minimum=minimum,
                maximum=maximum,
            )
        )
    value = int(text)
    if not minimum <= value <= maximum:
        raise FieldError(
            _(
                "{label}应为{minimum}到{maximum}之间的整数",
                label=label,
                minimum=minimum,
                maximum=maximum,
            )
        )
    return value


def parse_decimal(
    raw: Any, *, label: str, minimum: Decimal, maximum: Decimal, scale: int = 2
) -> Decimal:
    """A plain decimal ("12000", "12,000.5") with at most `scale` decimal places, within
    the bounds. No sign, exponent, NaN or Infinity: `Decimal("1e999999")` is a number."""
    text = first(raw).strip().replace("，", ",")
    if not text:
        raise FieldError(_("请填写{label}", label=label))
    match = _DECIMAL.fullmatch(text) if len(text) <= _MAX_NUMBER_TEXT else None
    if match is None:
        raise FieldError(_("请填写正确的{label}", label=label))
    fraction = match.group(1) or ""
    if len(fraction.rstrip("0")) > scale:
        raise FieldError(_("{label}最多保留{scale}位小数", label=label, scale=scale))
    value = Decimal(text.replace(",", ""))
    if value < minimum:
        raise FieldError(_("{label}不能小于{minimum}", label=label, minimum=_plain(minimum)))
    if value > maximum:
        raise FieldError(_("{label}不能大于{maximum}", label=label, maximum=_plain(maximum)))
    return value


def parse_money(
    raw: Any, *, label: str, minimum: Decimal = Decimal(0), maximum: Decimal = MAX_PRINCIPAL
) -> Decimal:
    """An amount of yuan to the fen, within the bounds (by default 0 to MAX_PRINCIPAL)."""
    return parse_decimal(raw, label=label, minimum=minimum, maximum=maximum, scale=2)


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


def parse_text(
    raw: Any, *, label: str, max_length: int, min_length: int = 0, multiline: bool = False
) -> str:
    """Stripped text of at most `max_length` characters, without control characters
    (tab and newlines only when `multiline`). `min_length` > 0 makes it required."""
    text = first(raw).strip()
    if min_length and not text:
        raise FieldError(_("请填写{label}", label=label))
    if len(text) > max_length or len(text) < min_length:
        if min_length:
            raise FieldError(
                _(
                    "{label}应为{minimum}到{maximum}个字",
                    label=label,
                    minimum=min_length,
                    maximum=max_length,
                )
            )
        raise FieldError(_("{label}最多{maximum}个字", label=label, maximum=max_length))
    allowed = _ALLOWED_CONTROLS if multiline else frozenset()
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in text):
        raise FieldError(_("{label}含有无法识别的字符", label=label))
    return text


def parse_choice(raw: Any, choices: Collection[str], *, label: str) -> str:
    text = first(raw).strip()
    if text not in choices:
        raise FieldError(_("请选择{label}", label=label))
    return text


def parse_date(raw: Any, *, label: str) -> date:
    """A calendar date as a date input sends it (YYYY-MM-DD), ASCII digits only."""
    text = first(raw).strip()
    if not text:
        raise FieldError(_("请填写{label}", label=label))
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise FieldError(_("请填写正确的{label}，如 2026-01-31", label=label)) from None


_LOCAL_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?")


def parse_datetime_local(raw: Any, *, label: str, zone: tzinfo) -> datetime:
    """A moment as a `datetime-local` input sends it (2026-01-31T09:30), read as a wall
    time in `zone`; ASCII digits only, years 2000 to 2099."""
    text = first(raw).strip()
    if not text:
        raise FieldError(_("请填写{label}", label=label))
    try:
        if not _LOCAL_DATETIME.fullmatch(text):
            raise ValueError(text)
        value = datetime.fromisoformat(text)
        if not 2000 <= value.year <= 2099:
            raise ValueError(text)
        return value.replace(tzinfo=zone)
    except ValueError:
        raise FieldError(_("请填写正确的{label}，如 2026-01-31 09:30", label=label)) from None


LIST_SEPARATORS = re.compile(r"[,，、;；\s]+")


def parse_list(raw: Any, *, label: str, max_length: int, max_items: int) -> list[str]:
    """Items typed into one box ("北京，上海") or sent as repeated keys; each item bounded
    like text, duplicates dropped, at most `max_items`."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list | tuple) else LIST_SEPARATORS.split(str(raw))
    parsed: list[str] = []
    for item in items:
        if len(first(item).strip()) > max_length:
            raise FieldError(_("每个{label}最多{maximum}个字", label=label, maximum=max_length))
        text = parse_text(item, label=label, max_length=max_length)
        if text and text not in parsed:
            parsed.append(text)
    if len(parsed) > max_items:
        raise FieldError(_("{label}最多{count}项", label=label, count=max_items))
    return parsed


def lenient(parse: Callable[..., T], raw: Any, default: T, **bounds: Any) -> T:
    """For query strings: a missing or malformed value means the default, not an error."""
    if not first(raw).strip():
        return default
    try:
        return parse(raw, label="", **bounds)
    except FieldError:
        return default


class FormReader:
    """Reads one submitted form, collecting every field error instead of stopping at the
    first, so the page can show them all at once."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, str] = {}

    def field(self, key: str, parse: Callable[..., T], default: T, **options: Any) -> T:
        """`parse(self.data[key], **options)`; on a FieldError, records it and returns
        `default` so that the other fields are still read."""
        try:
            return parse(self.data.get(key), **options)
        except FieldError as exc:
            self.errors.setdefault(key, exc.message)
            return default

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(key, message)

    def raise_errors(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


REASON_LENGTH = (2, 200)


def parse_reason(raw: Any) -> str:
    """Why an operator changes a setting (kept in its history and in the audit log):
    required, 2 to 200 characters; a DomainError on the `reason` field."""
    low, high = REASON_LENGTH
    try:
        return parse_text(raw, label=_("修改原因"), min_length=low, max_length=high)
    except FieldError as exc:
        raise DomainError(exc.message, field="reason") from None
