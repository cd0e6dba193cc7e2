"""Text analysis shared by both engines: normalisation, Chinese segmentation, pinyin and
initials, typo rules and highlighting.

Both adapters index the same pinyin forms and highlight with the same function, so a
query behaves alike whichever engine answers it.
"""

from __future__ import annotations

import html
import re
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import rjieba
from pypinyin import Style, lazy_pinyin

from marketplace.products.search_port import HIGHLIGHT_FIELDS

# Latin/pinyin tokens at least this long match with one typo (edit or transposition).
TYPO_MIN_LENGTH = 4
# The last query token also matches as a prefix ("search as you type") from this length.
PREFIX_MIN_LENGTH = 2
# Pinyin forms are indexed for every run of up to this many consecutive Han characters.
PINYIN_MAX_SPAN = 8
# In long text (summaries) pinyin is indexed for runs of up to this many characters and
# initials only from this many characters on: short initials would match nearly any text.
LONG_PINYIN_MAX_SPAN = 4
LONG_INITIALS_MIN_SPAN = 3
# A query is cut to this many characters and terms (each term is a clause of its own).
MAX_QUERY_CHARS = 100
MAX_QUERY_TERMS = 16
# Long fields (the summary) are highlighted as a window of about this many characters.
SNIPPET_CHARS = 160

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
_HAN_RUN_RE = re.compile(f"[{_HAN}]+")
_WORD_RE = re.compile(r"[^\W_]+")
_CHAR_TOKEN_RE = re.compile(f"[{_HAN}]|[^\\W_{_HAN}]+")
_ASCII_WORD_RE = re.compile(r"[a-z0-9]+")
_COMBINING_RE = re.compile("[\u0300-\u036f]")


def normalize(text: str) -> str:
    """Lower case, accents and tone marks folded (zhāo -> zhao), full-width to half-width."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFKC", _COMBINING_RE.sub("", decomposed)).lower()


def is_latin(token: str) -> bool:
    """An ASCII letters/digits token: matched as a word, with pinyin, typos and prefixes."""
    return token.isascii() and token.isalnum()


def is_han(token: str) -> bool:
    """Han characters only: each one a token of its own in char_tokens."""
    return _HAN_RUN_RE.fullmatch(token) is not None


def typo_tolerant(token: str) -> bool:
    return is_latin(token) and len(token) >= TYPO_MIN_LENGTH and not token.isdigit()


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def segment(text: str) -> list[str]:
    """Search-mode word tokens (jieba cut_for_search), normalised, punctuation dropped.

    "招商银行闪电贷" -> ["招商", "商银", "银行", "招商银行", "闪电", "贷"].
    """
    tokens: list[str] = []
    for word in rjieba.cut_for_search(normalize(text)):
        tokens.extend(_WORD_RE.findall(word))
    return tokens


def query_terms(text: str) -> list[str]:
    """The terms of a user query, each of which a result must match. Never raises:
    syntax characters of any engine are dropped like other punctuation. Long queries are
    cut to MAX_QUERY_CHARS and MAX_QUERY_TERMS."""
    return _dedupe(segment(text[:MAX_QUERY_CHARS]))[:MAX_QUERY_TERMS]


# Words a borrower puts around what they want ("我想借钱装修房子"): on a loan marketplace
# they say nothing about which product fits, so a query drops them unless nothing else
# is left.
STOP_WORDS = frozenset(
    [
        "我",
        "你",
        "想",
        "要",
        "想要",
        "需要",
        "的",
        "了",
        "和",
        "与",
        "或",
        "在",
        "用",
        "用于",
        "给",
        "把",
        "是",
        "有",
        "没有",
        "吗",
        "呢",
        "吧",
        "啊",
        "个",
        "些",
        "哪个",
        "哪些",
        "哪家",
        "什么",
        "怎么",
        "怎样",
        "如何",
        "可以",
        "能",
        "能不能",
        "一下",
        "一点",
        "一些",
        "请问",
        "请",
        "帮",
        "帮我",
        "找",
        "推荐",
        "借",
        "借钱",
        "借点",
        "借款",
        "贷款",
        "钱",
        "产品",
        "申请",
        "办理",
        "最好",
        "比较",
        "好",
        "一个",
        "点",
    ]
)
SYNONYMS_FILE = Path(__file__).with_name("synonyms.txt")


def load_synonyms(path: Path = SYNONYMS_FILE) -> dict[str, tuple[str, ...]]:
    """word -> every word of its group (itself first), from the synonyms file: one group a
    line, words separated by spaces, # comments."""
    groups: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        words = _dedupe(normalize(w) for w in line.split("#", 1)[0].split())
        for word in words:
            groups[word] = (word, *(w for w in words if w != word))
    return groups


