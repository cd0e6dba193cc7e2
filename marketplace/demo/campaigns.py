"""Demo banners and campaigns, through the campaigns verbs (as the super admin): a live
campaign "装修季 低息专场" with the listed 装修 / 消费 products, an ended one; two live
banners (one to the live campaign, one to the calculator), one scheduled, one ended.

Pillow is not a dependency, so the banner images are small PNG files committed under
marketplace/demo/assets/ and stored through the storage interface like any upload."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from marketplace import clock
from marketplace.actors import Actor
from marketplace.campaigns.services import (
    BannerInput,
    CampaignInput,
    change_banner_status,
    change_campaign_status,
    create_banner,
    create_campaign,
)
from marketplace.campaigns.tables import Campaign
from marketplace.demo.decisions import _actor
from marketplace.i18n import _
from marketplace.products.tables import Product
from marketplace.products.visibility import on_portal

ASSETS = Path(__file__).parent / "assets"
LIVE_SLUG = "zhuangxiu-2026"
ENDED_SLUG = "shuang11-2026"


async def _renovation_products(limit: int = 6) -> list[int]:
    """Listed products for home improvement first (装修 in their keywords), then other
    consumer loans: 4–6 of them."""
    rows = (
        await Product.select(Product.id, Product.category, Product.keywords)
        .where(on_portal())
        .order_by(Product.id)
    )
    renovation = [r["id"] for r in rows if "装修" in (r["keywords"] or [])]
    consumer = [r["id"] for r in rows if r["category"] == "consumer" and r["id"] not in renovation]
    return (renovation + consumer)[:limit]


async def _campaign(
    admin: Actor,
    slug: str,
    title: str,
    intro: str,
    products: list[int],
    start: datetime,
    end: datetime,
) -> None:
    rules = _(
        "1. 活动期间通过本页申请的产品，按页面展示的综合年化利率（IRR，含全部费用）比较。\n"
        "2. 实际额度、利率以机构审批结果为准。\n"
        "3. 平台不向借款人收取任何费用。"
    )
    campaign_id = await create_campaign(
        admin, CampaignInput(slug, title, intro, rules, tuple(products), start, end)
    )
    await change_campaign_status(admin, campaign_id, "activate", 1)


async def _banner(
    admin: Actor,
    asset: str,
    title: str,
    subtitle: str,
    alt: str,
    link: str,
    order: int,
    start: datetime,
    end: datetime,
) -> None:
    image = (ASSETS / f"{asset}.png").read_bytes()
    banner_id = await create_banner(
        admin,
        BannerInput(title, subtitle, alt, link, "home_top", order, start, end),
        (image, "image/png"),
    )
    await change_banner_status(admin, banner_id, "activate", 1)


async def seed_campaigns() -> None:
    admin = await _actor("super@loanmart.example")
    if admin is None or await Campaign.exists().where(Campaign.slug == LIVE_SLUG):
        return
    now = clock.now().replace(second=0, microsecond=0)
    products = await _renovation_products()
    await _campaign(
        admin,
        LIVE_SLUG,
        _("装修季 低息专场"),
        _("精选持牌机构的装修和消费贷款，按综合年化利率从低到高排列，看清真实成本再申请。"),
        products,
        now - timedelta(days=3),
        now + timedelta(days=27),
    )
    await _campaign(
        admin,
        ENDED_SLUG,
        _("双十一 消费贷专场"),
        _("双十一期间的消费贷款专场（已结束）。"),
        products[:3],
        now - timedelta(days=40),
        now - timedelta(days=10),
    )
    plan = (
        (
            "banner-renovation",
            _("装修季 低息专场"),
            _("装修、家电贷款 综合年化从低到高"),
            _("装修季低息专场活动横幅"),
            f"campaign:{LIVE_SLUG}",
            1,
            -3,
            27,
        ),
        (
            "banner-calculator",
            _("先算一算月供"),
            _("输入金额和期限，看清每月还款和总成本"),
            _("贷款计算器横幅：先算一算月供"),
            "/calculator",
            2,
            -3,
            60,
        ),
        (
            "banner-upcoming",
            _("开学季 教育分期"),
            _("下周开始，敬请期待"),
            _("开学季教育分期活动预告横幅"),
            "/products",
            3,
            7,
            21,
        ),
        (
            "banner-ended",
            _("双十一 消费贷专场"),
            _("活动已结束"),
            _("双十一消费贷专场横幅（已结束）"),
            f"campaign:{ENDED_SLUG}",
            4,
            -40,
            -10,
        ),
    )
    for asset, title, subtitle, alt, link, order, start, end in plan:
        await _banner(
            admin,
            asset,
            title,
            subtitle,
            alt,
            link,
            order,
            now + timedelta(days=start),
            now + timedelta(days=end),
        )
