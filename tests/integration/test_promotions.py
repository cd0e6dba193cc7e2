"""Promotions (I7, A6): request → review with slot limits → live on its Asia/Shanghai days,
always labelled 推广, never changing the order of any list."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from marketplace import jobs, loancalc
from marketplace.audit.tables import AuditEntry
from marketplace.errors import DomainError, InvalidTransition, NotFound
from marketplace.inbox.tables import InboxItem
from marketplace.loancalc import today_shanghai
from marketplace.products.tables import Product
from marketplace.promotions.placements import Placement
from marketplace.promotions.services import (
    PromotionRequest,
    advance_promotions,
    request_promotion,
    review_promotion,
    withdraw_promotion,
)
from marketplace.promotions.tables import Promotion
from tests import factories
from tests.fixtures import login, soup


def _days(n: int) -> date:
    return today_shanghai() + timedelta(days=n)


async def _promote(world, product_id: int, placement=Placement.HOME, start=0, end=6, title=""):
    return await request_promotion(
        world.staff,
        PromotionRequest(product_id, placement, _days(start), _days(end), title),
    )


async def _status(promotion_id: int) -> str:
    row = await Promotion.select(Promotion.status).where(Promotion.id == promotion_id).first()
    return row["status"]


async def test_request_review_and_placement_journey(client, world):
    product_id = await factories.listed_product(world.staff, world.operator, name="安居装修贷")
    await login(client, "/console/login", "staff@test-bank.example")
    page = await client.get("/console/promotions")
    assert page.status_code == 200
    assert soup(page).select_one(f"select[name=product] option[value='{product_id}']")
    response = await client.submit(
        "/console/promotions",
        {
            "product": str(product_id),
            "placement": "home",
            "starts_on": _days(0).isoformat(),
            "ends_on": _days(6).isoformat(),
        },
    )
    assert response.status_code == 303, response.text[:500]
    promotion = await Promotion.objects().first()
    assert promotion.status == "requested"
    await client.post("/console/logout", data={"_csrf_token": await client.csrf_token()})

    # Not shown anywhere before it is approved.
    home = soup(await client.get("/"))
    assert not home.select(".promo-slots")

    await login(client, "/admin/login", "reviewer@loanmart.example")
    queue = await client.get("/admin/promotions")
    assert "安居装修贷" in queue.text and "首页推荐位" in queue.text
    response = await client.submit(f"/admin/promotions/{promotion.id}", {"decision": "approve"})
    assert response.status_code == 303
    # Approved on its first day: live at once, and the product is flagged for every page.
    assert await _status(promotion.id) == "live"
    assert (await Product.select(Product.promoted).first())["promoted"] is True

    notices = await InboxItem.select().where(InboxItem.recipient == world.staff.user_id)
    assert any("推广申请已通过" in n["title"] for n in notices)
    actions = {row["action"] for row in await AuditEntry.select(AuditEntry.action)}
    assert {"promotion.request", "promotion.approve", "promotion.start"} <= actions

    block = soup(await client.get("/")).select_one(".promo-slots")
    assert block is not None, "the home page has a marked recommendation area"
    assert block.select_one(".promo-label").text == "推广"
    card = block.select_one(f"a[href='/products/{product_id}']").find_parent("article")
    assert card.select_one(".promo-label").text == "推广"
    detail = soup(await client.get(f"/products/{product_id}"))
    assert detail.select_one(".promo-label").text == "推广"


async def test_reject_needs_a_reason_and_tells_the_institution(client, world):
    product_id = await factories.listed_product(world.staff, world.operator)
    promotion_id = await _promote(world, product_id, start=1, end=3)
    await login(client, "/admin/login", "reviewer@loanmart.example")
    response = await client.submit(f"/admin/promotions/{promotion_id}", {"decision": "reject"})
    assert response.status_code == 400
    assert "驳回时请填写原因" in response.text
    response = await client.submit(
        f"/admin/promotions/{promotion_id}", {"decision": "reject", "note": "x" * 501}
    )
    assert response.status_code == 400
    response = await client.submit(
        f"/admin/promotions/{promotion_id}", {"decision": "reject", "note": "宣传素材不符合要求"}
    )
    assert response.status_code == 303
    assert await _status(promotion_id) == "rejected"
    notice = await InboxItem.select().where(InboxItem.recipient == world.staff.user_id).first()
    assert "未通过" in notice["title"] and notice["link"] == "/console/promotions"
    page = await client.get("/admin/promotions?status=rejected")
    assert "宣传素材不符合要求" in page.text


async def test_parallel_approvals_never_overbook_a_placement(world):
    """Five overlapping requests for the three home slots, approved at the same moment."""
    products = [
        await factories.listed_product(world.staff, world.operator, name=f"产品{i}")
        for i in range(5)
    ]
    promotions = [await _promote(world, p, start=2 + i % 2, end=9) for i, p in enumerate(products)]
    results = await asyncio.gather(
        *(review_promotion(world.operator, p, approve=True, note="") for p in promotions),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 2
    assert all(isinstance(r, InvalidTransition) and "已排满" in str(r) for r in refused)
    statuses = [await _status(p) for p in promotions]
    assert statuses.count("approved") == 3
    # A request whose days do not overlap still fits.
    later = await _promote(world, products[0], start=10, end=12)
    await review_promotion(world.operator, later, approve=True, note="")
    assert await _status(later) == "approved"


async def test_slots_count_per_day_not_per_request(world):
    """Two list-top slots: runs that touch different days share one slot."""
    a, b, c = [
        await factories.listed_product(world.staff, world.operator, name=f"产品{i}")
        for i in range(3)
    ]
    first = await _promote(world, a, Placement.LIST_TOP, start=1, end=3)
    second = await _promote(world, b, Placement.LIST_TOP, start=4, end=6)
    third = await _promote(world, c, Placement.LIST_TOP, start=2, end=5)
    for promotion_id in (first, second, third):
        await review_promotion(world.operator, promotion_id, approve=True, note="")
    # Now days 2–3 and 4–5 each hold two: a fourth covering day 3 is refused.
    fourth = await _promote(world, b, Placement.LIST_TOP, start=3, end=3)
    with pytest.raises(InvalidTransition):
        await review_promotion(world.operator, fourth, approve=True, note="")


class _Frozen(datetime):
    instant = datetime(2026, 12, 1, 15, 59, tzinfo=UTC)

    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return cls.instant.astimezone(tz) if tz else cls.instant.replace(tzinfo=None)


async def test_dates_follow_asia_shanghai_midnight(world, monkeypatch):
    monkeypatch.setattr(loancalc, "datetime", _Frozen)
    _Frozen.instant = datetime(2026, 12, 1, 15, 59, tzinfo=UTC)  # 23:59 on 1 Dec in Shanghai
    assert today_shanghai() == date(2026, 12, 1)
    product_id = await factories.listed_product(world.staff, world.operator)
    promotion_id = await request_promotion(
        world.staff,
        PromotionRequest(product_id, Placement.HOME, date(2026, 12, 2), date(2026, 12, 3)),
    )
    await review_promotion(world.operator, promotion_id, approve=True, note="")
    await advance_promotions()
    assert await _status(promotion_id) == "approved"

    _Frozen.instant = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # midnight, 2 Dec in Shanghai
    with pytest.raises(InvalidTransition):
        await withdraw_promotion(world.staff, promotion_id)  # its first day has come
    with pytest.raises(DomainError, match="开始日期不能早于今天"):
        await request_promotion(
            world.staff,
            PromotionRequest(product_id, Placement.LIST_TOP, date(2026, 12, 1), date(2026, 12, 3)),
        )
    assert await advance_promotions() == 1
    assert await _status(promotion_id) == "live"
    assert await advance_promotions() == 0, "idempotent"

    _Frozen.instant = datetime(2026, 12, 3, 15, 59, tzinfo=UTC)  # last minute of 3 Dec
    await advance_promotions()
    assert await _status(promotion_id) == "live"
    _Frozen.instant = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    await advance_promotions()
    assert await _status(promotion_id) == "ended"
    assert (await Product.select(Product.promoted).first())["promoted"] is False
    entries = await AuditEntry.select(AuditEntry.action).where(AuditEntry.actor_kind == "system")
    assert [e["action"] for e in entries] == ["promotion.start", "promotion.end"]


async def test_withdraw_before_start(world):
    product_id = await factories.listed_product(world.staff, world.operator)
    promotion_id = await _promote(world, product_id, start=2, end=4)
    await review_promotion(world.operator, promotion_id, approve=True, note="")
    await withdraw_promotion(world.staff, promotion_id)
    assert await _status(promotion_id) == "withdrawn"
    # The freed slot is reusable and a withdrawn promotion cannot be approved.
    with pytest.raises(InvalidTransition):
        await review_promotion(world.operator, promotion_id, approve=True, note="")


async def test_tenant_isolation(client, world):
    mine = await factories.listed_product(world.staff, world.operator, name="本行产品")
    theirs = await factories.listed_product(world.other_staff, world.operator, name="别家产品")
    promotion_id = await _promote(world, mine, start=1, end=2)
    with pytest.raises(NotFound):
        await withdraw_promotion(world.other_staff, promotion_id)
    with pytest.raises(NotFound):
        await request_promotion(
            world.staff, PromotionRequest(theirs, Placement.HOME, _days(1), _days(2))
        )

    await login(client, "/console/login", "staff@other-bank.example")
    page = await client.get("/console/promotions")
    assert "本行产品" not in page.text
    assert not soup(page).select_one(f"select[name=product] option[value='{mine}']")
    response = await client.submit(f"/console/promotions/{promotion_id}/withdraw")
    assert response.status_code == 404
    response = await client.submit(
        "/console/promotions",
        {
            "product": str(mine),
            "placement": "home",
            "starts_on": _days(1).isoformat(),
            "ends_on": _days(2).isoformat(),
        },
    )
    assert response.status_code == 400
    assert await Promotion.count() == 1
    # Borrowers and staff cannot open the review queue.
    assert (await client.get("/admin/promotions")).status_code in (302, 303, 401, 403)


@pytest.mark.parametrize(
    "field,value",
    [
        ("product", "-1"),
        ("product", "９"),
        ("product", "99999999999999999999"),
        ("placement", "homepage"),
        ("starts_on", "２０２６-12-01"),
        ("starts_on", "99999-01-01"),
        ("starts_on", "2026-02-30"),
        ("ends_on", "<script>"),
        ("title", "长" * 41),
        ("title", "\x00"),
    ],
)
async def test_hostile_request_values_are_field_errors(client, world, field, value):
    product_id = await factories.listed_product(world.staff, world.operator)
    await login(client, "/console/login", "staff@test-bank.example")
    form = {
        "product": str(product_id),
        "placement": "campaign",
        "title": "双十二限时优惠",
        "starts_on": _days(1).isoformat(),
        "ends_on": _days(3).isoformat(),
        field: value,
    }
    response = await client.submit("/console/promotions", form)
    assert response.status_code == 400, response.text[:300]
    assert soup(response).select_one(".error-summary")
    if field != "product":
        # The rejected form keeps what was typed.
        assert soup(response).select_one("select[name=product] option[selected]")["value"] == str(
            product_id
        )
    assert await Promotion.count() == 0


async def test_rule_breaks_are_explained(world):
    product_id = await factories.listed_product(world.staff, world.operator)
    cases = [
        (Placement.HOME, _days(-1), _days(2), "", "开始日期不能早于今天"),
        (Placement.HOME, _days(3), _days(2), "", "结束日期不能早于开始日期"),
        (Placement.HOME, _days(1), _days(40), "", "最长 31 天"),
        (Placement.HOME, _days(100), _days(101), "", "最多可提前 90 天"),
        (Placement.CAMPAIGN, _days(1), _days(2), "", "请填写活动标题"),
    ]
    for placement, start, end, title, message in cases:
        with pytest.raises(DomainError, match=message):
            await request_promotion(
                world.staff, PromotionRequest(product_id, placement, start, end, title)
            )
    await _promote(world, product_id, start=1, end=5)
    with pytest.raises(DomainError, match="已有同一推广位"):
        await _promote(world, product_id, start=5, end=7)


async def test_missing_csrf_is_refused(client, world):
    product_id = await factories.listed_product(world.staff, world.operator)
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.post(
        "/console/promotions",
        data={
            "product": str(product_id),
            "placement": "home",
            "starts_on": _days(1).isoformat(),
            "ends_on": _days(2).isoformat(),
        },
    )
    assert response.status_code == 403
    assert await Promotion.count() == 0


async def test_list_top_block_is_marked_and_the_list_keeps_its_order(client, world):
    cheap = await factories.listed_product(world.staff, world.operator, name="低息贷", rate="4.5")
    dear = await factories.listed_product(world.staff, world.operator, name="高息贷", rate="12")
    await jobs.run_until_idle()
    before = soup(await client.get("/products"))
    order_before = [a["href"] for a in before.select("#results article h2 a")]
    assert order_before == [f"/products/{cheap}", f"/products/{dear}"]

    promotion_id = await _promote(world, dear, Placement.LIST_TOP, start=0, end=3)
    await review_promotion(world.operator, promotion_id, approve=True, note="")
    await jobs.run_until_idle()  # the index learns the product is promoted
    after = soup(await client.get("/products"))
    block = after.select_one(".promo-slots")
    assert block.select_one(".promo-label").text == "推广"
    assert [a["href"] for a in block.select("article h3 a")] == [f"/products/{dear}"]
    assert [a["href"] for a in after.select("#results article h2 a")] == order_before
    # In the ordered list the promoted product is labelled too, at its own place.
    dear_card = after.select_one(f"#results a[href='/products/{dear}']").find_parent("article")
    assert dear_card.select_one(".promo-label")
    # Page 2 has no promoted block.
    assert not soup(await client.get("/products?page=2")).select_one(".promo-slots")


async def test_campaign_shows_its_title_with_the_label(client, world):
    product_id = await factories.listed_product(world.staff, world.operator)
    promotion_id = await _promote(
        world, product_id, Placement.CAMPAIGN, start=0, end=1, title="双十二限时优惠"
    )
    await review_promotion(world.operator, promotion_id, approve=True, note="")
    campaign = soup(await client.get("/")).select_one(".promo-slots__campaign")
    assert "双十二限时优惠" in campaign.text
    assert campaign.select_one(".promo-label").text == "推广"