SYNONYMS = load_synonyms()
# Longest first, so "汽车贷款" is taken whole before "贷款" could be.
_SYNONYM_RE = re.compile(
    "|".join(re.escape(w) for w in sorted(SYNONYMS, key=len, reverse=True) if not is_latin(w))
)


@dataclass(frozen=True)
class QueryTerm:
    """One thing the borrower asked for, and the words that mean the same (synonyms)."""

    word: str
    alternatives: tuple[str, ...]

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.word, *self.alternatives)


def _precise_words(piece: str) -> list[tuple[int, str]]:
    """(offset, word) from jieba's precise mode; punctuation dropped."""
    out: list[tuple[int, str]] = []
    pos = 0
    for word in rjieba.cut(piece):
        for m in _WORD_RE.finditer(word):
            out.append((pos + m.start(), m.group()))
        pos += len(word)
    return out


def product_terms(text: str) -> list[QueryTerm]:
    """The terms of a product query, each matched on its own (a product matching more of
    them ranks higher). Synonym-list words are kept whole; the rest is cut by jieba in
    precise mode; stop words are dropped (unless that leaves nothing); a lone Han
    character is joined to the word right before it ("随借" "随" "还" -> "随借随还", "融e借"
    stays whole) unless that word is a stop word."""
    norm = normalize(text[:MAX_QUERY_CHARS])
    words: list[tuple[int, str]] = []
    pos = 0
    for m in [*_SYNONYM_RE.finditer(norm), None] if _SYNONYM_RE.pattern else [None]:
        end = m.start() if m else len(norm)
        words.extend((pos + off, w) for off, w in _precise_words(norm[pos:end]))
        if m:
            words.append((m.start(), m.group()))
            pos = m.end()
    merged: list[tuple[int, str]] = []
    for off, word in words:
        if merged and (len(word) == 1 or len(merged[-1][1]) == 1):
            prev_off, prev = merged[-1]
            joinable = prev not in STOP_WORDS and prev not in SYNONYMS and word not in SYNONYMS
            if joinable and prev_off + len(prev) == off and not (is_latin(prev) and is_latin(word)):
                merged[-1] = (prev_off, prev + word)
                continue
        merged.append((off, word))
    kept = [w for _, w in merged if w not in STOP_WORDS] or [w for _, w in merged]
    unique = _dedupe(kept)[:MAX_QUERY_TERMS]
    return [QueryTerm(w, SYNONYMS.get(w, (w,))[1:]) for w in unique]


def plain_query(text: str) -> str:
    """The query as plain words for an engine that segments itself: punctuation (and so
    any phrase, negation or field syntax) becomes spaces."""
    return " ".join(_WORD_RE.findall(normalize(text[:MAX_QUERY_CHARS])))


def char_tokens(text: str) -> list[str]:
    """One token per Han character, other letter/digit runs whole: "融e借" -> 融 e 借.

    Indexed with positions, so a Chinese term can match as a phrase of characters even
    where jieba segmented the document differently from the query."""
    return _CHAR_TOKEN_RE.findall(normalize(text))


# Readings that hold in loan vocabulary whatever pypinyin guesses from context: 还 is
# "huan" (还款, 随借随还), not "hai".
LOAN_READINGS = {"还": "huan"}


@lru_cache(maxsize=8192)
def syllables(han_run: str) -> tuple[str, ...]:
    """Toneless pinyin, one syllable per Han character (context-aware: 银行 -> yin hang)."""
    result = lazy_pinyin(han_run, style=Style.NORMAL, errors="default")
    if len(result) != len(han_run):
        result = [lazy_pinyin(ch, style=Style.NORMAL, errors="default")[0] for ch in han_run]
    return tuple(LOAN_READINGS.get(ch, s.lower()) for ch, s in zip(han_run, result, strict=True))


