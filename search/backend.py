"""The search port: what the rest of the application may ask of a search engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from search.documents import ProductDocument

SORTS: tuple[str, ...] = ("apr", "amount", "approval", "newest", "popularity", "relevance")
FACETS: tuple[str, ...] = ("category", "institution_id", "repayment_methods")
HIGHLIGHT_FIELDS: tuple[str, ...] = ("name", "institution_name", "summary")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class SearchQuery:
    """Full-text query plus filters. Every filter left as None does not filter.

    - city: products available in that city, i.e. listing it or nationwide (no cities).
    - amount / term: the product's range includes the value.
    - apr_max: the product's lowest APR is at most this (so it can be had that cheap).
    - sort "relevance" ranks by text match; without text it falls back to "apr".
    """

    text: str = ""
    category: str | None = None
    institution_id: int | None = None
    repayment_method: str | None = None
    city: str | None = None
    employment_type: str | None = None
    amount: int | None = None
    term: int | None = None
    apr_max: float | None = None
    sort: str = "apr"
    page: int = 1
    per_page: int = 20

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort {self.sort!r}; expected one of {SORTS}")
        if self.page < 1:
            raise ValueError("page starts at 1")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")

    @property
    def effective_sort(self) -> str:
        if self.sort == "relevance" and not self.text.strip():
            return "apr"
        return self.sort

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class SearchHit:
    id: int
    # field name -> HTML-escaped snippet with matches wrapped in <mark>…</mark>;
    # only fields among HIGHLIGHT_FIELDS that matched the text are present.
    highlights: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[SearchHit]
    # facet name (FACETS) -> value -> number of matching products; institution ids as str.
    facets: dict[str, dict[str, int]]


class SearchBackend(Protocol):
    async def upsert(self, docs: Sequence[ProductDocument]) -> None:
        """Insert or replace documents by id; visible to searches once this returns."""
        ...

    async def delete(self, ids: Sequence[int]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        ...

    async def search(self, q: SearchQuery) -> SearchResult: ...

    async def clear(self) -> None:
        """Remove every document."""
        ...

    async def count(self) -> int: ...

    async def close(self) -> None: ...
