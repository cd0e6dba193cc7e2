"""Read models for the admin pages, the home page's banner strip and the campaign pages.

A phase (未开始 / 进行中 / 已结束 / 草稿 / 已归档) is computed from the status and the
window against `clock.now()` when read; nothing stores it, so nothing has to move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from marketplace import clock, freshness
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.campaigns.images import read_image
from marketplace.campaigns.links import href
from marketplace.campaigns.statuses import (
    CONTENT_MACHINE,
    PHASE_LABELS,
    PLACEMENT_LABELS,
    VIEW,
    ContentStatus,
    Phase,
    Placement,
)
from marketplace.campaigns.tables import Banner, Campaign
from marketplace.db import transaction
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.loancalc import SHANGHAI
from marketplace.products.queries import ProductCard, products_by_ids
from marketplace.products.tables import Product
from marketplace.products.visibility import on_portal
from marketplace.spreadsheets import Export, export_file
from marketplace.statemachine import Actions

# The strip shows at most this many banners at once.
STRIP_LIMIT = 8
LIST_LIMIT = 500
PRODUCT_CHOICES_LIMIT = 500


def phase_of(status: str, start_at: datetime, end_at: datetime, now: datetime) -> Phase:
    if status == ContentStatus.DRAFT:
        return Phase.DRAFT
    if status == ContentStatus.ARCHIVED:
        return Phase.ARCHIVED
    if now < start_at:
        return Phase.SCHEDULED
    return Phase.LIVE if now < end_at else Phase.ENDED


def local_input(moment: datetime) -> str:
    """The value of a datetime-local input: Asia/Shanghai wall time to the minute."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def local_text(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class BannerView:
    """A banner as the strip shows it."""

    id: int
    title: str
    subtitle: str
    alt_text: str
    href: str
    image_url: str


@dataclass(frozen=True)
class ContentRow:
    """A banner or a campaign in the admin tables and forms."""

    id: int
    title: str
    status: ContentStatus
    phase: Phase
    phase_label: str
    start_at: datetime
    end_at: datetime
    version: int
    actions: Actions
    values: dict[str, Any]  # the form's values, as the inputs want them
    detail: str  # the row's secondary line
    updated_at: datetime

    @property
    def window(self) -> str:
        return f"{local_text(self.start_at)} – {local_text(self.end_at)}"


def _banner_image_url(row: dict) -> str:
    # The version in the URL makes a replaced image a new address (long caching is safe).
    return f"/banners/{row['id']}/image?v={row['version']}"


async def live_banners(placement: Placement = Placement.HOME_TOP) -> list[BannerView]:
    """The banners shown now: active, start_at ≤ now < end_at; one indexed query."""
    now = clock.now()
    rows = (
        await Banner.select(
            Banner.id,
            Banner.title,
            Banner.subtitle,
            Banner.alt_text,
            Banner.link,
            Banner.version,
        )
        .where(
            (Banner.placement == placement)
            & (Banner.status == ContentStatus.ACTIVE)
            & (Banner.start_at <= now)
            & (Banner.end_at > now)
        )
        .order_by(Banner.sort_order)
        .order_by(Banner.id)
        .limit(STRIP_LIMIT)
    )
    if freshness.is_watched():
        await _report_next_banner_change(placement, now)
    return [_banner_view(row) for row in rows]


async def _report_next_banner_change(placement: Placement, now: datetime) -> None:
    """The strip changes by the clock alone when an active banner starts or ends."""
    moments = await Banner.select(Banner.start_at, Banner.end_at).where(
        (Banner.placement == placement)
        & (Banner.status == ContentStatus.ACTIVE)
        & (Banner.end_at > now)
    )
    upcoming = [m for row in moments for m in (row["start_at"], row["end_at"]) if m > now]
    if upcoming:
        freshness.changes_in(min(upcoming) - now)


def _banner_view(row: dict, image_url: str | None = None) -> BannerView:
    return BannerView(
        id=row["id"],
        title=row["title"],
        subtitle=row["subtitle"],
        alt_text=row["alt_text"],
        href=href(row["link"]),
        image_url=image_url or _banner_image_url(row),
    )


