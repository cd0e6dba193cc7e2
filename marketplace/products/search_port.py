"""The search port: what the domain may ask of a search engine, and the one shape of
data that goes into an index. Adapters (search/: embedded tantivy, Meilisearch) implement
it; the composition root (server/) picks one and installs it with `set_backend`.

Only public catalogue data is indexed: a product and its institution's public name.
Nothing about borrowers, applications or accounts ever goes into a search document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from marketplace.categories.defaults import CODE_PATTERN as CATEGORY_CODE


@dataclass(frozen=True)
class ProductDocument:
    id: int
    name: str
    institution_id: int
    institution_name: str
    category: str
    category_label: str
    summary: str
    tags: list[str]
    repayment_methods: list[str]
    cities: list[str]  # empty = nationwide
    employment_types: list[str]
    amount_min: int  # yuan
    amount_max: int  # yuan
    term_min: int  # months
    term_max: int  # months
    term_options: list[int]
    apr_min: float  # fraction: 0.0725 = 7.25 %
    apr_max: float
    approval_rate: float  # fraction
    popularity: int
    listed_at: int  # unix seconds
    promoted: bool

    def __post_init__(self) -> None:
        if not CATEGORY_CODE.fullmatch(self.category):
            raise ValueError(f"unknown product category {self.category!r}")
        if self.amount_min > self.amount_max:
            raise ValueError("amount_min must not exceed amount_max")
        if self.term_min > self.term_max:
            raise ValueError("term_min must not exceed term_max")

    @property
    def nationwide(self) -> bool:
        return not self.cities

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProductDocument:
        """Build from a dict; keys that are not fields (e.g. an engine's extras) are ignored."""
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            institution_id=int(data["institution_id"]),
            institution_name=str(data["institution_name"]),
            category=str(data["category"]),
            category_label=str(data["category_label"]),
            summary=str(data["summary"]),
            tags=[str(t) for t in data["tags"]],
            repayment_methods=[str(m) for m in data["repayment_methods"]],
            cities=[str(c) for c in data["cities"]],
            employment_types=[str(e) for e in data["employment_types"]],
            amount_min=int(data["amount_min"]),
            amount_max=int(data["amount_max"]),
            term_min=int(data["term_min"]),
            term_max=int(data["term_max"]),
            term_options=[int(t) for t in data["term_options"]],
            apr_min=float(data["apr_min"]),
            apr_max=float(data["apr_max"]),
            approval_rate=float(data["approval_rate"]),
            popularity=int(data["popularity"]),
            listed_at=int(data["listed_at"]),
            promoted=bool(data["promoted"]),
        )


SORTS: tuple[str, ...] = ("apr", "amount", "approval", "newest", "popularity", "relevance")
# Loan terms (months) a borrower picks from; the "term" facet counts, for each, the
# products whose term range includes it (what the `term` filter would keep).
TERM_CHOICES: tuple[int, ...] = (1, 3, 6, 12, 18, 24, 36, 48, 60, 120, 240, 360)
# One facet per filter, counting the products the search finds. "cities": products
# available there (listing it, or nationwide), for every city some product lists.
# "institution_id" ignores the institution filter (every other filter applies), so a
# borrower who picked one institution still sees how many the others offer.
FACETS: tuple[str, ...] = (
    "category",
    "institution_id",
    "repayment_methods",
    "cities",
    "employment_types",
    "term",
)
HIGHLIGHT_FIELDS: tuple[str, ...] = ("name", "institution_name", "summary")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class SearchQuery:
    """Full-text query plus filters. Every filter left as None does not filter.

    - city: products available in that city, i.e. listing it or nationwide (no cities).
    - amount / term: the product's range includes the value.
    - apr_max: the product's lowest APR is at most this (so it can be had that cheap).
    - apr_min: the product's highest APR is at least this ("年化从…起"): with apr_max, the
      products whose APR range overlaps the band the borrower expects to be offered.
    - text: a product matching more of the query's terms ranks before one matching
      fewer (any one is enough to be found); the sort orders within each of those groups.
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
    apr_min: float | None = None
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


_backend: SearchBackend | None = None


def set_backend(backend: SearchBackend | None) -> None:
    """Installed once per process by the composition root (web and worker alike)."""
    global _backend
    _backend = backend


def backend() -> SearchBackend:
    if _backend is None:
        raise RuntimeError("search backend not started")
    return _backend
