"""Banners and campaigns (issue 12, A9): visibility by time window with moved time and
its exact edges, internal-only banner links against hostile values, images by magic
bytes, only listed products on a campaign page (cheapest APR first), permissions
(content_editor yes, product_reviewer no, auditor reads), audit rows and the optimistic
version check under concurrent edits."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from marketplace import clock, storage
from marketplace.audit.tables import AuditEntry
from marketplace.campaigns import queries as campaign_queries
from marketplace.campaigns.links import clean_link, href
from marketplace.campaigns.queries import live_banners
from marketplace.campaigns.services import (
    BannerInput,
    CampaignInput,
    change_banner_status,
    change_campaign_status,
    create_banner,
    create_campaign,
    update_banner,
)
from marketplace.campaigns.tables import Banner, Campaign
from marketplace.errors import DomainError, InvalidTransition, PermissionDenied
from marketplace.loancalc import SHANGHAI
from marketplace.products.services import change_listing
from marketplace.settings import settings
from marketplace.storage import StoredFileMissing
from tests import factories
from tests.fixtures import login, soup

EDITOR = "editor@loanmart.example"
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # 09:00 Asia/Shanghai
END = datetime(2026, 12, 20, 1, 0, tzinfo=UTC)


def png(width: int = 3, height: int = 1) -> bytes:
    """A real (tiny) PNG: signature, IHDR, IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def banner_form(**overrides: str) -> dict[str, str]:
    return {
        "title": "装修季 低息专场",
        "subtitle": "持牌机构 综合年化从低到高",
        "alt_text": "装修季活动横幅：低息专场",
        "link": "/calculator",
        "placement": "home_top",
        "sort_order": "1",
        "start_at": _local(START),
        "end_at": _local(END),
        **overrides,
    }


def banner_input(**overrides) -> BannerInput:
    values = dict(
        title="横幅",
        subtitle="",
        alt_text="横幅图片",
        link="/calculator",
        placement="home_top",
        sort_order=0,
        start_at=START,
        end_at=END,
    )
    return BannerInput(**{**values, **overrides})


@pytest.fixture
async def editor():
    return await factories.user("operator", EDITOR, "content_editor", None, "内容编辑小林")


@pytest.fixture
def at(monkeypatch):
    """Move the campaigns' clock: `at(moment)`."""

    def move(moment: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: moment)

    return move


async def _audits(action: str) -> list[dict]:
    rows = await AuditEntry.select().where(AuditEntry.action == action)
    for row in rows:
        if isinstance(row["detail"], str):
            row["detail"] = json.loads(row["detail"])
    return rows


async def _active_banner(editor, **overrides) -> int:
    banner_id = await create_banner(editor, banner_input(**overrides), (png(), "image/png"))
    await change_banner_status(editor, banner_id, "activate", 1)
    return banner_id


async def test_banner_journey_from_form_to_home_page_and_back(
    client, staff_client, world, editor, at
):
    at(START + timedelta(hours=1))
    await login(client, "/admin/login", EDITOR)
    page = soup(await client.get("/admin/"))
    assert page.select_one(".site-nav a[href='/admin/campaigns']")
    response = await client.submit(
        "/admin/campaigns/banners",
        banner_form(),
        files={"image": ("banner.png", png(), "image/png")},
    )
    assert response.status_code == 303, response.text[:800]
    banner = await Banner.objects().first()
    assert (banner.status, banner.version, banner.created_by) == ("draft", 1, editor.user_id)
    assert banner.start_at == START and banner.end_at == END  # typed in Asia/Shanghai

    # A draft is nowhere: not on the home page, its image not public.
    assert not soup(await client.get("/")).select(".banner-strip")
    assert (await client.get(f"/banners/{banner.id}/image")).status_code == 404
    listing = soup(await client.get("/admin/campaigns"))
    assert "草稿" in listing.select_one("table").text

    edit = await client.get(f"/admin/campaigns/banners/{banner.id}")
    assert soup(edit).select_one(".banner-preview img")["alt"] == "装修季活动横幅：低息专场"
    response = await client.submit(
        f"/admin/campaigns/banners/{banner.id}/status", {"action": "activate", "version": "1"}
    )
    assert response.status_code == 303
    assert "进行中" in (await client.get("/admin/campaigns")).text

    home = soup(await client.get("/"))
    [link] = home.select(".banner-strip a")
    assert link["href"] == "/calculator"
    assert link.img["alt"] == "装修季活动横幅：低息专场"
    assert "装修季 低息专场" in link.text
    # A visitor without a session gets it cacheable (a signed-in one gets no-store).
    image = await staff_client.get(link.img["src"])
    assert image.status_code == 200 and image.content == png()
    assert image.headers["content-type"] == "image/png"
    assert "max-age" in image.headers["cache-control"]
    assert image.headers["x-content-type-options"] == "nosniff"

    response = await client.submit(
        f"/admin/campaigns/banners/{banner.id}/status", {"action": "archive", "version": "2"}
    )
    assert response.status_code == 303
    assert not soup(await client.get("/")).select(".banner-strip")
    assert (await client.get(f"/banners/{banner.id}/image")).status_code == 404
    # The admin still sees it (private, never cached).
    private = await client.get(f"/admin/campaigns/banners/{banner.id}/image")
    assert private.status_code == 200 and "no-store" in private.headers["cache-control"]

    for action in ("campaign.banner_create", "campaign.banner_activate", "campaign.banner_archive"):
        [row] = await _audits(action)
        assert row["actor_id"] == editor.user_id and row["object_id"] == str(banner.id)
    [created] = await _audits("campaign.banner_create")
    assert created["detail"]["link"] == "/calculator"


