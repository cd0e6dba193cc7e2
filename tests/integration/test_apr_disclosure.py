"""PRODUCT.md §0: wherever a price is shown, the IRR APR comes first and most prominent;
the product's stored APR range drives list, sort and filter."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from marketplace import jobs
from tests.factories import listed_product
from tests.fixtures import soup

PERCENT = re.compile(r"\d+(\.\d+)?\s*%")


def first_rate_is_apr(scope: Tag) -> bool:
    """The first percentage a reader meets in `scope` belongs to an APR figure."""
    scope = BeautifulSoup(str(scope), "html.parser")
    for hidden in scope.select(".visually-hidden"):
        hidden.decompose()
    for apr in scope.select(".apr"):
        apr.insert(0, "⟦")
        apr.append("⟧")
    text = scope.get_text("")
    match = PERCENT.search(text)
    assert match, "no rate shown at all"
    before = text[: match.start()]
    return before.count("⟦") > before.count("⟧")


async def _daily_rate_product(world) -> int:
    # 0.05%/day with a monthly service fee: the daily figure must not lead.
    return await listed_product(
        world.staff, world.operator, rate="0.05", rate_period="day", fee_service_rate="0.1"
    )


async def test_card_detail_compare_and_calculator_lead_with_apr(client, world):
    product_id = await _daily_rate_product(world)
    await jobs.run_until_idle()

    listing = soup(await client.get("/products"))
    card = listing.select_one("article.product-card")
    assert first_rate_is_apr(card)

    detail = soup(await client.get(f"/products/{product_id}"))
    assert first_rate_is_apr(detail.select_one("main"))
    assert first_rate_is_apr(detail.select_one("#calculator"))

    compare = soup(await client.get(f"/compare?id={product_id}"))
    assert first_rate_is_apr(compare.select_one("main"))

    calculator = soup(
        await client.get("/calculator?amount=10000&term=12&rate=0.05&rate_period=day")
    )
    assert first_rate_is_apr(calculator.select_one("#quote"))


async def test_calculator_quotes_and_shows_schedule(client):
    response = await client.get(
        "/calculator",
        params={
            "amount": "10000",
            "term": "12",
            "rate": "0.5",
            "rate_period": "month",
            "method": "flat",
        },
    )
    page = soup(response)
    assert "10.90%" in page.select_one("#quote .apr").get_text()
    rows = page.select("#quote tbody tr")
    assert len(rows) == 12
    htmx = await client.get(
        "/calculator",
        params={
            "amount": "10000",
            "term": "12",
            "rate": "0.5",
            "rate_period": "month",
            "method": "flat",
        },
        headers={"HX-Request": "true"},
    )
    assert "<html" not in htmx.text and "10.90%" in htmx.text


async def test_calculator_errors_keep_input(client):
    response = await client.get("/calculator", params={"amount": "-5", "term": "12", "rate": "abc"})
    page = soup(response)
    assert "利率" in page.get_text()
    assert page.select_one("input[name=amount]")["value"] == "-5"


async def test_product_calculator_respects_product_limits(client, world):
    product_id = await listed_product(world.staff, world.operator)
    inside = soup(
        await client.get(f"/products/{product_id}/quote", params={"amount": "50000", "term": "12"})
    )
    assert "7.20%" in inside.select_one(".apr").get_text()
    outside = await client.get(
        f"/products/{product_id}/quote", params={"amount": "5000000", "term": "12"}
    )
    assert "该产品额度为" in outside.text


async def test_sort_and_filter_use_the_stored_apr(client, world):
    cheap = await listed_product(world.staff, world.operator, name="低价好贷", rate="4.5")
    dear = await listed_product(world.staff, world.operator, name="高价快贷", rate="14")
    await jobs.run_until_idle()
    listing = soup(await client.get("/products", params={"sort": "apr"}))
    names = [a.get_text(strip=True) for a in listing.select("article.product-card h2 a")]
    assert names.index("低价好贷") < names.index("高价快贷")
    filtered = await client.get("/products", params={"apr_max": "10"})
    assert "低价好贷" in filtered.text and "高价快贷" not in filtered.text
    high = soup(await client.get(f"/products/{dear}"))
    assert high.select_one(".cost-warning"), "a product above the warn line carries a warning"
    assert not soup(await client.get(f"/products/{cheap}")).select_one(".cost-warning")
