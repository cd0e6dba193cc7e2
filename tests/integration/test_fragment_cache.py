"""Signed-in discovery pages answer from process caches (catalogue read models and
rendered product cards and quotes), and a change to what they show is on the very next request:
a price change, a delisting, a category rename, whatever wrote the row and without the
search index having caught up. The home page's 热门产品 never leads with high-cost
products."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace import cache, jobs
from marketplace.categories.services import update_category
from marketplace.products import queries as product_queries
from marketplace.products.services import change_listing
from marketplace.products.tables import Product
from server import templating
from tests import factories
from tests.fixtures import login, soup

PAGES = ("/", "/products", "/products?q=装修")


async def _signed_in_catalogue(client, world) -> tuple[int, int]:
    """Two listed renovation loans, indexed; the borrower signed in; every page visited
    once, so each cache is warm."""
    first = await factories.listed_product(world.staff, world.operator, name="安居装修贷")
    second = await factories.listed_product(
        world.other_staff, world.operator, name="家装分期贷", rate="9.6"
    )
    await jobs.run_until_idle()
    await login(client, "/login", world.borrower_mobile)
    for path in (*PAGES, f"/products/{first}", f"/products/{second}"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "退出" in response.text, "signed in: no page cache serves these"
    return first, second


def _card(page, product_id: int):
    link = page.select_one(f"article a[href='/products/{product_id}']")
    return link.find_parent("article") if link else None


async def test_price_change_shows_on_the_next_request(client, world):
    first, _second = await _signed_in_catalogue(client, world)
    for path in PAGES:
        assert "7.20%" in _card(soup(await client.get(path)), first).get_text(), path

    # Any writer (here plain SQL, as a repricing job would): no hook, no reindex.
    await Product.update(
        {Product.apr_min: Decimal("0.0666"), Product.apr_max: Decimal("0.0666")}
    ).where(Product.id == first)

    for path in PAGES:
        text = _card(soup(await client.get(path)), first).get_text()
        assert "6.66%" in text and "7.20%" not in text, path
    assert "6.66%" in (await client.get(f"/products/{first}")).text


async def test_delisting_shows_on_the_next_request(client, world):
    first, second = await _signed_in_catalogue(client, world)
    await change_listing(world.staff, first, "delist")
    # The search index still holds the product (its update is a job not run yet).
    for path in PAGES:
        page = soup(await client.get(path))
        assert _card(page, first) is None, path
        assert _card(page, second) is not None, path
    assert (await client.get(f"/products/{first}")).status_code == 404


async def test_category_rename_shows_on_the_next_request(client, world):
    first, _second = await _signed_in_catalogue(client, world)
    await update_category(world.operator, "consumer", name="白领专享", position=1, active=True)
    home = soup(await client.get("/"))
    assert "白领专享" in home.select_one(".category-links").text
    listing = soup(await client.get("/products"))
    options = {o["value"]: o.text for o in listing.select("select[name=category] option")}
    assert options["consumer"] == "白领专享"
    assert "白领专享" in (await client.get(f"/products/{first}")).text


async def test_institution_suspension_and_promotion_flag_show_on_the_next_request(client, world):
    first, second = await _signed_in_catalogue(client, world)
    from marketplace.institutions.tables import Institution

    await Institution.update({Institution.status: "suspended"}).where(
        Institution.id == world.other_bank_id
    )
    await Product.update({Product.promoted: True}).where(Product.id == first)
    listing = soup(await client.get("/products"))
    assert _card(listing, second) is None
    assert _card(listing, first).select_one(".promo-label").text == "推广"


async def test_warm_pages_read_no_card_from_the_database(client, world, monkeypatch):
    first, second = await _signed_in_catalogue(client, world)

    def no_query(*args, **kwargs):
        raise AssertionError("a card query on a warm page")

    monkeypatch.setattr(product_queries.Product, "select", no_query)
    for path in PAGES:
        page = soup(await client.get(path))
        assert _card(page, first) is not None and _card(page, second) is not None, path
    compared = (await client.get(f"/compare?id={first}&id={second}")).text
    assert "安居装修贷" in compared and "家装分期贷" in compared


async def test_cards_are_rendered_once_per_revision_and_snippets(client, world):
    first, _second = await _signed_in_catalogue(client, world)
    keys = [key for key in templating._fragments if key[1:3] == ("product_card", first)]
    plain = [key for key in keys if key[7:] == (None, None, None)]
    marked = [key for key in keys if key not in plain]
    assert plain and marked, "the list's plain card and the search's marked card, each kept"
    for key in plain:
        assert "<mark" not in templating._fragments[key]
    for key in marked:
        assert "<mark" in templating._fragments[key]
    # The search page marks what matched; the list, from its own key, never does.
    searched = _card(soup(await client.get("/products?q=装修")), first)
    assert searched.select("mark"), "the search snippet is highlighted"
    assert not _card(soup(await client.get("/products")), first).select("mark")
    other = _card(soup(await client.get("/products?q=安居")), first)
    assert "安居" in "".join(m.text for m in other.select("mark")), "another query, its marks"


async def test_cache_is_bypassed_inside_a_transaction():
    from marketplace.db import transaction

    assert await cache.catalogue_version() is not None
    async with transaction():
        assert await cache.catalogue_version() is None


async def test_signed_in_pages_read_the_catalogue_version_with_the_actor(
    client, world, monkeypatch
):
    """No round trip of its own: the version comes with the signed-in actor's row."""
    first, _second = await _signed_in_catalogue(client, world)
    monkeypatch.setattr(cache, "CATALOGUE_VERSION_SQL", "SELECT 1 / 0")
    for path in (*PAGES, f"/products/{first}"):
        assert (await client.get(path)).status_code == 200, path


