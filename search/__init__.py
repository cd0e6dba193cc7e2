"""Product search adapters for the domain's port (marketplace.products.search_port).

`make_backend` picks Meilisearch when MEILISEARCH_URL is configured, else the embedded
tantivy engine with its index under the settings' search directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from marketplace.products.search_port import (
    ProductDocument,
    SearchBackend,
    SearchHit,
    SearchQuery,
    SearchResult,
)

if TYPE_CHECKING:
    from marketplace.content.search_port import ArticleSearchBackend
    from marketplace.settings import Settings

__all__ = [
    "ProductDocument",
    "SearchBackend",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "make_article_backend",
    "make_backend",
]


def make_backend(settings: Settings) -> SearchBackend:
    if settings.meilisearch_url:
        from search.meili import MeiliSearch

        return MeiliSearch(settings.meilisearch_url, settings.meilisearch_key)
    from search.embedded import EmbeddedSearch

    return EmbeddedSearch(settings.search_dir)


def make_article_backend(settings: Settings) -> ArticleSearchBackend:
    """The article index on the same engine as the products' one."""
    if settings.meilisearch_url:
        from search.articles_meili import MeiliArticleSearch

        return MeiliArticleSearch(settings.meilisearch_url, settings.meilisearch_key)
    from search.articles_embedded import EmbeddedArticleSearch

    return EmbeddedArticleSearch(settings.search_dir)
