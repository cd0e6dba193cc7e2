"""Verbs on banners and campaigns: create, edit (with the version the editor saw) and
change status, each audited in its own transaction.

Forms are read here (`parse_banner_form`, `parse_campaign_form`) so the admin pages stay
thin and every field error is reported at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from piccolo.table import Table

from marketplace import storage
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.campaigns.images import checked_image, store_image
from marketplace.campaigns.links import SLUG, clean_link
from marketplace.campaigns.statuses import CONTENT_MACHINE, MANAGE, ContentStatus, Placement
from marketplace.campaigns.tables import Banner, Campaign
from marketplace.db import transaction
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.files import UploadedFile
from marketplace.i18n import _
from marketplace.loancalc import SHANGHAI
from marketplace.parsing import (
    FieldError,
    FormReader,
    column_length,
    parse_choice,
    parse_datetime_local,
    parse_int,
    parse_text,
)
from marketplace.products.tables import Product

MAX_SORT_ORDER = 9999
MAX_CAMPAIGN_PRODUCTS = 30


@dataclass(frozen=True)
class Window:
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True)
class BannerInput:
    title: str
    subtitle: str
    alt_text: str
    link: str
    placement: str
    sort_order: int
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True)
class CampaignInput:
    slug: str
    title: str
    intro: str
    rules: str
    product_ids: tuple[int, ...]
    start_at: datetime
    end_at: datetime


def _require(actor: Actor) -> None:
    if not actor.can(MANAGE):
        raise PermissionDenied()


def _text(form: FormReader, key: str, column: Any, label: str, **options: Any) -> str:
    return form.field(key, parse_text, "", label=label, max_length=column_length(column), **options)


def _window(form: FormReader) -> Window:
    start = form.field("start_at", parse_datetime_local, None, label=_("开始时间"), zone=SHANGHAI)
    end = form.field("end_at", parse_datetime_local, None, label=_("结束时间"), zone=SHANGHAI)
    if start and end and end <= start:
        form.fail("end_at", _("结束时间必须晚于开始时间"))
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return Window(start or epoch, end or epoch)


def parse_banner_form(
    data: dict[str, Any], upload: UploadedFile | None, *, image_required: bool
) -> tuple[BannerInput, tuple[bytes, str] | None]:
    """The banner's fields and its new image (None: keep the current one); every error at
    once as a ValidationFailed."""
    form = FormReader(data)
    title = _text(form, "title", Banner.title, _("标题"), min_length=1)
    subtitle = _text(form, "subtitle", Banner.subtitle, _("副标题"))
    alt_text = _text(form, "alt_text", Banner.alt_text, _("图片替代文字"), min_length=1)
    try:
        link = clean_link(str(data.get("link") or "")[:1000])
    except DomainError as exc:
        form.fail("link", exc.message)
        link = ""
    placement = form.field(
        "placement", parse_choice, str(Placement.HOME_TOP), choices=list(Placement), label=_("位置")
    )
    sort_order = form.field(
        "sort_order", parse_int, 0, label=_("排序"), minimum=0, maximum=MAX_SORT_ORDER
    )
    window = _window(form)
    image = None
    try:
        image = checked_image(upload, required=image_required)
    except DomainError as exc:
        form.fail("image", exc.message)
    form.raise_errors()
    return BannerInput(
        title, subtitle, alt_text, link, placement, sort_order, window.start_at, window.end_at
    ), image


def _product_ids(raw: Any) -> tuple[int, ...]:
    values = raw if isinstance(raw, list) else ([raw] if raw else [])
    ids: list[int] = []
    for value in values:
        product_id = parse_int(value, label=_("产品"), minimum=1)
        if product_id not in ids:
            ids.append(product_id)
    if len(ids) > MAX_CAMPAIGN_PRODUCTS:
        raise FieldError(_("一个活动最多选择 {n} 个产品", n=MAX_CAMPAIGN_PRODUCTS))
    return tuple(ids)


def _slug(raw: Any, *, label: str) -> str:
    text = parse_text(raw, label=label, max_length=column_length(Campaign.slug), min_length=1)
    if not SLUG.fullmatch(text):
        raise FieldError(_("活动标识只能用小写字母、数字和连字符，如 zhuangxiu-2026"))
    return text


def parse_campaign_form(data: dict[str, Any]) -> CampaignInput:
    form = FormReader(data)
    slug = form.field("slug", _slug, "", label=_("活动标识"))
    title = _text(form, "title", Campaign.title, _("活动标题"), min_length=1)
    intro = _text(form, "intro", Campaign.intro, _("活动介绍"), multiline=True)
    rules = _text(form, "rules", Campaign.rules, _("活动规则"), multiline=True)
    none: tuple[int, ...] = ()
    product_ids = form.field("products", _product_ids, none)
    window = _window(form)
    form.raise_errors()
    return CampaignInput(slug, title, intro, rules, product_ids, window.start_at, window.end_at)


async def _locked(table: type[Table], row_id: int) -> dict:
    row = await table.select().where(table._meta.primary_key == row_id).lock_rows().first()
    if row is None:
        raise NotFound()
    return row


def _check_version(row: dict, expected_version: int) -> None:
    if row["version"] != expected_version:
        raise InvalidTransition(
            _(
                "这条内容刚被其他人修改过（当前第 {v} 版），请刷新页面查看最新内容后再改",
                v=row["version"],
            )
        )


async def create_banner(actor: Actor, cmd: BannerInput, image: tuple[bytes, str]) -> int:
    _require(actor)
    content, media_type = image
    key = await store_image(content, media_type)
    try:
        async with transaction():
            rows = await Banner.insert(
                Banner(
                    **asdict(cmd),
                    image_key=key,
                    image_type=media_type,
                    status=ContentStatus.DRAFT,
                    created_by=actor.user_id,
                    updated_by=actor.user_id,
                )
            ).returning(Banner.id)
            banner_id = rows[0]["id"]
            await audit(actor, "campaign.banner_create", "banner", banner_id, **_detail(cmd))
    except BaseException:
        await storage.discard(key)
        raise
    return banner_id


def _detail(cmd: BannerInput | CampaignInput) -> dict[str, Any]:
    detail = asdict(cmd)
    detail["start_at"] = cmd.start_at.isoformat()
    detail["end_at"] = cmd.end_at.isoformat()
    if isinstance(cmd, CampaignInput):
        detail["product_ids"] = list(cmd.product_ids)
        detail.pop("rules")
    return detail


async def update_banner(
    actor: Actor,
    banner_id: int,
    expected_version: int,
    cmd: BannerInput,
    image: tuple[bytes, str] | None,
) -> int:
    """Save the edit; refused when the banner changed since the editor opened it."""
    _require(actor)
    values: dict[Any, Any] = {getattr(Banner, k): v for k, v in asdict(cmd).items()}
    new_key = None
    if image is not None:
        new_key = await store_image(*image)
        values[Banner.image_key] = new_key
        values[Banner.image_type] = image[1]
    try:
        async with transaction():
            row = await _locked(Banner, banner_id)
            _check_version(row, expected_version)
            version = row["version"] + 1
            await Banner.update(
                {
                    **values,
                    Banner.version: version,
                    Banner.updated_by: actor.user_id,
                    Banner.updated_at: datetime.now(UTC),
                }
            ).where(Banner.id == banner_id)
            await audit(
                actor,
                "campaign.banner_update",
                "banner",
                banner_id,
                version=version,
                new_image=new_key is not None,
                **_detail(cmd),
            )
    except BaseException:
        if new_key is not None:
            await storage.discard(new_key)
        raise
    if new_key is not None:
        await storage.discard(row["image_key"])  # replaced: nothing serves it any more
    return version


async def _change_status(
    actor: Actor, table: type[Table], kind: str, row_id: int, action: str, expected_version: int
) -> None:
    _require(actor)
    async with transaction():
        row = await _locked(table, row_id)
        _check_version(row, expected_version)
        target = CONTENT_MACHINE.target(row["status"], action, actor)
        await table.update(
            {
                table.status: target,  # type: ignore[attr-defined]
                table.version: row["version"] + 1,  # type: ignore[attr-defined]
                table.updated_by: actor.user_id,  # type: ignore[attr-defined]
                table.updated_at: datetime.now(UTC),  # type: ignore[attr-defined]
            }
        ).where(table._meta.primary_key == row_id)
        prefix = "campaign.banner_" if kind == "banner" else "campaign."
        await audit(actor, f"{prefix}{action}", kind, row_id, status=str(target))


async def change_banner_status(
    actor: Actor, banner_id: int, action: str, expected_version: int
) -> None:
    await _change_status(actor, Banner, "banner", banner_id, action, expected_version)


async def change_campaign_status(
    actor: Actor, campaign_id: int, action: str, expected_version: int
) -> None:
    await _change_status(actor, Campaign, "campaign", campaign_id, action, expected_version)


async def _check_products(product_ids: tuple[int, ...]) -> None:
    if not product_ids:
        return
    found = await Product.select(Product.id).where(Product.id.is_in(list(product_ids)))
    if len(found) != len(product_ids):
        raise DomainError(_("所选产品中有不存在的产品，请重新选择"), field="products")


async def _slug_taken(slug: str, campaign_id: int | None) -> None:
    query = Campaign.exists().where(Campaign.slug == slug)
    if campaign_id is not None:
        query = query.where(Campaign.id != campaign_id)
    if await query:
        raise DomainError(_("活动标识已被其他活动使用，请换一个"), field="slug")


def _slug_clash(exc: UniqueViolationError) -> DomainError:
    return DomainError(_("活动标识已被其他活动使用，请换一个"), field="slug")


async def create_campaign(actor: Actor, cmd: CampaignInput) -> int:
    _require(actor)
    await _check_products(cmd.product_ids)
    await _slug_taken(cmd.slug, None)
    try:
        async with transaction():
            rows = await Campaign.insert(
                Campaign(
                    **{**asdict(cmd), "product_ids": list(cmd.product_ids)},
                    status=ContentStatus.DRAFT,
                    created_by=actor.user_id,
                    updated_by=actor.user_id,
                )
            ).returning(Campaign.id)
            campaign_id = rows[0]["id"]
            await audit(actor, "campaign.create", "campaign", campaign_id, **_detail(cmd))
    except UniqueViolationError as exc:  # two editors chose the same slug at once
        raise _slug_clash(exc) from None
    return campaign_id


async def update_campaign(
    actor: Actor, campaign_id: int, expected_version: int, cmd: CampaignInput
) -> int:
    _require(actor)
    await _check_products(cmd.product_ids)
    await _slug_taken(cmd.slug, campaign_id)
    values = {getattr(Campaign, k): v for k, v in asdict(cmd).items()}
    values[Campaign.product_ids] = list(cmd.product_ids)
    try:
        async with transaction():
            row = await _locked(Campaign, campaign_id)
            _check_version(row, expected_version)
            version = row["version"] + 1
            await Campaign.update(
                {
                    **values,
                    Campaign.version: version,
                    Campaign.updated_by: actor.user_id,
                    Campaign.updated_at: datetime.now(UTC),
                }
            ).where(Campaign.id == campaign_id)
            await audit(
                actor, "campaign.update", "campaign", campaign_id, version=version, **_detail(cmd)
            )
    except UniqueViolationError as exc:
        raise _slug_clash(exc) from None
    return version
