"""The article index on Meilisearch: an index of its own ("articles") beside the
products' one, behind the article port (marketplace.content.search_port). Meilisearch
segments Chinese itself; the title's pinyin and initials are indexed as extra fields.
With text, matches are ordered by relevance (the rules before "sort"), equally relevant
ones newest first; without text, newest first — like the embedded engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meilisearch.errors import MeilisearchApiError

from marketplace.content.search_port import ArticleDocument, ArticleQuery, ArticleResult
from search import text as tx
from search.meili import MeiliSearch, _is_missing_index, _quote

ARTICLE_SETTINGS: dict[str, Any] = {
    "searchableAttributes": ["title", "title_pinyin", "title_initials", "summary", "body"],
    "filterableAttributes": ["id", "category"],
    "sortableAttributes": ["published_at", "id"],
    # "sort" last: it only orders what the relevance rules leave tied (all, without text).
    "rankingRules": ["words", "typo", "proximity", "attribute", "exactness", "sort"],
    "typoTolerance": {
        "enabled": True,
        "minWordSizeForTypos": {"oneTypo": tx.TYPO_MIN_LENGTH, "twoTypos": 9},
        "disableOnAttributes": ["title_initials"],
    },
    "pagination": {"maxTotalHits": 100_000},
}
NEWEST = ["published_at:desc", "id:desc"]


def to_meili(doc: ArticleDocument) -> dict[str, Any]:
    data = doc.to_dict()
    full, initials = tx.pinyin_keys(doc.title)
    data["title_pinyin"] = " ".join(full)
    data["title_initials"] = " ".join(initials)
    return data


class MeiliArticleSearch(MeiliSearch):
    """ArticleSearchBackend on the "articles" index; creating it, writing, deleting,
    clearing and counting are the product adapter's own, with this index's settings."""

    def __init__(self, url: str, api_key: str | None, index_name: str = "articles") -> None:
        super().__init__(url, api_key, index_name)

    _settings = ARTICLE_SETTINGS
    _payload = staticmethod(to_meili)  # type: ignore[assignment]

    async def upsert(self, docs: Sequence[ArticleDocument]) -> None:  # type: ignore[override]
        await super().upsert(docs)  # type: ignore[arg-type]  # analysed by _document/_payload

    async def search(self, q: ArticleQuery) -> ArticleResult:  # type: ignore[override]
        return await self._run(self._search_articles, q)

    def _search_articles(self, q: ArticleQuery) -> ArticleResult:
        params: dict[str, Any] = {
            "page": q.page,
            "hitsPerPage": q.per_page,
            "matchingStrategy": "all",
            "attributesToRetrieve": ["id"],
            "sort": NEWEST,
        }
        if q.category is not None:
            params["filter"] = [f"category = {_quote(q.category)}"]
        try:
            response = self._index().search(tx.plain_query(q.text), params)
        except MeilisearchApiError as exc:
            if _is_missing_index(exc):
                return ArticleResult(total=0, ids=[])
            raise
        ids = [int(hit["id"]) for hit in response["hits"]]
        return ArticleResult(total=int(response.get("totalHits", len(ids))), ids=ids)