def pinyin_keys(
    text: str, max_span: int = PINYIN_MAX_SPAN, min_initials: int = 2
) -> tuple[list[str], list[str]]:
    """(full pinyin forms, initials forms) to index for a name.

    For every run of 1..PINYIN_MAX_SPAN consecutive Han characters (and each whole run)
    the concatenated pinyin and, from two characters on, the initials:
    "招商银行" -> full: zhao, shang, …, zhaoshang, yinhang, zhaoshangyinhang;
    initials: zs, sy, yh, zsy, syh, zsyh.
    """
    full: list[str] = []
    initials: list[str] = []
    for run in _HAN_RUN_RE.findall(normalize(text)):
        syl = syllables(run)
        spans = {
            (i, j) for i in range(len(syl)) for j in range(i + 1, min(len(syl), i + max_span) + 1)
        }
        if max_span >= PINYIN_MAX_SPAN:
            spans.add((0, len(syl)))
        for i, j in sorted(spans):
            full.append("".join(syl[i:j]))
            if j - i >= min_initials:
                initials.append("".join(s[0] for s in syl[i:j]))
    return _dedupe(full), _dedupe(initials)


def long_pinyin_keys(text: str) -> tuple[list[str], list[str]]:
    """pinyin_keys for long text (summaries): shorter runs, initials from three characters."""
    return pinyin_keys(text, LONG_PINYIN_MAX_SPAN, LONG_INITIALS_MIN_SPAN)


def within_one_edit(a: str, b: str) -> bool:
    """Optimal-string-alignment distance <= 1 (one insert, delete, substitute or swap)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


def _latin_match(token: str, word: str, prefix: bool) -> int:
    """Length of `word` to mark for `token` (0 = no match)."""
    if token == word or (typo_tolerant(token) and within_one_edit(token, word)):
        return len(word)
    if prefix and len(token) >= PREFIX_MIN_LENGTH and word.startswith(token):
        return len(token)
    return 0


@dataclass(frozen=True)
class _PinyinText:
    """The Han characters of a text read for matching pinyin, one syllable each: the
    syllables joined, where each starts in that string (and where the last one ends),
    their initials, their second letters (with the next syllable's first when a
    syllable has one letter; NO_LETTER when there is none), the character each is read
    from and where its run of Han characters ends (a span never crosses it)."""

    joined: str
    bounds: array[int]
    initials: str
    seconds: str
    chars: array[int]
    run_ends: array[int]


NO_LETTER = "\x00"


# Up to ~1.5 KB a text (a product summary): ~6 MB when full.
@lru_cache(maxsize=4096)
def _pinyin_text(norm: str) -> _PinyinText:
    joined: list[str] = []
    bounds = array("I", [0])
    seconds: list[str] = []
    chars = array("I")
    run_ends = array("I")
    for run in _HAN_RUN_RE.finditer(norm):
        run_syl = syllables(run.group())
        for i, s in enumerate(run_syl):
            head = s if len(s) > 1 or i + 1 == len(run_syl) else s + run_syl[i + 1]
            seconds.append(head[1:2] or NO_LETTER)
            joined.append(s)
            bounds.append(bounds[-1] + len(s))
            chars.append(run.start() + i)
        run_ends.extend([len(joined)] * len(run_syl))
    initials = "".join(s[0] for s in joined)
    return _PinyinText("".join(joined), bounds, initials, "".join(seconds), chars, run_ends)


def _positions(letters: str, letter: str) -> Iterator[int]:
    i = letters.find(letter)
    while i != -1:
        yield i
        i = letters.find(letter, i + 1)


def _pinyin_spans(norm: str, token: str, prefix: bool) -> Iterable[tuple[int, int]]:
    """Spans of Han characters whose pinyin or initials the Latin token matches: the
    syllables i..j-1 (at most PINYIN_MAX_SPAN, in one run) spell the token, or with a
    typo, or start with it (prefix: the span ends with the syllable completing it), or
    their initials (two or more) are the token."""
    typo = typo_tolerant(token)
    prefix = prefix and len(token) >= PREFIX_MIN_LENGTH
    size = len(token)
    t = _pinyin_text(norm)
    # An exact, initials or prefix match starts with the token's first letter; a typo
    # match (one edit) has the token's first or second letter first or second (or a
    # one-letter syllable last in its run).
    firsts = token[:1] if not typo else token[:2]
    starts = {i for letter in firsts for i in _positions(t.initials, letter)}
    if typo:
        for letter in (*firsts, NO_LETTER):
            starts.update(_positions(t.seconds, letter))
    # Only spans whose pinyin is as long as the token (one letter more or less with a
    # typo) can spell it.
    shortest, longest = (size - 1, size + 1) if typo else (size, size)
    for i in sorted(starts):
        last = min(t.run_ends[i], i + PINYIN_MAX_SPAN)  # spans end at i + 1 .. last
        base = t.bounds[i]
        ends: set[int] = set()
        lo = bisect_left(t.bounds, base + shortest, i + 1, last + 1)
        hi = bisect_right(t.bounds, base + longest, i + 1, last + 1)
        for j in range(lo, hi):
            spelled = t.joined[base : t.bounds[j]]
            if token == spelled or (typo and within_one_edit(token, spelled)):
                ends.add(j)
        if prefix and t.joined.startswith(token, base):
            j = bisect_left(t.bounds, base + size, i + 1, last + 1)
            if j <= last:
                ends.add(j)
        if size >= 2 and i + size <= last and t.initials.startswith(token, i):
            ends.add(i + size)
        for j in sorted(ends):
            yield t.chars[i], t.chars[i] + j - i


def _match_spans(norm: str, terms: Sequence[str], prefix_last: bool) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for k, term in enumerate(terms):
        prefix = prefix_last and k == len(terms) - 1
        if not is_latin(term):
            start = norm.find(term)
            while start != -1:
                spans.append((start, start + len(term)))
                start = norm.find(term, start + 1)
            continue
        for m in _ASCII_WORD_RE.finditer(norm):
            length = _latin_match(term, m.group(), prefix)
            if length:
                spans.append((m.start(), m.start() + length))
        if not term.isdigit():
            spans.extend(_pinyin_spans(norm, term, prefix))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class _CharFolds(dict[int, str]):
    """str.translate table folding one character as `normalize` does (kept when it would
    become several), each character computed once."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        n = normalize(ch)
        self[code] = folded = n if len(n) == 1 else ch
        return folded


