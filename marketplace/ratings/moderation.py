"""The automatic check a rating's text (and an institution's reply) goes through before
anyone else reads it: personal data — mobile numbers, ID numbers (18 characters whose last
one is the GB 11643 check character), bank card numbers, e-mail addresses — and the
platform's banned phrases (system parameter `rating_banned_phrases`).

Text is NFKC-normalised first (full-width digits and ＠ become ASCII) and separators
between digits (spaces, dashes, dots) are dropped, so "138 1234-5678" is still a mobile
number. Digits written as Chinese numerals are not recognised; operators see those when a
rating is reported."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from marketplace.actors import Actor
from marketplace.parameters.services import get_parameters
from marketplace.ratings.statuses import CHECK, HoldReason
from marketplace.security.identity import id_check_char

# The automatic check moves a pending rating on (publish / hold).
CHECKER = Actor(
    user_id=None,
    kind="system",
    label="rating-check",
    role="system",
    permissions=frozenset({CHECK}),
)
BANNED_PARAMETER = "rating_banned_phrases"

_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])[\s\-‐‑–—_.·・/]+(?=[0-9xX])")
_DIGIT_RUN = re.compile(r"[0-9]+[xX]?")
_MOBILE = re.compile(r"(?:0?86)?1[3-9][0-9]{9}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Finding:
    reason: HoldReason
    # The banned phrase's code (HoldReason.BANNED_PHRASE); "" otherwise.
    code: str = ""
    # Where it is in the text as typed: [start, end) character offsets.
    start: int = 0
    end: int = 0

    @property
    def key(self) -> str:
        return f"{self.reason}:{self.code}" if self.code else str(self.reason)


class _Mapped:
    """The text NFKC-normalised character by character, with what `drop` matches
    removed, remembering each kept character's offset in the original."""

    def __init__(self, text: str, drop: re.Pattern[str]) -> None:
        chars: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(text):
            for part in unicodedata.normalize("NFKC", char):
                chars.append(part)
                origin.append(index)
        joined = "".join(chars)
        kept = [True] * len(joined)
        for match in drop.finditer(joined):
            for position in range(match.start(), match.end()):
                kept[position] = False
        self.text = "".join(c for c, keep in zip(joined, kept, strict=True) if keep)
        self.origin = [o for o, keep in zip(origin, kept, strict=True) if keep]

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1


def _is_id_number(run: str) -> bool:
    run = run.upper()
    return len(run) == 18 and run[:17].isdigit() and id_check_char(run[:17]) == run[17]


def _digit_reason(run: str) -> HoldReason | None:
    if _is_id_number(run):
        return HoldReason.ID_NUMBER
    if len(run) <= 14 and _MOBILE.search(run):
        return HoldReason.MOBILE
    if len(run) >= 15:
        # A card number, an old 15-digit ID, or several numbers run together.
        return HoldReason.BANK_CARD
    return None


def _phrase_key(text: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).casefold()


def hits(text: str, banned: Iterable[Mapping[str, str]] = ()) -> list[Finding]:
    """Every piece of `text` the check objects to, in order of position."""
    found: list[Finding] = []
    digits = _Mapped(text, _BETWEEN_DIGITS)
    for match in _DIGIT_RUN.finditer(digits.text):
        reason = _digit_reason(match.group())
        if reason is not None:
            found.append(Finding(reason, "", *digits.span(match.start(), match.end())))
    for match in _EMAIL.finditer(digits.text):
        found.append(Finding(HoldReason.EMAIL, "", *digits.span(match.start(), match.end())))
    squeezed = _Mapped(text, _SPACES)
    haystack = squeezed.text.casefold()
    for phrase in banned:
        needle = _phrase_key(str(phrase.get("label", "")))
        if not needle or len(haystack) != len(squeezed.text):
            continue
        at = haystack.find(needle)
        while at >= 0:
            code = str(phrase.get("code", ""))
            start, end = squeezed.span(at, at + len(needle))
            found.append(Finding(HoldReason.BANNED_PHRASE, code, start, end))
            at = haystack.find(needle, at + len(needle))
    return sorted(found, key=lambda finding: (finding.start, finding.end))


def findings(text: str, banned: Iterable[Mapping[str, str]] = ()) -> list[Finding]:
    """What keeps `text` from being published at once, once per reason (and banned phrase
    code), in a stable order ([] = clean)."""
    unique: dict[str, Finding] = {}
    for finding in hits(text, banned):
        unique.setdefault(finding.key, finding)
    order = list(HoldReason)
    return sorted(unique.values(), key=lambda f: (order.index(f.reason), f.code))


def personal_data(text: str) -> list[Finding]:
    return [f for f in findings(text) if f.reason is not HoldReason.BANNED_PHRASE]


def segments(text: str, found: Iterable[Finding]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, caught) pieces for the operators' queue to highlight."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for finding in sorted(found, key=lambda f: f.start):
        if finding.start < position:
            start = position
        else:
            start = finding.start
            if start > position:
                pieces.append((text[position:start], False))
        if finding.end > start:
            pieces.append((text[start : finding.end], True))
            position = finding.end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


async def banned_phrases() -> list[dict[str, str]]:
    values = await get_parameters(BANNED_PARAMETER)
    phrases = values[BANNED_PARAMETER]
    if not isinstance(phrases, list):
        return []
    return [p for p in phrases if isinstance(p, dict) and p.get("label")]


async def check(text: str) -> list[Finding]:
    return findings(text, await banned_phrases())
