"""Keeping the article index in step with the database: the outbox job below and the
full rebuild (run with the products' one) — never inline in a web request."""

from __future__ import annotations

from marketplace.content.search_port import ArticleDocument, article_backend
from marketplace.content.statuses import PUBLIC
from marketplace.content.tables import Article

DOCUMENT_COLUMNS = (
    Article.id,
    Article.slug,
    Article.title,
    Article.summary,
    Article.body_text,
    Article.category,
    Article.published_at,
    Article.status,
)


def article_document(row: dict) -> ArticleDocument:
    """Public text only: nothing about the editors goes into the index."""
    return ArticleDocument(
        id=row["id"],
        slug=row["slug"],
        title=row["title"],
        summary=row["summary"],
        body=row["body_text"],
        category=row["category"],
        published_at=int(row["published_at"].timestamp()) if row["published_at"] else 0,
    )


async def index_article(article_id: int) -> str:
    """Published → upsert, anything else (or gone) → delete. Idempotent."""
    row = await Article.select(*DOCUMENT_COLUMNS).where(Article.id == article_id).first()
    if row is None or row["status"] not in PUBLIC:
        await article_backend().delete([article_id])
        return "deleted"
    await article_backend().upsert([article_document(row)])
    return "indexed"


async def reindex_articles() -> int:
    """Rebuild the article index from the database."""
    search = article_backend()
    await search.clear()
    rows = await Article.select(*DOCUMENT_COLUMNS).where(Article.status.is_in(list(PUBLIC)))
    await search.upsert([article_document(row) for row in rows])
    return len(rows)
