"""Verbs on articles: write (create, save with an optimistic version check), upload an
image, move through the workflow (submit, approve or return, unpublish, redraft) and the
scheduler's `publish_due`. Every write is audited in its transaction; the search index
follows through the outbox (published → upserted, anything else → removed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from piccolo.columns.combination import Combinable

from marketplace import clock, outbox, storage
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.content.rendering import (
    IMAGE_NAME,
    image_url,
    plain_text,
    referenced_images,
    render_markdown,
)
from marketplace.content.slugs import SLUG_MAX, is_slug, slug_from_title, with_suffix
from marketplace.content.statuses import (
    APPROVE,
    ARTICLE_MACHINE,
    COMMENT_REQUIRED,
    EDIT,
    EDITABLE,
    PUBLISH_DUE,
    ArticleStatus,
    Category,
    EventKind,
)
from marketplace.content.tables import Article, ArticleEvent, ArticleImage
from marketplace.db import transaction
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.files import UploadedFile, sniff_image
from marketplace.i18n import _
from marketplace.loancalc import SHANGHAI
from marketplace.parsing import (
    FieldError,
    FormReader,
    column_length,
    first,
    parse_choice,
    parse_text,
)

TITLE_MAX = column_length(Article.title)
SUMMARY_MAX = column_length(Article.summary)
BODY_MAX = 50_000
COMMENT_MAX = 500
IMAGE_MAX_BYTES = 2 * 1024 * 1024
_LOCAL_MINUTE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")

# The scheduled run publishes as the system.
SCHEDULER = Actor(
    user_id=None,
    kind="system",
    label="content.scheduler",
    role="system",
    permissions=frozenset({PUBLISH_DUE}),
)


class EditConflict(InvalidTransition):
    """Someone saved the article since this editor opened it (a 409; the form keeps the
    typed text so nothing is lost)."""


@dataclass(frozen=True)
class ArticleInput:
    title: str
    category: str
    summary: str
    body_markdown: str
    slug: str  # "" = from the title's pinyin
    cover_image: str  # an image name of this article, or ""
    publish_at: datetime | None


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


def _parse_slug(raw: Any, *, label: str) -> str:
    text = first(raw).strip().lower()
    if text and not is_slug(text):
        raise FieldError(
            _(
                "{label}只能用小写字母、数字和连字符，最多{maximum}个字符",
                label=label,
                maximum=SLUG_MAX,
            )
        )
    return text


def _parse_image_name(raw: Any, *, label: str) -> str:
    text = first(raw).strip()
    if text and not IMAGE_NAME.fullmatch(text):
        raise FieldError(_("请选择本文已上传的图片作为{label}", label=label))
    return text


def _parse_local_minute(raw: Any, *, label: str) -> datetime | None:
    """A datetime-local value (YYYY-MM-DDTHH:MM, Beijing time), or None when empty."""
    text = first(raw).strip()
    if not text:
        return None
    try:
        if not _LOCAL_MINUTE.fullmatch(text):
            raise ValueError(text)
        return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)
    except ValueError:
        raise FieldError(_("请填写正确的{label}，如 2026-01-31 09:00", label=label)) from None


def parse_article(data: dict[str, Any]) -> ArticleInput:
    form = FormReader(data)
    article = ArticleInput(
        title=form.field(
            "title", parse_text, "", label=_("标题"), max_length=TITLE_MAX, min_length=1
        ),
        category=form.field("category", parse_choice, "", choices=tuple(Category), label=_("栏目")),
        summary=form.field(
            "summary", parse_text, "", label=_("摘要"), max_length=SUMMARY_MAX, multiline=True
        ),
        body_markdown=form.field(
            "body",
            parse_text,
            "",
            label=_("正文"),
            max_length=BODY_MAX,
            min_length=1,
            multiline=True,
        ),
        slug=form.field("slug", _parse_slug, "", label=_("链接名")),
        cover_image=form.field("cover_image", _parse_image_name, "", label=_("封面")),
        publish_at=form.field("publish_at", _parse_local_minute, None, label=_("定时发布时间")),
    )
    form.raise_errors()
    return article


def parse_version(raw: Any) -> int:
    text = first(raw).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise EditConflict(_("页面已过期，请刷新后再保存"))
    return int(text)


async def _event(article_id: int, kind: EventKind, actor: Actor, comment: str = "") -> None:
    await ArticleEvent.insert(
        ArticleEvent(
            article=article_id,
            kind=kind,
            actor=actor.user_id,
            actor_label=actor.label,
            comment=comment,
        )
    )


async def _free_slug(wanted: str, title: str, article_id: int | None) -> str:
    """The typed slug (refused when taken), or one from the title made unique."""
    others = Article.id != article_id if article_id else Article.id.is_not_null()
    if wanted:
        if await Article.exists().where((Article.slug == wanted) & others):
            raise DomainError(_("该链接名已被其他文章使用"), field="slug")
        return wanted
    base = slug_from_title(title) or "article"
    candidate, number = base, 1
    while await Article.exists().where((Article.slug == candidate) & others):
        number += 1
        candidate = with_suffix(base, number)
    return candidate


async def _check_cover(article_id: int | None, name: str) -> None:
    if not name:
        return
    if article_id is None or not await ArticleImage.exists().where(
        (ArticleImage.name == name) & (ArticleImage.article == article_id)
    ):
        raise DomainError(_("请选择本文已上传的图片作为封面"), field="cover_image")


def shows_image(name: str) -> Combinable:
    """Articles that show the image `name`, in their body or as their cover (the body may
    show any article's image)."""
    return (Article.cover_image == name) | Article.body_html.like(f"%{image_url(name)}%")


def _shown(body_html: str, cover_image: str) -> set[str]:
    return referenced_images(body_html) | ({cover_image} if cover_image else set())


async def _drop_images(article_id: int, names: set[str]) -> list[dict]:
    """Delete the rows of this article's images among `names` that no article shows any
    more; their names and storage keys (the files go after the commit)."""
    if not names:
        return []
    rows = await ArticleImage.select(
        ArticleImage.id, ArticleImage.name, ArticleImage.storage_key
    ).where((ArticleImage.article == article_id) & ArticleImage.name.is_in(sorted(names)))
    dropped = [row for row in rows if not await Article.exists().where(shows_image(row["name"]))]
    if dropped:
        await ArticleImage.delete().where(ArticleImage.id.is_in([row["id"] for row in dropped]))
    return dropped


def _rendered(article: ArticleInput) -> dict:
    return {
        Article.title: article.title,
        Article.category: article.category,
        Article.summary: article.summary,
        Article.body_markdown: article.body_markdown,
        Article.body_html: render_markdown(article.body_markdown),
        Article.body_text: plain_text(article.body_markdown),
        Article.cover_image: article.cover_image,
        Article.publish_at: article.publish_at,
    }


async def create_article(actor: Actor, data: dict[str, Any]) -> int:
    """A new draft written by `actor`."""
    _require(actor, EDIT)
    article = parse_article(data)
    await _check_cover(None, article.cover_image)
    try:
        async with transaction():
            slug = await _free_slug(article.slug, article.title, None)
            values = {column._meta.name: value for column, value in _rendered(article).items()}
            rows = await Article.insert(
                Article(
                    slug=slug,
                    author=actor.user_id,
                    editor=actor.user_id,
                    status=ArticleStatus.DRAFT,
                    **values,
                )
            ).returning(Article.id)
            article_id = int(rows[0]["id"])
            await _event(article_id, EventKind.CREATED, actor)
            await audit(actor, "content.article_create", "article", article_id, slug=slug)
    except UniqueViolationError:
        raise DomainError(_("该链接名已被其他文章使用"), field="slug") from None
    return article_id


async def _locked(article_id: int) -> dict:
    row = await Article.select().where(Article.id == article_id).lock_rows().first()
    if row is None:
        raise NotFound(_("找不到该文章"))
    return row


async def save_article(actor: Actor, article_id: int, data: dict[str, Any]) -> int:
    """Save the text of a draft or of a published article (live at once, reindexed).
    `data["version"]` is the version the editor opened: if someone saved since, nothing
    is written and EditConflict says so. Returns the new version.

    Images the saved version stopped showing (in the body or as the cover), and that no
    other article shows, are deleted: their rows in the transaction, their files after
    the commit. Uploaded images never shown yet stay for the editor to use."""
    _require(actor, EDIT)
    opened = parse_version(data.get("version"))
    article = parse_article(data)
    try:
        async with transaction():
            row = await _locked(article_id)
            if row["status"] not in EDITABLE:
                raise InvalidTransition(
                    _("“{state}”的文章不能修改", state=ARTICLE_MACHINE.label(row["status"]))
                )
            if row["version"] != opened:
                raise EditConflict(
                    _(
                        "{name}已在你打开后保存了这篇文章（现为第{version}版）。你的内容仍在下方，"
                        "请复制保存后刷新页面查看最新版本再合并。",
                        name=await _last_editor(article_id),
                        version=row["version"],
                    )
                )
            await _check_cover(article_id, article.cover_image)
            slug = await _free_slug(article.slug or row["slug"], article.title, article_id)
            version = row["version"] + 1
            rendered = _rendered(article)
            await Article.update(
                {
                    **rendered,
                    Article.slug: slug,
                    Article.editor: actor.user_id,
                    Article.version: version,
                    Article.updated_at: clock.now(),
                }
            ).where(Article.id == article_id)
            dropped = await _drop_images(
                article_id,
                _shown(row["body_html"], row["cover_image"])
                - _shown(rendered[Article.body_html], article.cover_image),
            )
            await _event(article_id, EventKind.EDITED, actor)
            await audit(
                actor,
                "content.article_edit",
                "article",
                article_id,
                version=version,
                images_removed=[image["name"] for image in dropped],
            )
            if row["status"] == ArticleStatus.PUBLISHED:
                await outbox.record("content.index", article_id=article_id)
    except UniqueViolationError:
        raise DomainError(_("该链接名已被其他文章使用"), field="slug") from None
    for image in dropped:
        await storage.discard(image["storage_key"])
    return version


async def _last_editor(article_id: int) -> str:
    row = (
        await ArticleEvent.select(ArticleEvent.actor_label)
        .where(ArticleEvent.article == article_id)
        .order_by(ArticleEvent.id, ascending=False)
        .first()
    )
    return row["actor_label"] if row else _("其他编辑")


def may_approve(actor: Actor, row: dict) -> bool:
    """Another editor approves: never the author, nor whoever last changed the text."""
    return actor.can(APPROVE) and actor.user_id not in (row["author"], row["editor"])


_EVENTS = {
    "submit": EventKind.SUBMITTED,
    "return": EventKind.RETURNED,
    "unpublish": EventKind.UNPUBLISHED,
    "redraft": EventKind.REDRAFTED,
}


async def change_status(actor: Actor, article_id: int, action: str, raw_comment: Any = "") -> str:
    """Take a workflow action; returns the new status. Approving an article whose
    publish_at is still ahead schedules it instead of publishing it now."""
    if action not in _EVENTS and action != "approve":
        raise NotFound()
    try:
        comment = parse_text(
            raw_comment,
            label=_("意见"),
            max_length=COMMENT_MAX,
            min_length=1 if action in COMMENT_REQUIRED else 0,
            multiline=True,
        )
    except FieldError as exc:
        raise DomainError(exc.message, field="comment") from exc
    async with transaction():
        row = await _locked(article_id)
        target = ARTICLE_MACHINE.target(row["status"], action, actor)
        now = clock.now()
        values: dict = {Article.status: target, Article.updated_at: now}
        kind = _EVENTS.get(action, EventKind.APPROVED)
        if action == "approve":
            if not may_approve(actor, row):
                raise PermissionDenied(_("不能审核自己撰写或最后修改的文章，请由另一位编辑审核"))
            values[Article.reviewer] = actor.user_id
            if row["publish_at"] is not None and row["publish_at"] > now:
                target = ArticleStatus.SCHEDULED
                values[Article.status] = target
                kind = EventKind.SCHEDULED
            else:
                values[Article.published_at] = now
        await Article.update(values).where(Article.id == article_id)
        await _event(article_id, kind, actor, comment)
        await audit(actor, f"content.article_{action}", "article", article_id, status=str(target))
        if row["status"] == ArticleStatus.PUBLISHED or target == ArticleStatus.PUBLISHED:
            await outbox.record("content.index", article_id=article_id)
    return str(target)


async def publish_due(now: datetime | None = None) -> int:
    """Publish every scheduled article whose time has come. Idempotent and safe to run in
    parallel: each due row is taken under a row lock, skipping rows another run holds."""
    moment = now or clock.now()
    published = 0
    async with transaction():
        rows = (
            await Article.select(Article.id, Article.publish_at)
            .where((Article.status == ArticleStatus.SCHEDULED) & (Article.publish_at <= moment))
            .order_by(Article.id)
            .lock_rows(skip_locked=True)
        )
        for row in rows:
            ARTICLE_MACHINE.target(ArticleStatus.SCHEDULED, "publish", SCHEDULER)
            await Article.update(
                {
                    Article.status: ArticleStatus.PUBLISHED,
                    Article.published_at: row["publish_at"],
                    Article.updated_at: moment,
                }
            ).where(Article.id == row["id"])
            await _event(row["id"], EventKind.PUBLISHED, SCHEDULER)
            await audit(SCHEDULER, "content.article_publish", "article", row["id"])
            await outbox.record("content.index", article_id=row["id"])
            published += 1
    return published


async def upload_image(actor: Actor, article_id: int, upload: UploadedFile | None) -> str:
    """Store a picture for the article (JPEG, PNG or WebP by its bytes, at most 2 MB);
    returns its name, the tail of /articles/images/<name>."""
    _require(actor, EDIT)
    if upload is None or not upload.content:
        raise DomainError(_("请选择要上传的图片"), field="image")
    if len(upload.content) > IMAGE_MAX_BYTES:
        raise DomainError(_("图片不能超过 2 MB"), field="image")
    media_type = sniff_image(upload.content)
    if media_type is None:
        raise DomainError(_("只能上传 JPEG、PNG 或 WebP 图片"), field="image")
    key = storage.new_key(f"articles/{article_id}")
    name = key.rsplit("/", 1)[-1]
    async with transaction():  # a rollback discards the stored file (storage.put)
        await _locked(article_id)
        await storage.put(key, upload.content, content_type=media_type)
        await ArticleImage.insert(
            ArticleImage(
                name=name,
                storage_key=key,
                media_type=media_type,
                article=article_id,
                uploader=actor.user_id,
            )
        )
        await audit(actor, "content.image_upload", "article", article_id, image=name)
    return name
