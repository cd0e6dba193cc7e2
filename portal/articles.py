"""Articles on the portal (P10): the list (category tabs, search, pages), one article
with related ones, and the pictures published articles show."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromPath

from marketplace import storage
from marketplace.content.queries import (
    MAX_QUERY_TEXT,
    article_image,
    category_choices,
    published_article,
    published_articles,
)
from marketplace.content.statuses import CATEGORY_LABELS
from server.auth import current_actor
from server.forms import query_choice, query_page, query_text
from server.pagination import pagination
from server.rendering import render

PUBLIC = {"access": "public"}
PER_PAGE = 12
# A picture's bytes never change under its name: browsers and proxies keep it a year.
CACHE_PUBLIC = "public, max-age=31536000, immutable"


@get("/articles", name="portal.articles.list", opt=PUBLIC)
async def article_list(request: Request) -> Response:
    filters = {
        "category": query_choice(request, "category", tuple(CATEGORY_LABELS)),
        "q": query_text(request, "q", max_length=MAX_QUERY_TEXT),
    }
    page = query_page(request)
    cards, total = await published_articles(**filters, page=page, per_page=PER_PAGE)
    return await render(
        request,
        "portal/articles.html",
        {
            "cards": cards,
            "total": total,
            **filters,
            "categories": category_choices(),
            **pagination(request.url.path, filters, page, total, PER_PAGE),
        },
        nav="articles",
    )


@get("/articles/{slug:str}", name="portal.articles.detail", opt=PUBLIC)
async def article_page(request: Request, slug: FromPath[str]) -> Response:
    return await render(
        request, "portal/article.html", {"article": await published_article(slug)}, nav="articles"
    )


@get("/articles/images/{name:str}", name="portal.articles.image", opt=PUBLIC)
async def image(request: Request, name: FromPath[str]) -> Response:
    """Public (and cached long) once a published article shows it; editors see it
    before, uncached."""
    found = await article_image(name, await current_actor(request))
    return Response(
        content=await storage.get(found.storage_key),
        media_type=found.media_type,
        headers={
            "Cache-Control": CACHE_PUBLIC if found.public else "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


handlers = [article_list, article_page, image]