async def test_banners_show_only_inside_their_window_edges_included_and_excluded(editor, at):
    first = await _active_banner(editor, title="第二", sort_order=2)
    second = await _active_banner(editor, title="第一", sort_order=1)
    await create_banner(editor, banner_input(title="草稿"), (png(), "image/png"))  # draft
    archived = await _active_banner(editor, title="归档")
    await change_banner_status(editor, archived, "archive", 2)

    at(START - timedelta(microseconds=1))
    assert await live_banners() == []
    at(START)  # start_at ≤ now: shown from the very start
    assert [b.title for b in await live_banners()] == ["第一", "第二"]
    at(END - timedelta(microseconds=1))
    assert [b.id for b in await live_banners()] == [second, first]
    at(END)  # now < end_at: gone at the very end
    assert await live_banners() == []


async def test_home_page_renders_nothing_when_no_banner_is_live(client, editor, at):
    await _active_banner(editor)
    at(END + timedelta(days=1))
    page = await client.get("/")
    assert page.status_code == 200
    assert "banner-strip" not in page.text and "campaigns.css" not in page.text


async def _campaign(editor, product_ids=(), slug="zhuangxiu", **overrides) -> int:
    values = dict(
        slug=slug,
        title="装修季 低息专场",
        intro="精选装修、消费类产品",
        rules="1. 活动期间申请\n2. 以机构审批为准",
        product_ids=tuple(product_ids),
        start_at=START,
        end_at=END,
    )
    campaign_id = await create_campaign(editor, CampaignInput(**{**values, **overrides}))
    await change_campaign_status(editor, campaign_id, "activate", 1)
    return campaign_id


async def test_campaign_page_before_during_and_after(client, editor, at):
    await _campaign(editor)
    at(START - timedelta(seconds=1))
    before = await client.get("/campaigns/zhuangxiu")
    assert before.status_code == 404 and "活动未开始" in before.text
    assert "2026-12-10 09:00" in before.text  # its start, Asia/Shanghai
    at(START)
    during = await client.get("/campaigns/zhuangxiu")
    assert during.status_code == 200 and "活动规则" in during.text
    assert "2. 以机构审批为准" in during.text
    at(END)
    after = await client.get("/campaigns/zhuangxiu")
    assert after.status_code == 410 and "活动已结束" in after.text
    assert "活动规则" not in after.text


async def test_draft_archived_and_unknown_campaigns_are_plain_404(client, editor, at):
    at(START + timedelta(hours=1))
    await create_campaign(
        editor,
        CampaignInput("caogao", "草稿活动", "", "", (), START, END),
    )
    archived = await _campaign(editor, slug="guidang")
    await change_campaign_status(editor, archived, "archive", 2)
    for slug in ("caogao", "guidang", "nope", "x" * 300, "%00", "<script>"):
        response = await client.get(f"/campaigns/{slug}")
        assert response.status_code == 404, slug
        assert "活动未开始" not in response.text


