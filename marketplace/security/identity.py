"""Validation of mainland identity data: ID number (GB 11643-1999), mobile, personal name.

Validators take raw user input, normalise it the same way the ``normalise_*`` functions do
and return a translated error message or None. Store and index the normalised form.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from marketplace.i18n import N_, _

__all__ = [
    "ID_NUMBER_BAD_BIRTH_DATE",
    "ID_NUMBER_BAD_CHECKSUM",
    "ID_NUMBER_BAD_FORMAT",
    "ID_NUMBER_BAD_LENGTH",
    "ID_NUMBER_BAD_REGION",
    "MOBILE_BAD_FORMAT",
    "NAME_BAD_CHARACTERS",
    "NAME_BAD_LENGTH",
    "age_on",
    "birth_date_from_id",
    "id_check_char",
    "gender_from_id",
    "normalise_id_number",
    "normalise_mobile",
    "today_in_china",
    "validate_chinese_name",
    "validate_id_number",
    "validate_mobile",
]

ID_NUMBER_BAD_LENGTH = N_("身份证号码应为18位")
ID_NUMBER_BAD_FORMAT = N_("身份证号码应由17位数字和1位数字或X组成")
ID_NUMBER_BAD_REGION = N_("身份证号码中的地区码无效")
ID_NUMBER_BAD_BIRTH_DATE = N_("身份证号码中的出生日期无效")
ID_NUMBER_BAD_CHECKSUM = N_("身份证号码校验位不正确")
MOBILE_BAD_FORMAT = N_("请输入正确的11位手机号码")
NAME_BAD_LENGTH = N_("姓名应为2至20个字符")
NAME_BAD_CHARACTERS = N_("姓名只能包含汉字、英文字母或间隔号“·”")

# China has had no daylight saving time since 1991, so a fixed offset is exact.
_CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

# ISO 7064 MOD 11-2 as used by GB 11643-1999.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_MOBILE_SHAPE = re.compile(r"1[3-9][0-9]{9}")
_MOBILE_SEPARATORS = re.compile(r"[\s\-()]")
_MOBILE_COUNTRY_PREFIX = re.compile(r"^(?:\+86|0086|86)(?=1[0-9]{10}$)")

_CJK_RANGES = (
    (0x3400, 0x4DBF),  # Extension A
    (0x4E00, 0x9FFF),  # Unified Ideographs
    (0xF900, 0xFAFF),  # Compatibility Ideographs
    (0x20000, 0x323AF),  # Extensions B-H (rare characters do occur in names)
)
_MIDDLE_DOT = "·"
_LATIN_NAME = re.compile(r"[A-Za-z]+(?:[ ·.'\-][A-Za-z]+)*\.?")


def today_in_china() -> date:
    return datetime.now(_CHINA_TZ).date()


def normalise_id_number(raw: str) -> str:
    """Full-width to ASCII, whitespace removed, check char upper-cased."""
    return "".join(unicodedata.normalize("NFKC", raw).split()).upper()


def normalise_mobile(raw: str) -> str:
    """Full-width to ASCII, spaces/dashes/brackets removed, +86/0086/86 prefix dropped."""
    digits = _MOBILE_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    return _MOBILE_COUNTRY_PREFIX.sub("", digits)


def id_check_char(first_17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of an ID number."""
    total = sum(int(digit) * weight for digit, weight in zip(first_17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def _birth_date(id_number: str) -> date | None:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def validate_id_number(raw: str, *, today: date | None = None) -> str | None:
    id_number = normalise_id_number(raw)
    if len(id_number) != 18:
        return _(ID_NUMBER_BAD_LENGTH)
    if not _ID_SHAPE.fullmatch(id_number):
        return _(ID_NUMBER_BAD_FORMAT)
    if id_number[0] not in "12345678":
        return _(ID_NUMBER_BAD_REGION)
    born = _birth_date(id_number)
    if born is None or born.year < 1900 or born > (today or today_in_china()):
        return _(ID_NUMBER_BAD_BIRTH_DATE)
    if id_check_char(id_number[:17]) != id_number[17]:
        return _(ID_NUMBER_BAD_CHECKSUM)
    return None


def birth_date_from_id(id_number: str) -> date:
    """Birth date encoded in an ID number; ValueError if it holds no real date."""
    born = _birth_date(normalise_id_number(id_number))
    if born is None:
        raise ValueError("ID number holds no valid birth date")
    return born


def age_on(id_number: str, on: date) -> int:
    """Completed years of age on ``on`` (someone born 29 Feb turns a year older on 1 Mar)."""
    born = birth_date_from_id(id_number)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def gender_from_id(id_number: str) -> Literal["male", "female"]:
    """The 17th digit is odd for men and even for women."""
    normalised = normalise_id_number(id_number)
    if len(normalised) != 18 or not normalised[16].isdigit():
        raise ValueError("not an 18-character ID number")
    return "male" if int(normalised[16]) % 2 else "female"


def validate_mobile(raw: str) -> str | None:
    if _MOBILE_SHAPE.fullmatch(normalise_mobile(raw)):
        return None
    return _(MOBILE_BAD_FORMAT)


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _is_chinese_name(name: str) -> bool:
    parts = name.split(_MIDDLE_DOT)
    return all(part and all(_is_cjk(char) for char in part) for part in parts)


def validate_chinese_name(raw: str) -> str | None:
    """Han characters joined by "·" (e.g. 买买提·艾力), or a Latin-letter name."""
    name = unicodedata.normalize("NFC", raw.strip())
    if not 2 <= len(name) <= 20:
        return _(NAME_BAD_LENGTH)
    if _is_chinese_name(name) or _LATIN_NAME.fullmatch(name):
        return None
    return _(NAME_BAD_CHARACTERS)