def _row(row: dict, actor: Actor, now: datetime, values: dict[str, Any], detail: str) -> ContentRow:
    phase = phase_of(row["status"], row["start_at"], row["end_at"], now)
    return ContentRow(
        id=row["id"],
        title=row["title"],
        status=CONTENT_MACHINE.state(row["status"]),
        phase=phase,
        phase_label=_(PHASE_LABELS[phase]),
        start_at=row["start_at"],
        end_at=row["end_at"],
        version=row["version"],
        actions=CONTENT_MACHINE.actions(row["status"], actor),
        values=values,
        detail=detail,
        updated_at=row["updated_at"],
    )


def _banner_values(row: dict) -> dict[str, Any]:
    values = {k: row[k] for k in ("title", "subtitle", "alt_text", "link", "placement")}
    values["sort_order"] = str(row["sort_order"])
    values["start_at"] = local_input(row["start_at"])
    values["end_at"] = local_input(row["end_at"])
    return values


def _campaign_values(row: dict) -> dict[str, Any]:
    values = {k: row[k] for k in ("slug", "title", "intro", "rules")}
    values["products"] = [str(i) for i in row["product_ids"] or []]
    values["start_at"] = local_input(row["start_at"])
    values["end_at"] = local_input(row["end_at"])
    return values


def _banner_row(row: dict, actor: Actor, now: datetime) -> ContentRow:
    return _row(row, actor, now, _banner_values(row), href(row["link"]))


def _campaign_row(row: dict, actor: Actor, now: datetime) -> ContentRow:
    detail = _("/campaigns/{slug} · {n} 个产品", slug=row["slug"], n=len(row["product_ids"] or []))
    return _row(row, actor, now, _campaign_values(row), detail)


async def banner_rows(actor: Actor, limit: int = LIST_LIMIT) -> list[ContentRow]:
    rows = (
        await Banner.select()
        .order_by(Banner.placement)
        .order_by(Banner.sort_order)
        .order_by(Banner.id, ascending=False)
        .limit(limit)
    )
    now = clock.now()
    return [_banner_row(row, actor, now) for row in rows]


async def campaign_rows(actor: Actor, limit: int = LIST_LIMIT) -> list[ContentRow]:
    rows = await Campaign.select().order_by(Campaign.id, ascending=False).limit(limit)
    now = clock.now()
    return [_campaign_row(row, actor, now) for row in rows]


def _exported(row: ContentRow, *cells: object) -> list[object]:
    return [
        row.id,
        row.title,
        *cells,
        row.phase_label,
        local_text(row.start_at),
        local_text(row.end_at),
        row.version,
        local_text(row.updated_at),
    ]


async def export_rows(actor: Actor, tab: str, file_format: str) -> Export:
    """The banners or the campaigns table as a spreadsheet, every row the page lists,
    audited. Editorial content only: nothing personal."""
    if not actor.can(VIEW):
        raise PermissionDenied()
    banners = tab == "banners"
    # One row past the limit tells a cut list from one that is exactly that long.
    read = banner_rows if banners else campaign_rows
    rows = await read(actor, LIST_LIMIT + 1)
    truncated = len(rows) > LIST_LIMIT
    rows = rows[:LIST_LIMIT]
    async with transaction():
        await audit(
            actor, "campaign.export", "campaign_list", tab, rows=len(rows), format=file_format
        )
    window = [_("状态"), _("开始（北京时间）"), _("结束（北京时间）"), _("版本"), _("更新时间")]
    if banners:
        headers = [_("编号"), _("标题"), _("副标题"), _("位置"), _("排序"), _("链接"), *window]
        cells = [
            _exported(
                r,
                r.values["subtitle"],
                _(PLACEMENT_LABELS[Placement(r.values["placement"])]),
                int(r.values["sort_order"]),
                r.detail,
            )
            for r in rows
        ]
    else:
        headers = [_("编号"), _("标题"), _("页面与产品"), *window]
        cells = [_exported(r, r.detail) for r in rows]
    return export_file(
        file_format,
        tab,
        _("首页横幅") if banners else _("活动页"),
        headers,
        cells,
        limit=LIST_LIMIT,
        truncated=truncated,
    )