async def test_campaign_shows_only_listed_products_cheapest_first(client, world, editor, at):
    at(START + timedelta(hours=1))
    dear = await factories.listed_product(
        world.staff, world.operator, name="贵的装修贷", rate="9.6"
    )
    cheap = await factories.listed_product(
        world.staff, world.operator, name="便宜消费贷", rate="4.2"
    )
    gone = await factories.listed_product(
        world.staff, world.operator, name="已下架装修贷", rate="3.1"
    )
    await _campaign(editor, [dear, gone, cheap])
    await change_listing(world.staff, gone, "delist")

    page = soup(await client.get("/campaigns/zhuangxiu"))
    cards = page.select(".campaign-products > li")
    names = [li.select_one(".product-card__name, h3").text.strip() for li in cards]
    assert names == ["便宜消费贷", "贵的装修贷"], names
    assert "已下架装修贷" not in page.text
    applies = [a["href"] for a in page.select(".campaign-product__apply")]
    assert applies == [f"/products/{cheap}/apply", f"/products/{dear}/apply"]
    assert "%" in cards[0].text  # each card shows its APR

    # Pausing the cheap one drops it at once; nothing is stored about it on the campaign.
    await change_listing(world.staff, cheap, "pause")
    page = soup(await client.get("/campaigns/zhuangxiu"))
    assert len(page.select(".campaign-products > li")) == 1


@pytest.mark.parametrize(
    "hostile",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "//evil.example",
        "///evil.example",
        "\\evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "%2F%2Fevil.example",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%5Cevil.example",
        "/%252F%252Fevil.example",
        "/ok\nLocation: //evil.example",
        "/ok\r\nSet-Cookie: a=1",
        "/a\tb",
        "/a b",
        "/\x00",
        "/%0aevil",
        "https://evil.example/",
        "http:/evil.example",
        "data:text/html,<script>alert(1)</script>",
        "evil.example",
        "campaign:../../evil",
        "campaign:UPPER",
        "product:0",
        "product:１２",
        "/" + "a" * 300,
    ],
)
def test_banner_links_refuse_everything_that_is_not_this_site(hostile):
    with pytest.raises(DomainError) as refused:
        clean_link(hostile)
    assert refused.value.field == "link"
    # A stored value that somehow is hostile still leads home, never away.
    assert href(hostile) in ("/",) or href(hostile).startswith("/products/")


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("/articles", "/articles"),
        ("/calculator?amount=50000&term=12", "/calculator?amount=50000&term=12"),
        ("/products?category=consumer#top", "/products?category=consumer#top"),
        ("campaign:zhuangxiu-2026", "/campaigns/zhuangxiu-2026"),
        ("product:12", "/products/12"),
    ],
)
def test_banner_links_to_this_site_resolve(link, target):
    assert clean_link(link) == link
    assert href(link) == target


async def test_rejected_banner_form_keeps_every_value_and_asks_for_the_file_again(client, editor):
    await login(client, "/admin/login", EDITOR)
    typed = banner_form(title="<script>alert(1)</script>", link="//evil.example")
    response = await client.submit(
        "/admin/campaigns/banners", typed, files={"image": ("banner.png", png(), "image/png")}
    )
    assert response.status_code == 400
    page = soup(response)
    for name in ("title", "subtitle", "alt_text", "link", "start_at", "end_at", "sort_order"):
        assert page.select_one(f"[name={name}]")["value"] == typed[name], name
    assert "<script>alert(1)</script>" not in response.text  # escaped
    assert (
        "本站的路径" in page.select_one("#f-link-error, .error-summary").text
        or "本站" in response.text
    )
    assert "重新选择" in response.text  # the chosen file must be chosen again
    assert await Banner.count() == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("banner.png", b"GIF89a" + b"\x00" * 40, "只接受"),
        ("banner.png", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "只接受"),
        ("banner.png", b"%PDF-1.4 not an image", "只接受"),
        ("banner.png", b"RIFF\x10\x00\x00\x00WAVEfmt ", "只接受"),
        ("banner.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (1024 * 1024), "1 MB"),
        ("banner.png", b"", "重新选择"),
    ],
)
async def test_banner_images_are_checked_by_their_bytes(client, editor, name, content, message):
    await login(client, "/admin/login", EDITOR)
    response = await client.submit(
        "/admin/campaigns/banners",
        banner_form(),
        files={"image": (name, content, "image/png")},
    )
    assert response.status_code == 400
    assert message in soup(response).select_one(".error-summary").text
    assert await Banner.count() == 0


