"""Meilisearch adapter, with the official (synchronous) `meilisearch` client.

Every client call runs in a worker thread. The client mutates its request headers per
call, so each thread gets its own client. Writes wait for their task, so a write is
searchable once the coroutine returns.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import meilisearch
from meilisearch.errors import MeilisearchApiError
from meilisearch.index import Index

from marketplace.products.search_port import (
    FACETS,
    TERM_CHOICES,
    ProductDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from search import text as tx

T = TypeVar("T")

TASK_TIMEOUT_MS = 60_000
BATCH_SIZE = 1_000

SORTS = {
    "apr": ["apr_min:asc", "id:asc"],
    "amount": ["amount_max:desc", "id:asc"],
    "approval": ["approval_rate:desc", "id:asc"],
    "newest": ["listed_at:desc", "id:asc"],
    "popularity": ["popularity:desc", "id:asc"],
}

NATIONWIDE = "*"  # the coverage value of a product without a city list
# facet name (FACETS) -> the attribute counted for it
FACET_ATTRIBUTES = {name: name for name in FACETS} | {"cities": "coverage"}

SETTINGS: dict[str, Any] = {
    "searchableAttributes": [
        "name",
        "institution_name",
        "name_pinyin",
        "name_initials",
        "institution_pinyin",
        "institution_initials",
        "category_label",
        "tags",
        "labels_pinyin",
        "labels_initials",
        "summary",
        "summary_pinyin",
        "summary_initials",
    ],
    "filterableAttributes": [
        "id",
        "category",
        "institution_id",
        "repayment_methods",
        "cities",
        "coverage",
        "nationwide",
        "employment_types",
        "amount_min",
        "amount_max",
        "term_min",
        "term_max",
        "term",
        "apr_min",
        "apr_max",
    ],
    "sortableAttributes": [
        "apr_min",
        "amount_max",
        "approval_rate",
        "listed_at",
        "popularity",
        "id",
    ],
    # "words" first: products matching more of the query's words come first (the
    # queries match with matchingStrategy "last", Meilisearch's nearest to OR); then an
    # explicit sort orders each group strictly, like the embedded engine; without a sort
    # parameter (relevance) that rule is a no-op and text relevance decides.
    "rankingRules": ["words", "sort", "typo", "proximity", "attribute", "exactness"],
    "synonyms": {word: list(group[1:]) for word, group in tx.SYNONYMS.items()},
    "stopWords": sorted(tx.STOP_WORDS),
    "typoTolerance": {
        "enabled": True,
        "minWordSizeForTypos": {"oneTypo": tx.TYPO_MIN_LENGTH, "twoTypos": 9},
        "disableOnAttributes": [
            "name_initials",
            "institution_initials",
            "labels_initials",
            "summary_initials",
            "summary_pinyin",
        ],
    },
    "faceting": {"maxValuesPerFacet": 10_000},
    "pagination": {"maxTotalHits": 100_000},
}

RETRIEVED = ["id", "name", "institution_name", "summary"]


class SearchEngineError(RuntimeError):
    """A Meilisearch task failed."""


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def filter_expressions(q: SearchQuery) -> list[str]:
    """Meilisearch filter, as a list of expressions that must all hold."""
    filters: list[str] = []
    if q.category is not None:
        filters.append(f"category = {_quote(q.category)}")
    if q.institution_id is not None:
        filters.append(f"institution_id = {int(q.institution_id)}")
    if q.repayment_method is not None:
        filters.append(f"repayment_methods = {_quote(q.repayment_method)}")
    if q.city is not None:
        filters.append(f"(cities = {_quote(q.city)} OR nationwide = true)")
    if q.employment_type is not None:
        filters.append(f"employment_types = {_quote(q.employment_type)}")
    if q.amount is not None:
        filters += [f"amount_min <= {int(q.amount)}", f"amount_max >= {int(q.amount)}"]
    if q.term is not None:
        filters += [f"term_min <= {int(q.term)}", f"term_max >= {int(q.term)}"]
    if q.apr_max is not None:
        filters.append(f"apr_min <= {float(q.apr_max)!r}")
    if q.apr_min is not None:
        filters.append(f"apr_max >= {float(q.apr_min)!r}")
    return filters


def to_meili(doc: ProductDocument) -> dict[str, Any]:
    data = doc.to_dict()
    data["nationwide"] = doc.nationwide
    data["coverage"] = doc.cities or [NATIONWIDE]
    data["term"] = [str(t) for t in TERM_CHOICES if doc.term_min <= t <= doc.term_max]
    labels = " ".join([doc.category_label, *doc.tags])
    for prefix, (full, initials) in (
        ("name", tx.pinyin_keys(doc.name)),
        ("institution", tx.pinyin_keys(doc.institution_name)),
        ("labels", tx.pinyin_keys(labels)),
        ("summary", tx.long_pinyin_keys(doc.summary)),
    ):
        data[f"{prefix}_pinyin"] = " ".join(full)
        data[f"{prefix}_initials"] = " ".join(initials)
    return data


def search_params(q: SearchQuery, has_terms: bool) -> dict[str, Any]:
    params: dict[str, Any] = {
        "facets": list(FACET_ATTRIBUTES.values()),
        "page": q.page,
        "hitsPerPage": q.per_page,
        "matchingStrategy": "last",
        "attributesToRetrieve": RETRIEVED,
    }
    filters = filter_expressions(q)
    if filters:
        params["filter"] = filters
    sort = q.effective_sort
    if sort == "relevance" and not has_terms:
        sort = "apr"
    if sort != "relevance":
        params["sort"] = SORTS[sort]
    return params


def _is_missing_index(exc: MeilisearchApiError) -> bool:
    return exc.code == "index_not_found"


class MeiliSearch:
    """SearchBackend on a Meilisearch index (created and configured on first write)."""

    def __init__(self, url: str, api_key: str | None, index_name: str = "products") -> None:
        self._url = url
        self._api_key = api_key
        self._index_name = index_name
        self._local = threading.local()
        self._setup_lock = threading.Lock()
        self._configured = False

    # -- plumbing -------------------------------------------------------------------

    # The index's settings and how a document is sent (the article index has its own).
    _settings = SETTINGS
    _payload = staticmethod(to_meili)

    def _client(self) -> meilisearch.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = meilisearch.Client(self._url, self._api_key, timeout=30)
            self._local.client = client
        return client

    def _index(self) -> Index:
        index = getattr(self._local, "index", None)
        if index is None:
            index = self._client().index(self._index_name)
            self._local.index = index
        return index

    def _wait(self, task_uid: int, tolerated: frozenset[str] = frozenset()) -> None:
        task = self._client().wait_for_task(task_uid, timeout_in_ms=TASK_TIMEOUT_MS)
        if task.status != "succeeded":
            code = (task.error or {}).get("code")
            if code not in tolerated:
                raise SearchEngineError(f"meilisearch task {task_uid} {task.status}: {task.error}")

    def _ensure_index(self) -> None:
        """Create the index and apply settings, once per instance (idempotent)."""
        with self._setup_lock:
            if self._configured:
                return
            info = self._client().create_index(self._index_name, {"primaryKey": "id"})
            self._wait(info.task_uid, tolerated=frozenset({"index_already_exists"}))
            self._wait(self._index().update_settings(self._settings).task_uid)
            self._configured = True

    @staticmethod
    async def _run(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    # -- SearchBackend ----------------------------------------------------------------

    async def upsert(self, docs: Sequence[ProductDocument]) -> None:
        if not docs:
            return

        def work() -> None:
            # Later duplicates of an id win, as with sequential upserts.
            payload = list({doc.id: self._payload(doc) for doc in docs}.values())
            self._ensure_index()
            index = self._index()
            uids = [
                index.add_documents(payload[i : i + BATCH_SIZE], primary_key="id").task_uid
                for i in range(0, len(payload), BATCH_SIZE)
            ]
            for uid in uids:
                self._wait(uid)

        await self._run(work)

    async def delete(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        id_list = ", ".join(str(int(i)) for i in ids)

        def work() -> None:
            self._ensure_index()
            self._wait(self._index().delete_documents(filter=f"id IN [{id_list}]").task_uid)

        await self._run(work)

    async def clear(self) -> None:
        def work() -> None:
            self._ensure_index()
            self._wait(self._index().delete_all_documents().task_uid)

        await self._run(work)

    async def count(self) -> int:
        def work() -> int:
            try:
                return self._index().get_stats().number_of_documents
            except MeilisearchApiError as exc:
                if _is_missing_index(exc):
                    return 0
                raise

        return await self._run(work)

    async def search(self, q: SearchQuery) -> SearchResult:
        return await self._run(self._search, q)

    def _search(self, q: SearchQuery) -> SearchResult:
        terms = [form for term in tx.product_terms(q.text) for form in term.forms]
        facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        try:
            response = self._index().search(
                tx.plain_query(q.text), search_params(q, has_terms=bool(terms))
            )
        except MeilisearchApiError as exc:
            if _is_missing_index(exc):  # nothing written yet
                return SearchResult(total=0, hits=[], facets=facets)
            raise
        distribution = response.get("facetDistribution") or {}
        if q.institution_id is not None:  # its facet ignores its filter (search_port.FACETS)
            anywhere = search_params(replace(q, institution_id=None, page=1), bool(terms))
            anywhere.update(facets=[FACET_ATTRIBUTES["institution_id"]], hitsPerPage=0)
            others = self._index().search(tx.plain_query(q.text), anywhere)
            distribution = {**distribution, **(others.get("facetDistribution") or {})}
        for name, attribute in FACET_ATTRIBUTES.items():
            facets[name] = {str(k): int(v) for k, v in distribution.get(attribute, {}).items()}
        nationwide = facets["cities"].pop(NATIONWIDE, 0)
        facets["cities"] = {city: n + nationwide for city, n in facets["cities"].items()}
        hits = [
            SearchHit(id=int(hit["id"]), highlights=tx.highlights(hit, terms))
            for hit in response["hits"]
        ]
        return SearchResult(
            total=int(response.get("totalHits", len(hits))), hits=hits, facets=facets
        )

    async def close(self) -> None:
        # The client keeps no connection pool (module-level `requests` calls).
        self._local = threading.local()