async def banner_row(actor: Actor, banner_id: int) -> ContentRow:
    row = await Banner.select().where(Banner.id == banner_id).first()
    if row is None:
        raise NotFound(_("找不到该横幅"))
    return _banner_row(row, actor, clock.now())


async def campaign_row(actor: Actor, campaign_id: int) -> ContentRow:
    row = await Campaign.select().where(Campaign.id == campaign_id).first()
    if row is None:
        raise NotFound(_("找不到该活动"))
    return _campaign_row(row, actor, clock.now())


def banner_preview(row: ContentRow, values: dict[str, Any]) -> BannerView:
    """How the banner looks on the home page, from the values in the form (typed or saved)."""
    return BannerView(
        id=row.id,
        title=values.get("title") or row.values["title"],
        subtitle=values.get("subtitle", ""),
        alt_text=values.get("alt_text") or row.values["alt_text"],
        href="#",
        image_url=f"/admin/campaigns/banners/{row.id}/image?v={row.version}",
    )


@dataclass(frozen=True)
class StoredImage:
    content: bytes
    media_type: str


async def _image(banner_id: int, *, public: bool) -> StoredImage:
    query = Banner.select(Banner.image_key, Banner.image_type).where(Banner.id == banner_id)
    if public:
        query = query.where(Banner.status == ContentStatus.ACTIVE)
    row = await query.first()
    if row is None:
        raise NotFound()
    return StoredImage(await read_image(row["image_key"]), row["image_type"])


async def public_banner_image(banner_id: int) -> StoredImage:
    """Only an active banner's image is public (a draft or archived one is a 404)."""
    return await _image(banner_id, public=True)


async def banner_image(actor: Actor, banner_id: int) -> StoredImage:
    """Any banner's image, for the admin pages."""
    return await _image(banner_id, public=False)


@dataclass(frozen=True)
class CampaignPage:
    slug: str
    title: str
    intro: str
    rules: str
    phase: Phase
    start_at: datetime
    end_at: datetime
    products: list[ProductCard]

    @property
    def starts(self) -> str:
        return local_text(self.start_at)

    @property
    def window(self) -> str:
        return f"{local_text(self.start_at)} – {local_text(self.end_at)}"


def _cost_first(card: ProductCard) -> tuple[Decimal, int]:
    return (card.apr_min if card.apr_min is not None else Decimal("999"), card.id)


async def campaign_page(slug: str) -> CampaignPage:
    """An active campaign: its phase now and, while live, the products of it a borrower
    can apply for (listed now), cheapest APR first. A draft, archived or unknown
    campaign is NotFound."""
    row = (
        await Campaign.select()
        .where((Campaign.slug == slug) & (Campaign.status == ContentStatus.ACTIVE))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该活动"))
    phase = phase_of(row["status"], row["start_at"], row["end_at"], clock.now())
    cards = await products_by_ids(row["product_ids"] or []) if phase is Phase.LIVE else []
    return CampaignPage(
        slug=row["slug"],
        title=row["title"],
        intro=row["intro"],
        rules=row["rules"],
        phase=phase,
        start_at=row["start_at"],
        end_at=row["end_at"],
        products=sorted(cards, key=_cost_first),
    )


async def product_choices(chosen: list[str]) -> list[tuple[str, str]]:
    """Products an editor may put in a campaign: those listed now, and any already chosen
    (marked when no longer listed). (value, label) pairs."""
    listed = (
        await Product.select(
            Product.id, Product.name, Product.institution.short_name.as_alias("institution")
        )
        .where(on_portal())
        .order_by(Product.institution.short_name)
        .order_by(Product.name)
        .limit(PRODUCT_CHOICES_LIMIT)
    )
    options = [(str(r["id"]), f"{r['institution']} · {r['name']}") for r in listed]
    shown = {value for value, _label in options}
    missing = [
        int(v) for v in chosen if v not in shown and v.isascii() and v.isdigit() and len(v) <= 9
    ]
    if missing:
        others = await Product.select(
            Product.id, Product.name, Product.institution.short_name.as_alias("institution")
        ).where(Product.id.is_in(missing[:100]))
        options += [
            (
                str(r["id"]),
                _("{name}（当前未上架，不会显示）", name=f"{r['institution']} · {r['name']}"),
            )
            for r in others
        ]
    return options
