"""Journey steps 1–3: an institution lists a product, an operator approves it, search finds it."""

from __future__ import annotations

from marketplace import jobs
from marketplace.audit.tables import AuditEntry
from marketplace.products.search_port import SearchQuery, backend
from marketplace.products.tables import Product
from tests.factories import PRODUCT_FORM
from tests.fixtures import login, soup


async def test_product_from_form_to_search(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.submit("/console/products/new", PRODUCT_FORM)
    assert response.status_code == 303
    detail_url = response.headers["location"]
    product = await Product.objects().first()
    assert product.status == "draft"
    assert product.institution == world.bank_id
    # 7.2%/year 等额本息 without fees: the IRR APR equals the nominal rate (to fen rounding).
    assert abs(float(product.apr_min) - 0.072) < 1e-5
    assert abs(float(product.apr_max) - 0.072) < 1e-5

    page = await client.get(detail_url)
    assert "草稿" in page.text
    response = await client.submit(f"/console/products/{product.id}/submit")
    assert response.status_code == 303
    await client.post("/console/logout", data={"_csrf_token": await client.csrf_token()})

    await login(client, "/admin/login", "reviewer@loanmart.example")
    queue = await client.get("/admin/reviews/products")
    assert "安居装修贷" in queue.text
    response = await client.submit(f"/admin/reviews/products/{product.id}", {"decision": "approve"})
    assert response.status_code == 303

    assert (await Product.objects().first()).status == "listed"
    audit = await AuditEntry.select().where(AuditEntry.action == "product.approve").first()
    assert audit["actor_label"] == "审核员"
    assert audit["object_id"] == str(product.id)
    assert audit["ip"] == "198.51.100.7"

    # The index changes only through the outbox job, run by a real arq worker.
    assert (await backend().search(SearchQuery(text="装修"))).total == 0
    assert await jobs.run_until_idle() >= 1
    for text in ("装修", "测试银行", "csyh"):
        result = await backend().search(SearchQuery(text=text))
        assert [hit.id for hit in result.hits] == [product.id], text

    listing = await client.get("/products", params={"q": "装修"})
    cards = soup(listing).select(f"a[href='/products/{product.id}']")
    assert cards, "the listed product is on the portal's search page"


async def test_preview_shows_apr_and_blocks_overpriced(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    fair = await client.submit(
        "/console/products/preview", PRODUCT_FORM, headers={"HX-Request": "true"}
    )
    assert "7.20%" in fair.text
    dear = await client.submit(
        "/console/products/preview",
        {**PRODUCT_FORM, "rate": "0.1", "rate_period": "day"},
        headers={"HX-Request": "true"},
    )
    assert "36.00%" in dear.text
    # The price shows as soon as the fields that set it are filled, before name or category.
    half_filled = {**PRODUCT_FORM, "name": "", "category": ""}
    early = await client.submit(
        "/console/products/preview", half_filled, headers={"HX-Request": "true"}
    )
    assert "7.20%" in early.text

    response = await client.submit(
        "/console/products/new", {**PRODUCT_FORM, "rate": "0.1", "rate_period": "day"}
    )
    product = await Product.objects().first()
    assert product.cost_verdict == "block"
    response = await client.submit(f"/console/products/{product.id}/submit")
    assert response.status_code == 400
    assert "超过平台上限" in response.text
    assert (await Product.objects().first()).status == "draft"


async def test_warn_line_requires_acknowledgement(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    await client.submit("/console/products/new", {**PRODUCT_FORM, "rate": "15"})
    product = await Product.objects().first()
    assert product.cost_verdict == "warn"
    refused = await client.submit(f"/console/products/{product.id}/submit")
    assert refused.status_code == 400
    accepted = await client.submit(
        f"/console/products/{product.id}/submit", {"acknowledge_high_cost": "yes"}
    )
    assert accepted.status_code == 303
    assert (await Product.objects().first()).status == "pending_review"


async def test_form_errors_keep_input(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.submit(
        "/console/products/new", {**PRODUCT_FORM, "amount_max": "500", "summary": "秒批到账"}
    )
    assert response.status_code == 400
    page = soup(response)
    assert page.select_one("#f-name")["value"] == "安居装修贷"
    assert "最高额度不能低于最低额度" in response.text
    assert "秒批" in response.text and "违规" in response.text
    assert await Product.count() == 0


async def test_other_institution_cannot_see_or_touch_product(client, world):
    await login(client, "/console/login", "staff@other-bank.example")
    from tests.factories import listed_product

    product_id = await listed_product(world.staff, world.operator)
    for path in (f"/console/products/{product_id}", f"/console/products/{product_id}/edit"):
        assert (await client.get(path)).status_code == 404
    response = await client.submit(f"/console/products/{product_id}/listing", {"action": "pause"})
    assert response.status_code == 404
    listing = await client.get("/console/products")
    assert "安居装修贷" not in listing.text


async def test_reject_needs_a_reason_and_keeps_the_typed_note(client, world):
    from marketplace.products.services import save_product, submit_for_review
    from marketplace.products.validation import parse_product_input

    product_id = await save_product(world.staff, None, parse_product_input(PRODUCT_FORM))
    await submit_for_review(world.staff, product_id, acknowledge_high_cost=False)
    await login(client, "/admin/login", "reviewer@loanmart.example")
    response = await client.submit(
        f"/admin/reviews/products/{product_id}", {"decision": "reject", "note": "  "}
    )
    assert response.status_code == 400 and "驳回时请填写原因" in response.text
    response = await client.submit(
        f"/admin/reviews/products/{product_id}", {"decision": "reject", "note": "费用披露不完整"}
    )
    assert response.status_code == 303
    product = await Product.objects().where(Product.id == product_id).first()
    assert product.status == "rejected" and product.review_note == "费用披露不完整"


async def test_stale_listing_action_shows_a_message(client, world):
    from tests.factories import listed_product

    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/console/login", "staff@test-bank.example")
    assert (
        await client.submit(f"/console/products/{product_id}/listing", {"action": "pause"})
    ).status_code == 303
    again = await client.submit(f"/console/products/{product_id}/listing", {"action": "pause"})
    assert again.status_code == 409 and "当前状态不能执行该操作" in again.text
