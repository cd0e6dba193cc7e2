"""The article index of the embedded engine: a tantivy index of its own beside the
products' one (same directory lock, same analysis from search/text.py), behind the
article port (marketplace.content.search_port). With text, matches are ordered by
relevance (BM25 with the field boosts below), equally relevant ones newest first; without
text, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import tantivy
from tantivy import Occur, Order, Query

from marketplace.content.search_port import ArticleDocument, ArticleQuery, ArticleResult
from search import text as tx
from search.embedded import EmbeddedSearch

ARTICLE_SCHEMA_VERSION = 1
_U32 = 0xFFFF_FFFF
WORD_FIELDS = (("title", 3.0), ("summary", 1.5), ("body", 1.0))
CHAR_FIELDS = tuple((f"{f}_chars", b * 0.8) for f, b in WORD_FIELDS)
PINYIN_FIELDS = (("title_py", 2.0), ("title_initials", 2.0))
NEWEST = "sort_newest"


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=True, indexed=True, fast=True)
    for name, _ in WORD_FIELDS + PINYIN_FIELDS:
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    for name, _ in CHAR_FIELDS:
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("category", tokenizer_name="raw", index_option="basic")
    sb.add_unsigned_field(NEWEST, fast=True)
    return sb.build()


def _newest_key(published_at: int, doc_id: int) -> int:
    """Newest first, then the higher id: like the Meilisearch adapter's sort."""
    return (min(max(published_at, 0), _U32) << 32) | doc_id


def _to_tantivy(doc: ArticleDocument) -> tantivy.Document:
    if not 0 <= doc.id <= _U32:
        raise ValueError(f"article id {doc.id} out of range for the embedded index")
    d = tantivy.Document()
    d.add_integer("id", doc.id)
    for field, value in (("title", doc.title), ("summary", doc.summary), ("body", doc.body)):
        d.add_text(field, " ".join(tx.segment(value)))
        d.add_text(f"{field}_chars", " ".join(tx.char_tokens(value)))
    full, initials = tx.pinyin_keys(doc.title)
    d.add_text("title_py", " ".join(full))
    d.add_text("title_initials", " ".join(initials))
    d.add_text("category", doc.category)
    d.add_unsigned(NEWEST, _newest_key(doc.published_at, doc.id))
    return d


class EmbeddedArticleSearch(EmbeddedSearch):
    """ArticleSearchBackend on a tantivy index under `index_dir`/articles-v1. Writing,
    deleting, clearing, counting and the locking are the product engine's own."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(index_dir)
        self._path = self._root / f"articles-v{ARTICLE_SCHEMA_VERSION}"
        self._schema = _schema()

    _document = staticmethod(_to_tantivy)  # type: ignore[assignment]

    async def upsert(self, docs: Sequence[ArticleDocument]) -> None:  # type: ignore[override]
        await super().upsert(docs)  # type: ignore[arg-type]  # analysed by _document/_payload

    async def search(self, q: ArticleQuery) -> ArticleResult:  # type: ignore[override]
        return await self._run(self._search_articles, q)

    def _article_term(self, term: str, last: bool) -> Query:
        alts: list[Query] = []
        if not tx.is_latin(term):
            chars: list[str | tuple[int, str]] = list(tx.char_tokens(term))
            for field, boost in WORD_FIELDS:
                alts.append(Query.boost_query(self._term(field, term), boost))
            for field, boost in CHAR_FIELDS if chars else ():
                q = (
                    Query.phrase_query(self._schema, field, chars)
                    if len(chars) > 1  # a one-word phrase query panics in tantivy
                    else self._term(field, chars[0])
                )
                alts.append(Query.boost_query(q, boost))
        else:
            for field, boost in WORD_FIELDS + PINYIN_FIELDS:
                alts.append(Query.boost_query(self._term(field, term), boost))
            if last and len(term) >= tx.PREFIX_MIN_LENGTH:
                for field, boost in WORD_FIELDS + PINYIN_FIELDS:
                    prefix = Query.fuzzy_term_query(
                        self._schema, field, term, distance=0, prefix=True
                    )
                    alts.append(Query.boost_query(prefix, boost * 0.3))
        return Query.boolean_query([(Occur.Should, a) for a in alts])

    def _search_articles(self, q: ArticleQuery) -> ArticleResult:
        terms = tx.query_terms(q.text)
        clauses = [
            (Occur.Must, self._article_term(term, last=i == len(terms) - 1))
            for i, term in enumerate(terms)
        ]
        if q.category is not None:
            clauses.append((Occur.Must, self._term("category", q.category)))
        searcher = self._searcher()
        if not terms:
            clauses.append((Occur.Must, Query.all_query()))
            found = searcher.search(
                Query.boolean_query(clauses),
                limit=q.per_page,
                offset=q.offset,
                count=True,
                order_by_field=NEWEST,
                order=Order.Desc,
            )
            ids = [int(searcher.doc(address)["id"][0]) for _, address in found.hits]
            return ArticleResult(total=_count(found), ids=ids)
        return self._by_relevance(searcher, Query.boolean_query(clauses), q)

    def _by_relevance(
        self, searcher: tantivy.Searcher, query: Query, q: ArticleQuery
    ) -> ArticleResult:
        """The page by score, ties newest first. Hits are fetched until the page's last
        score is passed (so every hit tied with it is in hand), then the tied ones are
        put in order by the newest-first key, read with a second query on their ids."""
        end = q.offset + q.per_page
        limit = end + 1
        while True:
            found = searcher.search(query, limit=limit, count=True)
            hits = [(score, int(searcher.doc(address)["id"][0])) for score, address in found.hits]
            if len(hits) < limit or hits[-1][0] < hits[end - 1][0]:
                break
            limit *= 2
        if not hits:
            return ArticleResult(total=0, ids=[])
        ids = [doc_id for _, doc_id in hits]
        newest = searcher.search(
            Query.term_set_query(self._schema, "id", ids),
            limit=len(ids),
            order_by_field=NEWEST,
            order=Order.Desc,
        )
        rank = {
            int(searcher.doc(address)["id"][0]): i for i, (_, address) in enumerate(newest.hits)
        }
        hits.sort(key=lambda hit: (-hit[0], rank[hit[1]]))
        return ArticleResult(
            total=_count(found), ids=[doc_id for _, doc_id in hits[q.offset : end]]
        )


def _count(found: tantivy.SearchResult) -> int:
    return int(found.count)  # type: ignore[attr-defined]  # set with count=True
