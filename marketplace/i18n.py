"""gettext for the whole product: one set of catalogues, loaded once, shared with Jinja.

Source strings are zh-CN; an English catalogue can be added under locale/ later. Text a
person reads goes through `_()` where it is produced. A module-level constant is only
marked with `N_()` (so `make messages` extracts it) and translated by `_()` where it is
shown. Placeholders are named (`_("借款期限必须在{min}到{max}个月之间", min=1, max=360)`)
and filled after translation, so a translation may reorder them; never build the message
with an f-string inside `_()`, or it cannot be found in the catalogue.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from pathlib import Path

from marketplace.settings import PROJECT_ROOT

__all__ = [
    "DOMAIN",
    "LANGUAGE",
    "LOCALE_DIR",
    "N_",
    "_",
    "translated",
    "translations",
    "translations_for",
]

DOMAIN = "messages"
LOCALE_DIR = PROJECT_ROOT / "locale"
LANGUAGE = "zh_CN"


def translations_for(localedir: Path, language: str) -> gettext.NullTranslations:
    """The `messages` catalogue of `language`; untranslated (source text) if there is none."""
    return gettext.translation(
        DOMAIN, localedir=str(localedir), languages=[language], fallback=True
    )


translations = translations_for(LOCALE_DIR, LANGUAGE)


def _(message: str, **values: object) -> str:
    """Translate `message`, then fill its `{named}` placeholders from `values`."""
    # gettext("") is the catalogue's header, never a message.
    text = translations.gettext(message) if message else message
    return text.format(**values) if values else text


def N_(message: str) -> str:
    """Mark a constant for extraction; `_()` translates it where it is shown."""
    return message


def translated(labels: Mapping[str, str]) -> dict[str, str]:
    """A {key: label} table of `N_()` labels, translated for display."""
    return {key: _(label) for key, label in labels.items()}
