"""Article addresses: ASCII slugs from the title's pinyin, checked where typed."""

from __future__ import annotations

import re

from pypinyin import lazy_pinyin

SLUG_MAX = 80
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# Room left for a "-12" suffix when the plain slug is taken.
_BASE_MAX = 60


def is_slug(text: str) -> bool:
    return len(text) <= SLUG_MAX and bool(SLUG.fullmatch(text))


def slug_from_title(title: str) -> str:
    """ "年化利率怎么算" -> "nian-hua-li-lv-zen-me-suan"; "" when nothing is left."""
    words = [_NOT_SLUG.sub("-", word.lower()).strip("-") for word in lazy_pinyin(title)]
    slug = "-".join(word for word in words if word)
    slug = re.sub(r"-{2,}", "-", slug)[:_BASE_MAX].strip("-")
    return slug


def with_suffix(base: str, number: int) -> str:
    return f"{base}-{number}"