async def test_a_version_read_with_the_actor_serves_its_request_until_it_commits():
    from marketplace.db import transaction
    from marketplace.tracing import current_request_id

    current = await cache.catalogue_version()
    request = current_request_id.set("request-1")
    try:
        cache.offer_catalogue_version(-1)
        assert await cache.catalogue_version() == -1
        current_request_id.set("request-2")
        assert await cache.catalogue_version() == current, "another request reads its own"
        current_request_id.set("request-1")
        async with transaction():
            pass
        assert await cache.catalogue_version() == current, "its own write may have changed it"
    finally:
        current_request_id.reset(request)


async def test_featured_products_put_high_cost_last(client, world):
    cheap_popular = await factories.listed_product(world.staff, world.operator, name="低价热门贷")
    cheap_quiet = await factories.listed_product(world.staff, world.operator, name="低价冷门贷")
    dear = await factories.listed_product(world.staff, world.operator, name="高价热门贷", rate="18")
    for product_id, popularity in ((cheap_popular, 50), (cheap_quiet, 5), (dear, 900)):
        await Product.update({Product.popularity: popularity}).where(Product.id == product_id)
    row = await Product.select(Product.cost_verdict).where(Product.id == dear).first()
    assert row["cost_verdict"] == "warn", "the dear product is over the cost warning line"

    assert [c.id for c in await product_queries.featured_products(6)] == [
        cheap_popular,
        cheap_quiet,
        dear,
    ]
    home = soup(await client.get("/"))
    featured = home.select_one("#featured-title").find_parent("section")
    assert [a["href"] for a in featured.select("article h3 a")] == [
        f"/products/{cheap_popular}",
        f"/products/{cheap_quiet}",
        f"/products/{dear}",
    ]
    policy = (await client.get("/legal/ranking")).text
    assert "标有高成本提示的产品排在它们之后" in policy


@pytest.mark.parametrize("size", [3])
async def test_process_cache_is_bounded(monkeypatch, size):
    monkeypatch.setattr(cache, "MAX_ENTRIES", size)
    entries = cache._Entries()
    values = entries.under(1)
    values.update({n: n for n in range(size + 1)})
    assert entries.under(1) == {}, "over the bound: dropped, not grown"
    values = entries.under(1)
    values["kept"] = True
    assert entries.under(1) == {"kept": True}
    assert entries.under(2) == {}, "a new catalogue version starts empty"


async def test_default_quote_is_kept_per_visitor_kind_and_revision(client, staff_client, world):
    first, _second = await _signed_in_catalogue(client, world)
    page = soup(await client.get(f"/products/{first}"))
    assert page.select_one("#quote .quote__apply a"), "a borrower may apply from the quote"
    await login(staff_client, "/console/login", "staff@test-bank.example")
    staff_page = soup(await staff_client.get(f"/products/{first}"))
    assert staff_page.select_one("#quote .quote") and not staff_page.select_one(
        "#quote .quote__apply"
    ), "staff see the quote without the borrower's apply button"

    await Product.update({Product.rate: Decimal("0.096")}).where(Product.id == first)
    before = page.select_one("#quote .quote__schedule").get_text()
    after = soup(await client.get(f"/products/{first}")).select_one("#quote .quote__schedule")
    assert after.get_text() != before, "a new rate, a new schedule"
    typed = soup(await client.get(f"/products/{first}?amount=12345&term=12"))
    assert "¥12,345" in typed.select_one("#quote").get_text()