@pytest.mark.parametrize(
    ("name", "content", "media_type"),
    [
        ("photo.jpg", png(), "image/png"),
        ("b.webp", WEBP, "image/webp"),
        ("c", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
    ],
)
async def test_image_type_comes_from_the_content_not_the_name(
    client, editor, name, content, media_type
):
    await login(client, "/admin/login", EDITOR)
    response = await client.submit(
        "/admin/campaigns/banners", banner_form(), files={"image": (name, content, "text/html")}
    )
    assert response.status_code == 303, response.text[:500]
    banner = await Banner.objects().first()
    assert banner.image_type == media_type
    served = await client.get(f"/admin/campaigns/banners/{banner.id}/image")
    assert served.headers["content-type"] == media_type and served.content == content


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "长" * 31, "30"),
        ("title", "", "请填写"),
        ("alt_text", "", "请填写"),
        ("subtitle", "副" * 61, "最多"),
        ("sort_order", "-1", "整数"),
        ("sort_order", "１２", "整数"),
        ("sort_order", "99999999999999999999", "整数"),
        ("start_at", "2026-13-45T25:61", "正确"),
        ("start_at", "٢٠٢٦-12-10T09:00", "正确"),
        ("end_at", _local(START - timedelta(hours=1)), "晚于"),
        ("end_at", _local(START), "晚于"),
        ("placement", "sidebar", "请选择"),
    ],
)
async def test_hostile_banner_fields_are_form_errors_not_500(client, editor, field, value, message):
    await login(client, "/admin/login", EDITOR)
    typed = banner_form(**{field: value})
    response = await client.submit(
        "/admin/campaigns/banners", typed, files={"image": ("b.png", png(), "image/png")}
    )
    assert response.status_code == 400, response.text[:300]
    summary = soup(response).select_one(".error-summary").text
    assert message in summary
    assert await Banner.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Has Spaces"),
        ("slug", "../etc"),
        ("slug", "a" * 61),
        ("title", "题" * 41),
        ("intro", "介" * 501),
        ("rules", "规" * 2001),
        ("products", "abc"),
        ("products", "99999999999"),
        ("products", "987654"),
    ],
)
async def test_hostile_campaign_fields_keep_the_form(client, editor, field, value):
    await login(client, "/admin/login", EDITOR)
    typed = {
        "slug": "zhuangxiu",
        "title": "装修季",
        "intro": "介绍",
        "rules": "规则",
        "start_at": _local(START),
        "end_at": _local(END),
        field: value,
    }
    response = await client.submit("/admin/campaigns/pages", typed)
    assert response.status_code == 400, response.text[:300]
    page = soup(response)
    assert page.select_one(".error-summary")
    if field in ("slug", "title"):
        assert page.select_one(f"[name={field}]")["value"] == value
    if field in ("intro", "rules"):
        assert page.select_one(f"[name={field}]").text == value
    assert await Campaign.count() == 0


async def test_two_campaigns_cannot_share_a_slug_even_at_once(editor):
    cmd = CampaignInput("same", "活动", "", "", (), START, END)
    results = await asyncio.gather(
        *(create_campaign(editor, cmd) for _ in range(4)), return_exceptions=True
    )
    assert sum(isinstance(r, int) for r in results) == 1
    assert all(isinstance(r, DomainError) for r in results if not isinstance(r, int))
    assert await Campaign.count() == 1


async def test_concurrent_edits_one_wins_the_other_is_told(client, editor):
    banner_id = await create_banner(editor, banner_input(), (png(), "image/png"))
    results = await asyncio.gather(
        *(
            update_banner(editor, banner_id, 1, banner_input(title=f"版本{i}"), None)
            for i in range(5)
        ),
        return_exceptions=True,
    )
    assert results.count(2) == 1
    assert all(isinstance(r, InvalidTransition) for r in results if r != 2)
    assert len(await _audits("campaign.banner_update")) == 1

    # Over HTTP: a form opened at version 2 while someone saved version 3 is refused (409)
    # with what the editor typed still in the form.
    await update_banner(editor, banner_id, 2, banner_input(title="别人先改"), None)
    await login(client, "/admin/login", EDITOR)
    stale = banner_form(title="我的修改", version="2")
    response = await client.submit(f"/admin/campaigns/banners/{banner_id}", stale)
    assert response.status_code == 409
    assert "刚被其他人修改过" in response.text
    assert soup(response).select_one("[name=title]")["value"] == "我的修改"
    assert (await Banner.objects().first()).title == "别人先改"
    # A stale status change is refused too.
    response = await client.submit(
        f"/admin/campaigns/banners/{banner_id}/status", {"action": "activate", "version": "1"}
    )
    assert response.status_code == 409
    assert (await Banner.objects().first()).status == "draft"


