"""The article search port: a second index beside the products' one, with its own
document shape, query and backend protocol (adapters in search/: embedded tantivy and
Meilisearch). Only published articles' public text is indexed — no personal data.

With text, matches are ordered by relevance (a title match before a body match), equally
relevant ones newest first: a reader who typed words wants the article about them. Without
text, newest first (published_at, then id): readers browse for current explanations.
Both engines order the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

CATEGORIES = ("news", "guide", "policy")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class ArticleDocument:
    id: int
    slug: str
    title: str
    summary: str
    body: str  # plain text from the Markdown
    category: str
    published_at: int  # unix seconds

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown article category {self.category!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ArticleQuery:
    text: str = ""
    category: str | None = None
    page: int = 1
    per_page: int = 20

    def __post_init__(self) -> None:
        if self.category is not None and self.category not in CATEGORIES:
            raise ValueError(f"unknown article category {self.category!r}")
        if self.page < 1:
            raise ValueError("page starts at 1")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class ArticleResult:
    total: int
    ids: list[int]  # this page's articles, most relevant (or, without text, newest) first


class ArticleSearchBackend(Protocol):
    async def upsert(self, docs: Sequence[ArticleDocument]) -> None: ...

    async def delete(self, ids: Sequence[int]) -> None: ...

    async def search(self, q: ArticleQuery) -> ArticleResult: ...

    async def clear(self) -> None: ...

    async def count(self) -> int: ...

    async def close(self) -> None: ...


_backend: ArticleSearchBackend | None = None


def set_article_backend(backend: ArticleSearchBackend | None) -> None:
    """Installed once per process by the composition root, beside the product backend."""
    global _backend
    _backend = backend


def article_backend() -> ArticleSearchBackend:
    if _backend is None:
        raise RuntimeError("article search backend not started")
    return _backend
