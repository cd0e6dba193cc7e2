"""Honest ranking: promotions never change the order of a list; the ordering rules are
versioned, audited, effective at once, and the public policy page is generated from them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace import jobs
from marketplace.audit.tables import AuditEntry
from marketplace.loancalc import today_shanghai
from marketplace.products.indexing import reindex_all
from marketplace.products.search_port import SORTS, SearchQuery, backend
from marketplace.products.tables import Product
from marketplace.promotions.placements import Placement
from marketplace.promotions.services import PromotionRequest, request_promotion, review_promotion
from marketplace.promotions.tables import Promotion
from marketplace.ranking.rules import SORT_RULES
from tests import factories
from tests.fixtures import login, soup

# Up to six promotions fit the default slots: three home, two list-top, one campaign.
PLACEMENTS = [Placement.HOME] * 3 + [Placement.LIST_TOP] * 2 + [Placement.CAMPAIGN]

catalogues = st.lists(
    st.tuples(
        st.integers(min_value=300, max_value=3600),  # APR in basis points (ties likely)
        st.integers(min_value=1, max_value=50),  # amount_max in 10,000 yuan
        st.integers(min_value=0, max_value=5),  # popularity
    ),
    min_size=2,
    max_size=12,
)


async def _catalogue(institution_id: int, items: list[tuple[int, int, int]]) -> list[int]:
    await Promotion.delete(force=True)
    await Product.delete(force=True)
    ids = []
    for n, (apr_bp, amount, popularity) in enumerate(items):
        apr = Decimal(apr_bp) / 10000
        rows = await Product.insert(
            Product(
                institution=institution_id,
                name=f"产品{n}",
                category="consumer",
                amount_min=Decimal(1000),
                amount_max=Decimal(amount * 10000),
                term_options=[12],
                rate=apr,
                rate_period="year",
                repayment_methods=["equal_installment"],
                cities=[],
                employment_types=[],
                required_documents=[],
                tags=[],
                keywords=[],
                apr_min=apr,
                apr_max=apr,
                popularity=popularity,
                status="listed",
                listed_at=datetime.now(UTC),
            )
        ).returning(Product.id)
        ids.append(rows[0]["id"])
    await reindex_all()
    return ids


async def _orders() -> dict[str, list[int]]:
    return {
        sort: [
            hit.id for hit in (await backend().search(SearchQuery(sort=sort, per_page=100))).hits
        ]
        for sort in SORTS
    }


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=catalogues, data=st.data())
async def test_no_promotion_changes_the_order_of_any_sort(world, items, data):
    ids = await _catalogue(world.bank_id, items)
    before = await _orders()
    promoted = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(PLACEMENTS)))
    today = today_shanghai()
    for product_id, placement in zip(promoted, PLACEMENTS, strict=False):
        promotion_id = await request_promotion(
            world.staff, PromotionRequest(product_id, placement, today, today, "活动")
        )
        await review_promotion(world.operator, promotion_id, approve=True, note="")
    await jobs.run_until_idle()  # the products.index jobs the promotions recorded
    flagged = await Product.select(Product.id).where(Product.promoted.eq(True))
    assert {row["id"] for row in flagged} == set(promoted)
    assert await _orders() == before


async def test_ordering_rules_are_versioned_audited_and_effective_at_once(client, world):
    await factories.listed_product(world.staff, world.operator)
    await login(client, "/admin/login", "reviewer@loanmart.example")
    page = soup(await client.get("/admin/ordering"))
    assert page.select_one("input[name=offer_apr][disabled][checked]"), "cost-first cannot be off"
    response = await client.submit(
        "/admin/ordering",
        {
            "offer_amount": "1",
            "position_amount": "2",
            "offer_newest": "1",
            "position_newest": "1",
            "note": "精简排序选项",
        },
    )
    assert response.status_code == 303, response.text[:500]
    entry = await AuditEntry.select().where(AuditEntry.action == "ranking.rules").first()
    assert entry["object_id"] == "1"

    listing = soup(await client.get("/products"))
    offered = [o["value"] for o in listing.select("select[name=sort] option")]
    assert offered == ["apr", "newest", "amount"], "the default stays first whatever was sent"
    # A sort no longer offered falls back to the default, one click from anywhere.
    listing = soup(await client.get("/products?sort=popularity"))
    assert listing.select_one("select[name=sort] option[selected]")["value"] == "apr"

    policy = soup(await client.get("/ranking-policy"))
    terms = [li.get_text(strip=True) for li in policy.select("#legal-s1 ~ ul li")]
    assert [t.split("：")[0] for t in terms] == ["综合年化最低（默认）", "最新上架", "额度最高"]
    assert "第 1 版" in policy.text
    assert "推广从不改变产品列表的排序" in policy.text
    assert "首页推荐位：每天最多 3 个" in policy.text

    response = await client.submit("/admin/ordering", {"offer_amount": "1", "note": "再改"})
    assert response.status_code == 303
    history = soup(await client.get("/admin/ordering")).select("tbody tr th")
    assert "2" in [th.text for th in history]


async def test_ordering_form_refuses_hostile_positions(client, world):
    await login(client, "/admin/login", "reviewer@loanmart.example")
    for value in ("０", "99", "-1", "1e3", "x" * 100):
        response = await client.submit(
            "/admin/ordering", {"offer_amount": "1", "position_amount": value}
        )
        assert response.status_code == 400, value
        assert soup(response).select_one(".error-summary")
    response = await client.submit("/admin/ordering", {"note": "长" * 201})
    assert response.status_code == 400
    assert not await AuditEntry.exists().where(AuditEntry.action == "ranking.rules")


async def test_the_footer_links_the_policy_and_the_policy_matches_the_engines(client):
    home = soup(await client.get("/"))
    link = home.select_one(".site-footer a[href='/ranking-policy']")
    assert link is not None
    assert set(SORT_RULES) == set(SORTS), "every engine sort is explained, nothing more"
    policy = await client.get("/ranking-policy")
    assert policy.status_code == 200
    explanations = [li.text.split("：", 1)[1] for li in soup(policy).select("#legal-s1 ~ ul li")]
    assert len(explanations) == len(SORT_RULES)
    assert all(text.strip() for text in explanations)


async def test_staff_and_borrowers_cannot_change_rules(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.submit("/admin/ordering", {"offer_amount": "1"})
    assert response.status_code in (302, 303, 401, 403)
    assert not await AuditEntry.exists().where(AuditEntry.action == "ranking.rules")