async def test_edit_keeps_the_image_unless_a_new_one_is_chosen(client, editor):
    banner_id = await create_banner(editor, banner_input(), (png(), "image/png"))
    await login(client, "/admin/login", EDITOR)
    response = await client.submit(
        f"/admin/campaigns/banners/{banner_id}", banner_form(title="新标题", version="1")
    )
    assert response.status_code == 303
    banner = await Banner.objects().first()
    assert (banner.title, banner.version, banner.image_type) == ("新标题", 2, "image/png")
    response = await client.submit(
        f"/admin/campaigns/banners/{banner_id}",
        banner_form(version="2"),
        files={"image": ("n.webp", WEBP, "image/webp")},
    )
    assert response.status_code == 303
    assert (await Banner.objects().first()).image_type == "image/webp"
    [audit] = [a for a in await _audits("campaign.banner_update") if a["detail"]["version"] == 3]
    assert audit["detail"]["new_image"] is True


async def test_a_replaced_or_unsaved_banner_image_leaves_no_file_behind(editor):
    banner_id = await create_banner(editor, banner_input(), (png(), "image/png"))
    first_key = (await Banner.objects().first()).image_key
    await update_banner(editor, banner_id, 1, banner_input(), (WEBP, "image/webp"))
    second_key = (await Banner.objects().first()).image_key
    assert await storage.get(second_key) == WEBP
    with pytest.raises(StoredFileMissing):
        await storage.get(first_key)  # replaced: deleted after the commit
    # A save refused as stale keeps the current image and stores nothing new.
    stored = {p for p in settings.files_dir.rglob("*") if p.is_file()}
    assert stored
    with pytest.raises(InvalidTransition):
        await update_banner(editor, banner_id, 1, banner_input(), (png(5), "image/png"))
    assert {p for p in settings.files_dir.rglob("*") if p.is_file()} == stored
    assert await storage.get(second_key) == WEBP


async def test_permissions_editor_yes_reviewer_no_auditor_reads(client, world, editor):
    banner_id = await create_banner(editor, banner_input(), (png(), "image/png"))
    # product_reviewer: hidden in the menu, every page and action refused.
    await login(client, "/admin/login", "reviewer@loanmart.example")
    home = soup(await client.get("/admin/"))
    assert not home.select_one(".site-nav a[href='/admin/campaigns']")
    for url in (
        "/admin/campaigns",
        f"/admin/campaigns/banners/{banner_id}",
        "/admin/campaigns/banners/new",
    ):
        assert (await client.get(url)).status_code == 403, url
    response = await client.submit(
        f"/admin/campaigns/banners/{banner_id}/status", {"action": "activate", "version": "1"}
    )
    assert response.status_code == 403
    with pytest.raises(PermissionDenied):
        await change_banner_status(world.operator, banner_id, "activate", 1)
    await client.post("/admin/logout", data={"_csrf_token": await client.csrf_token()})

    # auditor: reads the list and the form (disabled), may not change anything.
    await login(client, "/admin/login", "auditor@loanmart.example")
    listing = await client.get("/admin/campaigns")
    assert listing.status_code == 200 and "新建横幅" not in listing.text
    page = soup(await client.get(f"/admin/campaigns/banners/{banner_id}"))
    assert page.select_one("fieldset[disabled]")
    assert not page.select("form[action$='/status']")
    response = await client.submit(
        f"/admin/campaigns/banners/{banner_id}", banner_form(title="审计员改", version="1")
    )
    assert response.status_code == 403
    assert (await Banner.objects().first()).status == "draft"
    assert not await _audits("campaign.banner_update")


