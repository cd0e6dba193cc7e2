"""Content's jobs: the index follows an article (outbox, ids only, idempotent) and the
every-minute cron publishes scheduled articles that are due."""

from __future__ import annotations

from marketplace.content.indexing import index_article
from marketplace.content.services import publish_due


async def index(ctx: dict, article_id: int, **_: object) -> str:
    return await index_article(article_id)


async def publish_scheduled() -> int:
    return await publish_due()
