"""Embedded search engine: tantivy on a local directory, no server needed.

Text is analysed in Python (search/text.py) and indexed pre-tokenised with tantivy's
whitespace tokenizer; queries are built programmatically, never parsed, so user input
cannot be tantivy syntax.

Processes: any number of readers and writers may open the same directory. A writer is
opened per write batch and closed after its commit, serialised by a thread lock within
the process and an advisory file lock across processes. Every commit replaces the
index's meta.json: a reader stats it before each search and reloads when it changed, so
it sees other processes' commits.

Results are cached per index generation (that meta.json): a commit anywhere makes every
cached result unreachable, so a cached answer is never staler than a reload would be.
Facets are cached apart from the page and sort, which share them.

A computed search makes as few passes over the matching products as it can: one
aggregation gives the facets and the total. When the results form one group sorted on a
field (every browse page; a one-term search not sorted by relevance), that aggregation
also collects the page, so the filters are evaluated once. Otherwise the page comes from
the best group of results (see _levels), and a worse group is searched only when the
better ones do not fill the page. Counting and field sorts leave out the clauses that
only add to the score. A hit reads its stored document only to highlight the text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import itertools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import tantivy
from tantivy import FieldType, Occur, Order, Query

from marketplace.products.search_port import (
    FACETS,
    HIGHLIGHT_FIELDS,
    TERM_CHOICES,
    ProductDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from search import text as tx

T = TypeVar("T")

# Bump when the schema or the analysis changes: a new directory is used and the
# catalogue must be reindexed into it.
SCHEMA_VERSION = 3
WRITER_HEAP_BYTES = 50_000_000
# Distinct value sets counted per facet (see FACET_FIELDS).
FACET_SIZE = 10_000
# Results (and facets) remembered per index generation, most recently used kept.
RESULT_CACHE_SIZE = 1024
# A page ending at most this far into the results is collected by the aggregation that
# counts the facets (one pass over the matching products instead of two).
ONE_PASS_HITS = 100

# (field, boost). Word fields hold jieba search-mode tokens; char fields one token per Han
# character (phrase matching); pair fields every two consecutive char tokens (a
# two-character phrase as one term: reading positions made phrases the slowest part of
# a search); pinyin/initials fields the forms from text.pinyin_keys
# (text.long_pinyin_keys for the summary). Typos and prefixes are tried on the short
# fields only: on the summary's large vocabulary they would match almost anything.
WORD_FIELDS = (("name", 3.0), ("institution", 2.0), ("labels", 1.5), ("summary", 1.0))
CHAR_FIELDS = tuple((f"{f}_chars", b * 0.8) for f, b in WORD_FIELDS)
PAIR_FIELDS = tuple((f"{f}_pairs", b * 0.8) for f, b in WORD_FIELDS)
SHORT_PINYIN_FIELDS = (("name_py", 2.0), ("institution_py", 1.5), ("labels_py", 1.2))
PINYIN_FIELDS = (*SHORT_PINYIN_FIELDS, ("summary_py", 0.8))
SHORT_INITIALS_FIELDS = (
    ("name_initials", 2.0),
    ("institution_initials", 1.5),
    ("labels_initials", 1.2),
)
INITIALS_FIELDS = (*SHORT_INITIALS_FIELDS, ("summary_initials", 0.8))
SHORT_WORD_FIELDS = WORD_FIELDS[:3]
FUZZY_WEIGHT = 0.5
PREFIX_WEIGHT = 0.3
# Up to this many query terms, products are grouped by how many terms they match (all,
# all but one, …); beyond it, into "all" and "some".
TIERED_TERMS = 4
NATIONWIDE = "*"  # the coverage value of a product without a city list
# facet -> a single-valued fast field holding the product's values of that facet, sorted
# and joined by FACET_SEP. tantivy's terms aggregation costs ~30x more on a multi-valued
# field than on a single-valued one; value sets repeat across products, so counting the
# sets and splitting them afterwards gives the same counts in one cheap pass.
FACET_FIELDS = {name: f"facet_{name}" for name in FACETS}
FACET_SEP = "\x1f"

_U32 = 0xFFFF_FFFF
# sort -> (composite key field, order). Keys pack the sort value in the high 32 bits and
# the id in the low 32 bits, so ties break by id ascending like the Meilisearch adapter.
SORT_KEYS = {
    "apr": ("sort_apr", Order.Asc),
    "amount": ("sort_amount", Order.Desc),
    "approval": ("sort_approval", Order.Desc),
    "newest": ("sort_newest", Order.Desc),
    "popularity": ("sort_popularity", Order.Desc),
}


def _build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", indexed=True, fast=True)
    sb.add_bytes_field("payload", stored=True)
    for name, _ in WORD_FIELDS + PAIR_FIELDS + PINYIN_FIELDS + INITIALS_FIELDS:
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    for name, _ in CHAR_FIELDS:
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    for name in ("category", "repayment_methods", "coverage", "employment_types", "term"):
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic")
    for name in FACET_FIELDS.values():
        sb.add_text_field(name, tokenizer_name="raw", fast=True, index_option="basic")
    sb.add_integer_field("institution_id", indexed=True, fast=True)
    # Range filters only: read from the fast field, which beats the term index for ranges.
    for name in ("amount_min", "amount_max", "term_min", "term_max"):
        sb.add_integer_field(name, fast=True)
    for name in ("apr_min", "apr_max"):
        sb.add_float_field(name, fast=True)
    for name, _ in SORT_KEYS.values():
        sb.add_unsigned_field(name, fast=True)
    return sb.build()


def _sort_key(value: float, doc_id: int, order: Order) -> int:
    v = min(max(int(value), 0), _U32)
    return (v << 32) | (doc_id if order == Order.Asc else _U32 - doc_id)


def _sort_key_id(key: int, order: Order) -> int:
    """The product id a _sort_key holds."""
    return key & _U32 if order == Order.Asc else _U32 - (key & _U32)


def _facet_values(doc: ProductDocument) -> dict[str, list[str]]:
    """facet -> the values the product counts under (a nationwide product: NATIONWIDE)."""
    return {
        "category": [doc.category],
        "institution_id": [str(doc.institution_id)],
        "repayment_methods": doc.repayment_methods,
        "cities": doc.cities or [NATIONWIDE],
        "employment_types": doc.employment_types,
        "term": [str(m) for m in TERM_CHOICES if doc.term_min <= m <= doc.term_max],
    }


def _to_tantivy(doc: ProductDocument) -> tantivy.Document:
    if not 0 <= doc.id <= _U32:
        raise ValueError(f"product id {doc.id} out of range for the embedded index")
    d = tantivy.Document()
    d.add_integer("id", doc.id)
    # What a hit needs from its document: the text it highlights.
    highlighted = {field: getattr(doc, field) for field in HIGHLIGHT_FIELDS}
    d.add_bytes("payload", json.dumps(highlighted, ensure_ascii=False).encode())
    labels = " ".join([doc.category_label, *doc.tags])
    for field, value in (
        ("name", doc.name),
        ("institution", doc.institution_name),
        ("labels", labels),
        ("summary", doc.summary),
    ):
        d.add_text(field, " ".join(tx.segment(value)))
        chars = tx.char_tokens(value)
        d.add_text(f"{field}_chars", " ".join(chars))
        d.add_text(f"{field}_pairs", " ".join(a + b for a, b in itertools.pairwise(chars)))
    for prefix, (full, initials) in (
        ("name", tx.pinyin_keys(doc.name)),
        ("institution", tx.pinyin_keys(doc.institution_name)),
        ("labels", tx.pinyin_keys(labels)),
        ("summary", tx.long_pinyin_keys(doc.summary)),
    ):
        d.add_text(f"{prefix}_py", " ".join(full))
        d.add_text(f"{prefix}_initials", " ".join(initials))
    facet_values = _facet_values(doc)
    for field, facet in (
        ("category", "category"),
        ("repayment_methods", "repayment_methods"),
        ("coverage", "cities"),
        ("employment_types", "employment_types"),
        ("term", "term"),
    ):
        for value in facet_values[facet]:
            d.add_text(field, value)
    for facet, values in facet_values.items():
        if values:
            d.add_text(FACET_FIELDS[facet], FACET_SEP.join(sorted(set(values))))
    d.add_integer("institution_id", doc.institution_id)
    d.add_integer("amount_min", doc.amount_min)
    d.add_integer("amount_max", doc.amount_max)
    d.add_integer("term_min", doc.term_min)
    d.add_integer("term_max", doc.term_max)
    d.add_float("apr_min", float(doc.apr_min))
    d.add_float("apr_max", float(doc.apr_max))
    sort_values = {
        "apr": round(doc.apr_min * 1_000_000),
        "amount": doc.amount_max,
        "approval": round(doc.approval_rate * 1_000_000),
        "newest": doc.listed_at,
        "popularity": doc.popularity,
    }
    for sort, (field, order) in SORT_KEYS.items():
        d.add_unsigned(field, _sort_key(sort_values[sort], doc.id, order))
    return d


class EmbeddedSearch:
    """SearchBackend on a tantivy index under `index_dir` (created when missing)."""

    def __init__(self, index_dir: Path, result_cache_size: int = RESULT_CACHE_SIZE) -> None:
        self._root = Path(index_dir)
        self._cache_size = result_cache_size
        self._path = self._root / f"products-v{SCHEMA_VERSION}"
        self._schema = _build_schema()
        self._index: tantivy.Index | None = None
        self._open_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._generation: tuple[int, ...] | None = None
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------

    # How a document is analysed for this index (the article index has its own).
    _document = staticmethod(_to_tantivy)

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        """Advisory lock shared by every process using this directory."""
        self._root.mkdir(parents=True, exist_ok=True)
        with open(self._root / ".write.lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _idx(self) -> tantivy.Index:
        with self._open_lock:
            if self._index is None:
                with self._process_lock():
                    self._path.mkdir(parents=True, exist_ok=True)
                    index = tantivy.Index(self._schema, path=str(self._path), reuse=True)
                index.config_reader(reload_policy="manual")
                self._index = index
            return self._index

    def _write(self, work: Callable[[tantivy.IndexWriter], None]) -> None:
        index = self._idx()  # before the process lock: opening takes it too
        with self._write_lock, self._process_lock():
            writer = index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
            try:
                work(writer)
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                # Consumes the writer: merges finish and the tantivy lock is released.
                writer.wait_merging_threads()

    def _current_generation(self) -> tuple[int, ...]:
        """Changes with every commit, from any process: meta.json (a few KB, replaced
        atomically) carries the commit's opstamp. Its content, not its mtime, which the
        kernel keeps at a coarse tick that two quick commits can share."""
        try:
            meta = (self._path / "meta.json").read_bytes()
        except FileNotFoundError:
            return (0,)
        return (len(meta), hash(meta))

    def _searcher(self) -> tantivy.Searcher:
        index = self._idx()
        generation = self._current_generation()
        if generation != self._generation:
            index.reload()
            with self._cache_lock:
                self._generation = generation
                self._cache.clear()
        return index.searcher()

    def _cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()` remembered under `key` until the index generation changes (the
        caller has just called _searcher, which clears the cache on a new generation)."""
        generation = self._generation
        found, value = self._cache_get(generation, key)
        if found:
            return value  # type: ignore[no-any-return]
        value = compute()
        self._cache_put(generation, key, value)
        return value

    def _cache_get(self, generation: Hashable, key: Hashable) -> tuple[bool, Any]:
        with self._cache_lock:
            if (generation, key) not in self._cache:
                return False, None
            self._cache.move_to_end((generation, key))
            return True, self._cache[(generation, key)]

    def _cache_put(self, generation: Hashable, key: Hashable, value: Any) -> None:
        """Remember `value` if it was computed on the current generation."""
        with self._cache_lock:
            if generation == self._generation:
                self._cache[(generation, key)] = value
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)

    @staticmethod
    async def _run(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    # -- SearchBackend ----------------------------------------------------------------

    async def upsert(self, docs: Sequence[ProductDocument]) -> None:
        if not docs:
            return

        def upsert() -> None:
            # Analysis (jieba, pinyin) is CPU work: done here, off the event loop.
            prepared = [(doc.id, self._document(doc)) for doc in docs]

            def work(writer: tantivy.IndexWriter) -> None:
                for doc_id, doc in prepared:
                    writer.delete_documents_by_term("id", doc_id)
                    writer.add_document(doc)

            self._write(work)

        await self._run(upsert)

    async def delete(self, ids: Sequence[int]) -> None:
        if not ids:
            return

        def work(writer: tantivy.IndexWriter) -> None:
            for doc_id in ids:
                writer.delete_documents_by_term("id", int(doc_id))

        await self._run(self._write, work)

    async def clear(self) -> None:
        await self._run(self._write, lambda writer: writer.delete_all_documents())

    async def count(self) -> int:
        return await self._run(lambda: self._searcher().num_docs)

    async def search(self, q: SearchQuery) -> SearchResult:
        return await self._run(self._search, q)

    async def close(self) -> None:
        with self._open_lock:
            self._index = None
        with self._cache_lock:
            self._generation = None
            self._cache.clear()

    # -- query building ---------------------------------------------------------------

    def _term(self, field: str, value: Any) -> Query:
        return Query.term_query(self._schema, field, value)

    def _term_clause(self, term: tx.QueryTerm, last: bool, scored: bool = True) -> Query:
        """Should-match alternatives for one query term and its synonyms across fields.
        Unscored (for counting, or a sort on a field), only those that can find a
        product the others do not."""
        alts = [alt for form in term.forms for alt in self._form_alternatives(form, last, scored)]
        return Query.boolean_query([(Occur.Should, a) for a in alts])

    def _form_alternatives(self, term: str, last: bool, scored: bool = True) -> list[Query]:
        alts: list[Query] = []
        if not tx.is_latin(term):
            chars: list[str | tuple[int, str]] = list(tx.char_tokens(term))
            # A word of Han characters in a word field is also their run in the char
            # field (one token per character): the word alternatives only score.
            if scored or not tx.is_han(term):
                for field, boost in WORD_FIELDS:
                    alts.append(Query.boost_query(self._term(field, term), boost))
            for (field, boost), (pairs, _) in zip(CHAR_FIELDS, PAIR_FIELDS, strict=True):
                if len(chars) == 1:  # a one-word phrase query panics in tantivy
                    q = self._term(field, chars[0])
                elif len(chars) == 2:
                    q = self._term(pairs, "".join(str(c) for c in chars))
                elif chars:
                    q = Query.phrase_query(self._schema, field, chars)
                else:
                    continue
                alts.append(Query.boost_query(q, boost))
        else:
            short_fields = SHORT_WORD_FIELDS + SHORT_PINYIN_FIELDS
            prefixed = last and len(term) >= tx.PREFIX_MIN_LENGTH
            # Unscored, a field searched by prefix or with a typo needs no exact term:
            # both match the term itself.
            covered: set[str] = set()
            if not scored and prefixed:
                covered.update(f for f, _ in short_fields + SHORT_INITIALS_FIELDS)
            elif not scored and tx.typo_tolerant(term):
                covered.update(f for f, _ in short_fields)
            for field, boost in WORD_FIELDS + PINYIN_FIELDS + INITIALS_FIELDS:
                if field not in covered:
                    alts.append(Query.boost_query(self._term(field, term), boost))
            if tx.typo_tolerant(term):
                for field, boost in short_fields:
                    fuzzy = Query.fuzzy_term_query(
                        self._schema, field, term, distance=1, transposition_cost_one=True
                    )
                    alts.append(Query.boost_query(fuzzy, boost * FUZZY_WEIGHT))
            if prefixed:
                for field, boost in short_fields + SHORT_INITIALS_FIELDS:
                    prefix = Query.fuzzy_term_query(
                        self._schema, field, term, distance=0, prefix=True
                    )
                    alts.append(Query.boost_query(prefix, boost * PREFIX_WEIGHT))
        return alts

    def _range(self, field: str, kind: FieldType, lower: Any = None, upper: Any = None) -> Query:
        return Query.range_query(self._schema, field, kind, lower_bound=lower, upper_bound=upper)

    def _filters(self, q: SearchQuery) -> list[Query]:
        filters: list[Query] = []
        if q.category is not None:
            filters.append(self._term("category", q.category))
        if q.institution_id is not None:
            filters.append(self._term("institution_id", int(q.institution_id)))
        if q.repayment_method is not None:
            filters.append(self._term("repayment_methods", q.repayment_method))
        if q.city is not None:
            filters.append(
                Query.boolean_query(
                    [
                        (Occur.Should, self._term("coverage", q.city)),
                        (Occur.Should, self._term("coverage", NATIONWIDE)),
                    ]
                )
            )
        if q.employment_type is not None:
            filters.append(self._term("employment_types", q.employment_type))
        if q.amount is not None:
            filters.append(self._range("amount_min", FieldType.Integer, upper=int(q.amount)))
            filters.append(self._range("amount_max", FieldType.Integer, lower=int(q.amount)))
        if q.term in TERM_CHOICES:  # the same products, from one term instead of two ranges
            filters.append(self._term("term", str(q.term)))
        elif q.term is not None:
            filters.append(self._range("term_min", FieldType.Integer, upper=int(q.term)))
            filters.append(self._range("term_max", FieldType.Integer, lower=int(q.term)))
        if q.apr_max is not None:
            filters.append(self._range("apr_min", FieldType.Float, upper=float(q.apr_max)))
        if q.apr_min is not None:
            filters.append(self._range("apr_max", FieldType.Float, lower=float(q.apr_min)))
        return filters

    def _query(self, filters: list[Query], text: Query | None) -> Query:
        """`text` (scored) and every filter (unscored) must match."""
        clauses = [(Occur.Must, Query.const_score_query(f, 0.0)) for f in filters]
        clauses.append((Occur.Must, text if text is not None else Query.all_query()))
        return Query.boolean_query(clauses) if len(clauses) > 1 else clauses[0][1]

    @staticmethod
    def _at_least(clauses: list[Query], k: int) -> Query:
        """Matches at least k of the clauses (each combination's clauses all must match)."""
        if k <= 1:
            return Query.boolean_query([(Occur.Should, c) for c in clauses])
        combos = [
            Query.boolean_query([(Occur.Must, c) for c in combo])
            for combo in itertools.combinations(clauses, k)
        ]
        return (
            combos[0]
            if len(combos) == 1
            else Query.boolean_query([(Occur.Should, c) for c in combos])
        )

    def _levels(self, terms: list[tx.QueryTerm], scored: bool = True) -> list[Query]:
        """Text queries for the groups of results, best first: products matching every
        term, then (up to TIERED_TERMS terms) at least all but one, …, at least one. The
        last one matches every product the text finds. Unscored: the same products,
        found with fewer clauses."""
        clauses = [
            self._term_clause(t, last=i == len(terms) - 1, scored=scored)
            for i, t in enumerate(terms)
        ]
        n = len(clauses)
        levels = range(n, 0, -1) if n <= TIERED_TERMS else (n, 1)
        return [self._at_least(clauses, k) for k in levels]

    # -- search -----------------------------------------------------------------------

    def _search(self, q: SearchQuery) -> SearchResult:
        searcher = self._searcher()
        return self._cached(("result", q), lambda: self._search_uncached(searcher, q))

    def _search_uncached(self, searcher: tantivy.Searcher, q: SearchQuery) -> SearchResult:
        terms = tx.product_terms(q.text)
        sort = q.effective_sort
        if sort == "relevance" and not terms:
            sort = "apr"  # e.g. text of punctuation only
        filters = self._filters(q)
        # Only a relevance sort needs scores: the facets count, other sorts read a field.
        levels = self._levels(terms, scored=False)
        ranked = self._levels(terms) if sort == "relevance" else levels
        # Every page and sort of one search has the same total and facets.
        facet_key = ("facets", dataclasses.replace(q, sort="apr", page=1, per_page=1))
        generation = self._generation
        found, known = self._cache_get(generation, facet_key)
        end = q.offset + q.per_page
        if not found and sort != "relevance" and len(levels) <= 1 and end <= ONE_PASS_HITS:
            # One group of results sorted on a fast field: the aggregation that counts
            # the facets also collects the page, so the filters are evaluated once.
            total, facets, ids = self._facets(searcher, q, levels, (sort, end))
            self._cache_put(generation, facet_key, (total, facets))
            ids = ids[q.offset :]
            addresses = None
        else:
            if found:
                total, facets = known
            else:
                total, facets, _ = self._facets(searcher, q, levels)
                self._cache_put(generation, facet_key, (total, facets))
            addresses = self._page(searcher, q, sort, filters, ranked, total) if total else []
            values = searcher.fast_field_values("id", addresses) if addresses else []
            ids = [int(v) for v in values if v is not None]  # None: no such column (never)
        forms = [form for term in terms for form in term.forms]
        if not forms:  # nothing to highlight: the stored documents are not needed
            return SearchResult(total=total, hits=[SearchHit(id=i) for i in ids], facets=facets)
        if addresses is None:
            addresses = [self._address(searcher, doc_id) for doc_id in ids]
        hits = []
        for doc_id, address in zip(ids, addresses, strict=True):
            payload = json.loads(searcher.doc(address)["payload"][0])
            hits.append(SearchHit(id=doc_id, highlights=tx.highlights(payload, forms)))
        return SearchResult(total=total, hits=hits, facets=facets)

    def _page(
        self,
        searcher: tantivy.Searcher,
        q: SearchQuery,
        sort: str,
        filters: list[Query],
        levels: list[Query],
        total: int,
    ) -> list[tantivy.DocAddress]:
        """The page's products, group after group (each sorted on its own), searching a
        worse group only while the page is not full and products are left."""
        addresses: list[tantivy.DocAddress] = []
        skip = q.offset  # positions of the page start not yet passed in better groups
        seen = 0  # products in the better groups
        for i, level in enumerate(levels or [None]):
            text = level
            if seen:  # the group excludes the better ones (nothing to exclude when empty)
                better = Query.const_score_query(levels[i - 1], 0.0)
                text = Query.boolean_query([(Occur.Must, levels[i]), (Occur.MustNot, better)])
            query = self._query(filters, text)
            wanted = q.per_page - len(addresses)
            if sort == "relevance":
                found = searcher.search(query, limit=wanted, offset=skip, count=True)
            else:
                field, order = SORT_KEYS[sort]
                found = searcher.search(
                    query, wanted, count=True, order_by_field=field, offset=skip, order=order
                )
            count = int(found.count)  # type: ignore[attr-defined]  # set with count=True; not in the stub
            addresses.extend(address for _, address in found.hits)
            skip = max(0, skip - count)
            seen += count
            if len(addresses) == q.per_page or seen >= total:
                break
        return addresses

    def _address(self, searcher: tantivy.Searcher, doc_id: int) -> tantivy.DocAddress:
        return searcher.search(self._term("id", doc_id), 1, count=False).hits[0][1]

    def _facets(
        self,
        searcher: tantivy.Searcher,
        q: SearchQuery,
        levels: list[Query],
        first: tuple[str, int] | None = None,
    ) -> tuple[int, dict[str, dict[str, int]], list[int]]:
        """(number of matching products, facets, ids of the first `first` = (sort, n)
        matching products: none without `first`); the institution facet ignores the
        institution filter (see FACETS)."""
        text = levels[-1] if levels else None
        query = self._query(self._filters(q), text)
        total, facets, ids = _aggregate(searcher, query, FACETS, first)
        if q.institution_id is not None:
            anywhere = dataclasses.replace(q, institution_id=None)
            query = self._query(self._filters(anywhere), text)
            facets.update(_aggregate(searcher, query, ("institution_id",))[1])
        return total, facets, ids


# The aggregation collecting the first products (a name no facet has).
FIRST_AGGREGATION = "first"


def _aggregate(
    searcher: tantivy.Searcher,
    query: Query,
    names: Sequence[str],
    first: tuple[str, int] | None = None,
) -> tuple[int, dict[str, dict[str, int]], list[int]]:
    """(number of matching products, counts of the facets `names`, ids of the first
    products) in one aggregation over their FACET_FIELDS (and, with `first` = (sort, n),
    the sort's key field for the first n in that order); the number is known only when
    "category" is counted."""
    aggs: dict[str, Any] = {
        name: {"terms": {"field": FACET_FIELDS[name], "size": FACET_SIZE}} for name in names
    }
    if first is not None:
        field, order = SORT_KEYS[first[0]]
        # From the first hit: tantivy 0.27 panics when "from" is past the last one. The
        # ids are read from the sort keys (no document values to fetch).
        aggs[FIRST_AGGREGATION] = {
            "top_hits": {
                "size": first[1],
                "from": 0,
                "sort": [{field: "asc" if order == Order.Asc else "desc"}],
            }
        }
    result = searcher.aggregate(query, aggs)
    facets: dict[str, dict[str, int]] = {}
    for name in names:
        counts: dict[str, int] = {}
        for bucket in result.get(name, {}).get("buckets", ()):
            n = int(bucket["doc_count"])
            for value in _facet_set(bucket["key"]):
                counts[value] = counts.get(value, 0) + n
        if name == "cities":
            nationwide = counts.pop(NATIONWIDE, 0)
            counts = {city: n + nationwide for city, n in counts.items()}
        # Most products first, like the engine's own buckets (templates keep this order).
        facets[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    total = sum(facets.get("category", {}).values())  # every product has one category
    if first is None:
        return total, facets, []
    order = SORT_KEYS[first[0]][1]
    hits = result.get(FIRST_AGGREGATION, {}).get("hits", ())
    return total, facets, [_sort_key_id(int(hit["sort"][0]), order) for hit in hits]


@lru_cache(maxsize=FACET_SIZE)
def _facet_set(key: str) -> tuple[str, ...]:
    """The values of a FACET_FIELDS value (a value set), split once per distinct set."""
    return tuple(str(key).split(FACET_SEP))