async def test_campaign_admin_journey_and_audit(client, world, editor, at):
    at(START + timedelta(hours=1))
    product = await factories.listed_product(world.staff, world.operator, name="安居装修贷")
    await login(client, "/admin/login", EDITOR)
    form = await client.get("/admin/campaigns/pages/new")
    assert soup(form).select_one(f"input[name=products][value='{product}']")
    typed = {
        "slug": "zhuangxiu-2026",
        "title": "装修季 低息专场",
        "intro": "精选装修类产品",
        "rules": "活动期间申请有效",
        "products": str(product),
        "start_at": _local(START),
        "end_at": _local(END),
    }
    response = await client.submit("/admin/campaigns/pages", typed)
    assert response.status_code == 303, response.text[:500]
    campaign = await Campaign.objects().first()
    assert campaign.product_ids == [product] and campaign.status == "draft"
    assert (await client.get("/campaigns/zhuangxiu-2026")).status_code == 404
    response = await client.submit(
        f"/admin/campaigns/pages/{campaign.id}/status", {"action": "activate", "version": "1"}
    )
    assert response.status_code == 303
    live = await client.get("/campaigns/zhuangxiu-2026")
    assert live.status_code == 200 and "安居装修贷" in live.text
    listing = await client.get("/admin/campaigns?tab=campaigns")
    assert "进行中" in listing.text and "/campaigns/zhuangxiu-2026" in listing.text
    [created] = await _audits("campaign.create")
    assert created["detail"]["product_ids"] == [product]
    assert len(await _audits("campaign.activate")) == 1
    # A banner may point to the campaign by reference.
    await _active_banner(editor, link="campaign:zhuangxiu-2026")
    [link] = soup(await client.get("/")).select(".banner-strip a")
    assert link["href"] == "/campaigns/zhuangxiu-2026"


async def test_both_tables_export_as_spreadsheets_audited(client, world, editor, at, monkeypatch):
    at(START + timedelta(hours=1))
    await _active_banner(editor, title="=HYPERLINK(1)", subtitle="新春")
    await create_banner(editor, banner_input(title="草稿横幅"), (png(), "image/png"))
    await create_campaign(editor, CampaignInput("zhuanchang", "装修季专场", "", "", (), START, END))
    await login(client, "/admin/login", "auditor@loanmart.example")
    listing = soup(await client.get("/admin/campaigns?tab=campaigns"))
    assert listing.select_one("a[href='/admin/campaigns/export/xlsx?tab=campaigns']")

    response = await client.get("/admin/campaigns/export/csv?tab=banners")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="banners.csv"'
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("编号,标题,副标题,位置,排序,链接,状态")
    assert len(lines) == 3
    # A title that a spreadsheet would run as a formula is written as text.
    assert any("'=HYPERLINK(1),新春,首页顶部横幅,0,/calculator,进行中" in line for line in lines)
    assert any("草稿横幅" in line and ",草稿," in line for line in lines)

    response = await client.get("/admin/campaigns/export/xlsx?tab=campaigns")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:4] == ["编号", "标题", "页面与产品", "状态"]
    assert rows[1][1:4] == ["装修季专场", "/campaigns/zhuanchang · 0 个产品", "草稿"]
    assert rows[1][4] == _local(START).replace("T", " ")

    # An unknown format is a 404, an unknown tab the default one; each export is audited.
    assert (await client.get("/admin/campaigns/export/pdf")).status_code == 404
    odd = await client.get("/admin/campaigns/export/csv?tab=%3Cscript%3E")
    assert odd.status_code == 200 and "草稿横幅" in odd.content.decode("utf-8-sig")
    audits = await _audits("campaign.export")
    audits.sort(key=lambda a: a["id"])
    assert [(a["object_id"], a["detail"]["format"], a["detail"]["rows"]) for a in audits] == [
        ("banners", "csv", 2),
        ("campaigns", "xlsx", 1),
        ("banners", "csv", 2),
    ]
    # A list exactly as long as the limit is whole; one more and the file says it was cut.
    monkeypatch.setattr(campaign_queries, "LIST_LIMIT", 2)
    whole = (await client.get("/admin/campaigns/export/csv?tab=banners")).content
    assert "仅导出前" not in whole.decode("utf-8-sig")
    await create_banner(editor, banner_input(title="第三个横幅"), (png(), "image/png"))
    cut = (await client.get("/admin/campaigns/export/csv?tab=banners")).content.decode("utf-8-sig")
    assert "仅导出前 2 条" in cut and len(cut.splitlines()) == 4
    # Whoever may not see the tables may not export them.
    await client.post("/admin/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/admin/login", "reviewer@loanmart.example")
    assert (await client.get("/admin/campaigns/export/csv?tab=banners")).status_code == 403