_CHAR_FOLDS = _CharFolds()


def _per_char_normalized(text: str) -> str:
    """Normalise character by character so offsets stay those of the original text."""
    return text.translate(_CHAR_FOLDS)


def highlight(
    text: str, terms: Sequence[str], *, prefix_last: bool = True, max_chars: int | None = None
) -> str | None:
    """HTML-escaped `text` with matches of the query `terms` wrapped in <mark>…</mark>,
    or None when nothing matches. Latin terms also mark the Han characters whose pinyin
    or initials they match. With max_chars, a long text is cut to a window around the
    first match, with "…" where it was cut."""
    if not text or not terms:
        return None
    spans = _match_spans(_per_char_normalized(text), terms, prefix_last)
    if not spans:
        return None
    start, end = 0, len(text)
    if max_chars is not None and len(text) > max_chars:
        start = max(0, spans[0][0] - max_chars // 4)
        end = min(len(text), start + max_chars)
        start = max(0, end - max_chars)
    parts = ["…"] if start > 0 else []
    pos = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        parts.append(html.escape(text[pos:s]))
        parts.append(f"<mark>{html.escape(text[s:e])}</mark>")
        pos = e
    parts.append(html.escape(text[pos:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)


def highlights(doc: Mapping[str, Any], terms: Sequence[str]) -> dict[str, str]:
    """The SearchHit.highlights of a document (a ProductDocument dict) for query terms."""
    out: dict[str, str] = {}
    if not terms:
        return out
    for field in HIGHLIGHT_FIELDS:
        max_chars = SNIPPET_CHARS if field == "summary" else None
        marked = highlight(str(doc.get(field) or ""), terms, max_chars=max_chars)
        if marked is not None:
            out[field] = marked
    return out
