"""Read models for articles: the editors' list and article page (with the actions this
editor may take), the portal's list, search, article and home block, and the images."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from piccolo.columns.combination import Combinable

from marketplace.actors import Actor
from marketplace.content.rendering import IMAGE_NAME, image_url
from marketplace.content.search_port import ArticleQuery, article_backend
from marketplace.content.services import may_approve, shows_image
from marketplace.content.slugs import is_slug
from marketplace.content.statuses import (
    ARTICLE_MACHINE,
    CATEGORY_LABELS,
    EDITABLE,
    EVENT_LABELS,
    PUBLIC,
    VIEW,
    ArticleStatus,
    Category,
    EventKind,
)
from marketplace.content.tables import Article, ArticleEvent, ArticleImage
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.statemachine import Actions

CATEGORIES = tuple(Category)
STATUSES = tuple(ArticleStatus)
MAX_QUERY_TEXT = 60
RELATED = 4


def category_choices() -> list[tuple[str, str]]:
    return [(str(c), _(CATEGORY_LABELS[c])) for c in CATEGORIES]


def status_choices() -> list[tuple[str, str]]:
    return [(str(s), ARTICLE_MACHINE.label(s)) for s in STATUSES]


def _category_label(code: str) -> str:
    return _(CATEGORY_LABELS[Category(code)])


def _require(actor: Actor) -> None:
    if not actor.can(VIEW):
        raise PermissionDenied()


# -- editors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditorRow:
    id: int
    title: str
    slug: str
    category_label: str
    status: str
    status_label: str
    author_name: str
    version: int
    updated_at: datetime
    publish_at: datetime | None
    published_at: datetime | None


async def editor_list(
    actor: Actor, *, status: str, category: str, q: str, page: int, per_page: int
) -> tuple[list[EditorRow], int]:
    _require(actor)
    where: Combinable = Article.id.is_not_null()
    if status:
        where &= Article.status == status
    if category:
        where &= Article.category == category
    if q:
        where &= Article.title.ilike(f"%{_like(q)}%")
    total = await Article.count().where(where)
    rows = (
        await Article.select(
            *Article.all_columns(
                exclude=[Article.body_markdown, Article.body_html, Article.body_text]
            ),
            Article.author.display_name.as_alias("author_name"),
        )
        .where(where)
        .order_by(Article.updated_at, ascending=False)
        .order_by(Article.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [
        EditorRow(
            id=row["id"],
            title=row["title"],
            slug=row["slug"],
            category_label=_category_label(row["category"]),
            status=row["status"],
            status_label=ARTICLE_MACHINE.label(row["status"]),
            author_name=row["author_name"],
            version=row["version"],
            updated_at=row["updated_at"],
            publish_at=row["publish_at"],
            published_at=row["published_at"],
        )
        for row in rows
    ], total


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class HistoryItem:
    label: str
    actor_label: str
    comment: str
    at: datetime


@dataclass(frozen=True)
class ImageItem:
    name: str
    url: str
    media_type: str
    markdown: str


@dataclass(frozen=True)
class EditorArticle:
    id: int
    title: str
    slug: str
    category: str
    category_label: str
    summary: str
    body_markdown: str
    body_html: str
    cover_image: str
    status: str
    status_label: str
    author_name: str
    reviewer_name: str
    version: int
    publish_at: datetime | None
    published_at: datetime | None
    editable: bool
    public: bool
    actions: Actions
    # Why the approve button is missing although the state allows it (own article).
    own_article: bool
    history: list[HistoryItem]
    images: list[ImageItem]


async def article_for_editor(actor: Actor, article_id: int) -> EditorArticle:
    _require(actor)
    row = (
        await Article.select(
            *Article.all_columns(),
            Article.author.display_name.as_alias("author_name"),
            Article.reviewer.display_name.as_alias("reviewer_name"),
        )
        .where(Article.id == article_id)
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该文章"))
    actions = ARTICLE_MACHINE.actions(row["status"], actor)
    own = "approve" in actions and not may_approve(actor, row)
    if own:
        actions = Actions(tuple(a for a in actions if a.name != "approve"))
    events = (
        await ArticleEvent.select()
        .where(ArticleEvent.article == article_id)
        .order_by(ArticleEvent.id, ascending=False)
    )
    images = (
        await ArticleImage.select(ArticleImage.name, ArticleImage.media_type)
        .where(ArticleImage.article == article_id)
        .order_by(ArticleImage.id)
    )
    return EditorArticle(
        id=row["id"],
        title=row["title"],
        slug=row["slug"],
        category=row["category"],
        category_label=_category_label(row["category"]),
        summary=row["summary"],
        body_markdown=row["body_markdown"],
        body_html=row["body_html"],
        cover_image=row["cover_image"],
        status=row["status"],
        status_label=ARTICLE_MACHINE.label(row["status"]),
        author_name=row["author_name"],
        reviewer_name=row["reviewer_name"] or "",
        version=row["version"],
        publish_at=row["publish_at"],
        published_at=row["published_at"],
        editable=row["status"] in EDITABLE and actor.can("content.edit"),
        public=row["status"] in PUBLIC,
        actions=actions,
        own_article=own,
        history=[
            HistoryItem(
                label=_(EVENT_LABELS[EventKind(event["kind"])]),
                actor_label=event["actor_label"],
                comment=event["comment"],
                at=event["at"],
            )
            for event in events
        ],
        images=[
            ImageItem(
                name=image["name"],
                url=image_url(image["name"]),
                media_type=image["media_type"],
                markdown=f"![]({image_url(image['name'])})",
            )
            for image in images
        ],
    )


# -- portal -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleCard:
    slug: str
    title: str
    category: str
    category_label: str
    summary: str
    cover_url: str
    published_at: datetime


@dataclass(frozen=True)
class PublicArticle:
    card: ArticleCard
    body_html: str
    related: list[ArticleCard]


_CARD_COLUMNS = (
    Article.id,
    Article.slug,
    Article.title,
    Article.category,
    Article.summary,
    Article.cover_image,
    Article.published_at,
)


def _card(row: dict) -> ArticleCard:
    return ArticleCard(
        slug=row["slug"],
        title=row["title"],
        category=row["category"],
        category_label=_category_label(row["category"]),
        summary=row["summary"],
        cover_url=image_url(row["cover_image"]) if row["cover_image"] else "",
        published_at=row["published_at"],
    )


def _public() -> Combinable:
    return Article.status.is_in(list(PUBLIC))


async def published_articles(
    *, category: str, q: str, page: int, per_page: int
) -> tuple[list[ArticleCard], int]:
    """Newest first; with text, the search index finds them (Chinese words, pinyin),
    most relevant first."""
    if q:
        result = await article_backend().search(
            ArticleQuery(text=q, category=category or None, page=page, per_page=per_page)
        )
        if not result.ids:
            return [], result.total
        rows = await Article.select(*_CARD_COLUMNS).where(_public() & Article.id.is_in(result.ids))
        by_id = {row["id"]: row for row in rows}
        return [_card(by_id[i]) for i in result.ids if i in by_id], result.total
    where = _public()
    if category:
        where &= Article.category == category
    total = await Article.count().where(where)
    rows = (
        await Article.select(*_CARD_COLUMNS)
        .where(where)
        .order_by(Article.published_at, ascending=False)
        .order_by(Article.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [_card(row) for row in rows], total


async def latest_articles(limit: int) -> list[ArticleCard]:
    cards, _total = await published_articles(category="", q="", page=1, per_page=limit)
    return cards


async def published_article(slug: str) -> PublicArticle:
    """A published article by its address; anything else (a draft, unpublished, a slug
    that could not be one) is not found."""
    if not is_slug(slug):
        raise NotFound(_("找不到该文章"))
    row = (
        await Article.select(*_CARD_COLUMNS, Article.body_html)
        .where(_public() & (Article.slug == slug))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该文章"))
    related = (
        await Article.select(*_CARD_COLUMNS)
        .where(_public() & (Article.category == row["category"]) & (Article.id != row["id"]))
        .order_by(Article.published_at, ascending=False)
        .limit(RELATED)
    )
    return PublicArticle(
        card=_card(row), body_html=row["body_html"], related=[_card(r) for r in related]
    )


@dataclass(frozen=True)
class ImageFile:
    storage_key: str
    media_type: str
    public: bool  # shown by a published article: cacheable by anyone


async def article_image(name: str, viewer: Actor | None) -> ImageFile:
    """An article image for the public when a published article shows it (in its body
    or as its cover), for editors always; otherwise not found."""
    if not IMAGE_NAME.fullmatch(name):
        raise NotFound()
    row = (
        await ArticleImage.select(ArticleImage.storage_key, ArticleImage.media_type)
        .where(ArticleImage.name == name)
        .first()
    )
    if row is None:
        raise NotFound()
    shown = await Article.exists().where(_public() & shows_image(name))
    editor = viewer is not None and viewer.kind == "operator" and viewer.can(VIEW)
    if not shown and not editor:
        raise NotFound()
    return ImageFile(row["storage_key"], row["media_type"], public=shown)
