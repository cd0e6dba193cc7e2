"""Product search: a port (SearchBackend) with two adapters.

`make_backend` picks Meilisearch when MEILISEARCH_URL is configured, else the embedded
tantivy engine with its index under the settings' search directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from search.backend import SearchBackend, SearchHit, SearchQuery, SearchResult
from search.documents import CATEGORIES, ProductDocument

if TYPE_CHECKING:
    from marketplace.settings import Settings

__all__ = [
    "CATEGORIES",
    "ProductDocument",
    "SearchBackend",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "make_backend",
]


def make_backend(settings: Settings) -> SearchBackend:
    if settings.meilisearch_url:
        from search.meili import MeiliSearch

        return MeiliSearch(settings.meilisearch_url, settings.meilisearch_key)
    from search.embedded import EmbeddedSearch

    return EmbeddedSearch(settings.search_dir)
