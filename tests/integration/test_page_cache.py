"""The anonymous page cache (issue 14): a cached page is the fresh page with the visitor's
own token, nobody's token or cookie reaches anyone else, signed-in visitors never get a
cached page, every change that affects a page makes the next request fresh, and pages are
still served when Redis is gone."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from marketplace import cache, freshness, jobs
from marketplace.analytics import recorder
from marketplace.categories.queries import product_category_choices
from marketplace.loancalc import today_shanghai
from marketplace.products.services import (
    change_listing,
    review_product,
    save_product,
    submit_for_review,
)
from marketplace.products.validation import parse_product_input
from marketplace.promotions.placements import Placement
from marketplace.promotions.services import (
    PromotionRequest,
    advance_promotions,
    request_promotion,
    review_promotion,
)
from marketplace.ranking.services import save_ordering_rules
from server import behaviour, sessions
from server import page_cache as page_cache_module
from server.page_cache import OUTCOMES, TTL_SECONDS, LiveFigures, PageCacheMiddleware
from tests import factories
from tests.fixtures import Client, login, soup
from tests.integration.test_campaigns import EDITOR, _active_banner

TOKEN = re.compile(r"[0-9a-f]{128}")
PAGES = ("/", "/products", "/products?q=装修")


def page_cache(app) -> PageCacheMiddleware:
    handler = app.asgi_handler
    while not isinstance(handler, PageCacheMiddleware):
        handler = handler.app
    return handler


def hits() -> float:
    return OUTCOMES.labels("hit")._value.get()


def tokens(html: str) -> set[str]:
    return set(TOKEN.findall(html))


def without_token(response: httpx.Response) -> str:
    [token] = tokens(response.text)
    return response.text.replace(token, "TOKEN")


@pytest.fixture
async def visitor(app):
    """A fresh browser with no cookies: a new anonymous visitor each time it is called."""
    opened: list[Client] = []

    def make() -> Client:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50100 + len(opened)))
        opened.append(Client(transport=transport, base_url="http://testserver"))
        return opened[-1]

    yield make
    for c in opened:
        await c.aclose()


@pytest.fixture(autouse=True)
def empty_cache(app):
    page_cache(app).store.clear()
    yield
    page_cache(app).store.clear()


async def served_from_cache(client: Client, url: str) -> httpx.Response:
    before = hits()
    response = await client.get(url)
    assert response.status_code == 200
    assert hits() == before + 1, f"{url} was not served from the cache"
    return response


async def rendered_fresh(client: Client, url: str) -> httpx.Response:
    before = hits()
    response = await client.get(url)
    assert response.status_code == 200
    assert hits() == before, f"{url} came from the cache"
    return response


async def listed(world, **overrides) -> int:
    product_id = await factories.listed_product(world.staff, world.operator, **overrides)
    await jobs.run_until_idle()  # into the search index
    return product_id


async def test_a_cached_page_is_the_fresh_page_with_the_visitors_own_token(app, world, visitor):
    product_id = await listed(world)
    for url in (*PAGES, f"/products/{product_id}"):
        first = await rendered_fresh(visitor(), url)
        second = await served_from_cache(visitor(), url)
        assert without_token(second) == without_token(first)
        assert second.headers["content-type"] == first.headers["content-type"]
        assert second.headers["vary"] == first.headers["vary"]
        assert second.headers["content-security-policy"]
        # The htmx fragment is its own entry, never the full page (nor the other way).
        fragment = await visitor().get(url, headers={"HX-Request": "true"})
        assert fragment.status_code == 200
    listing = await visitor().get("/products", headers={"HX-Request": "true"})
    assert "<html" not in listing.text
    assert "<html" in (await served_from_cache(visitor(), "/products")).text


async def test_query_normalisation_shares_an_entry_and_repeats_are_not_cached(world, visitor):
    await listed(world)
    await rendered_fresh(visitor(), "/products?q=装修&sort=apr")
    await served_from_cache(visitor(), "/products?sort=apr&q=%E8%A3%85%E4%BF%AE")
    # Blank fields never reach the cache: the list answers with the URL without them.
    response = await visitor().get("/products?q=装修&category=&sort=apr")
    assert response.status_code == 302
    assert response.headers["location"] == "/products?q=%E8%A3%85%E4%BF%AE&sort=apr"
    # A repeated key is never looked up in the cache: `q=&q=装修` gets the list's
    # redirect to the URL it means, not 装修's entry or an empty search's.
    for _ in range(2):
        response = await visitor().get("/products?q=&q=装修")
        assert response.status_code == 302
        assert response.headers["location"] == "/products?q=%E8%A3%85%E4%BF%AE"
    await rendered_fresh(visitor(), "/products?q=装修&q=贷款")
    await rendered_fresh(visitor(), "/products?q=装修&q=贷款")


async def test_visitors_arriving_while_a_page_renders_wait_for_that_render(world, visitor):
    await listed(world)
    misses, before = OUTCOMES.labels("miss")._value.get(), hits()
    pages = await asyncio.gather(*(visitor().get("/products") for _ in range(6)))
    assert OUTCOMES.labels("miss")._value.get() == misses + 1
    assert hits() == before + 5
    assert len({without_token(page) for page in pages}) == 1
    assert len({token for page in pages for token in tokens(page.text)}) == 6


async def test_two_visitors_never_share_a_token_or_a_cookie(visitor):
    first, second = visitor(), visitor()
    seen: list[set[str]] = []
    for client in (first, second, first, second):
        response = await client.get("/")
        seen.append(tokens(response.text))
    await served_from_cache(second, "/")
    # Each visitor's page carries exactly their own cookie's token, the same on every visit.
    for client, own in ((first, seen[0]), (second, seen[1])):
        assert own == {client.cookies.get("csrftoken")}
    assert seen[0] == seen[2] and seen[1] == seen[3]
    assert seen[0] != seen[1]
    assert first.cookies.get("lm_device") != second.cookies.get("lm_device")
    # A cached page's token works: the form it carries is accepted (not a CSRF 403).
    [token] = seen[1]
    response = await second.post("/login", data={"_csrf_token": token, "login": "x"})
    assert response.status_code != 403
    # A visitor who already has a token keeps it; no new cookie for them.
    again = await served_from_cache(second, "/")
    assert "csrftoken" not in again.headers.get("set-cookie", "")
    # A token this server did not sign is never echoed from the cache.
    forged = visitor()
    forged.cookies.set("csrftoken", "f" * 128)
    await rendered_fresh(forged, "/")


async def test_signed_in_visitors_never_get_a_cached_page(client, world, visitor):
    await listed(world)
    await rendered_fresh(visitor(), "/products")
    await served_from_cache(visitor(), "/products")
    await login(client, "/login", world.borrower_mobile)
    page = await rendered_fresh(client, "/products")
    assert "退出登录" in page.text
    assert page.headers["cache-control"] == "no-store"
    # Nor does their render become anyone else's page.
    anonymous = await served_from_cache(visitor(), "/products")
    assert "退出登录" not in anonymous.text


async def test_a_flash_is_never_cached_nor_served_from_the_cache(visitor):
    await rendered_fresh(visitor(), "/")
    # A visitor nobody signed in, with a flash waiting in their cookie.
    flash = sessions._sealed([{"category": "info", "message": "只给你看"}])
    before = hits()
    page = await visitor().get("/", headers={"cookie": f"{sessions.FLASH_COOKIE}={flash}"})
    assert hits() == before, "a visitor with a flash gets a fresh page"
    assert "只给你看" in page.text
    # Shown once, the flash is gone: its cookie is cleared with the page that showed it.
    assert f"{sessions.FLASH_COOKIE}=;" in page.headers["set-cookie"]
    assert "Max-Age=0" in page.headers["set-cookie"]
    assert "只给你看" not in (await served_from_cache(visitor(), "/")).text
    # A flash whose signature fails is not shown (nobody plants text on another's page).
    _body, _dot, mac = flash.partition(".")
    other = sessions._sealed([{"category": "info", "message": "请拨打 400-000-0000"}])
    forged = other.partition(".")[0] + "." + mac
    page = await visitor().get("/", headers={"cookie": f"{sessions.FLASH_COOKIE}={forged}"})
    assert "400-000-0000" not in page.text


async def test_listing_and_delisting_refresh_every_page(world, visitor):
    await listed(world, name="先来的贷")
    for url in PAGES:
        await rendered_fresh(visitor(), url)
        await served_from_cache(visitor(), url)
    product_id = await listed(world, name="新上架装修贷")
    for url in PAGES:
        assert "新上架装修贷" in (await rendered_fresh(visitor(), url)).text
    detail = f"/products/{product_id}"
    await rendered_fresh(visitor(), detail)
    await served_from_cache(visitor(), detail)

    await change_listing(world.staff, product_id, "delist")
    assert (await visitor().get(detail)).status_code == 404
    for url in PAGES:
        assert "新上架装修贷" not in (await rendered_fresh(visitor(), url)).text


async def test_a_price_change_refreshes_the_product_page_before_the_index_catches_up(
    world, visitor
):
    product_id = await listed(world)
    detail = f"/products/{product_id}"
    before = await rendered_fresh(visitor(), detail)
    await served_from_cache(visitor(), detail)
    await rendered_fresh(visitor(), "/products")

    await change_listing(world.staff, product_id, "pause")
    form = {**factories.PRODUCT_FORM, "rate": "9.6"}
    await save_product(
        world.staff, product_id, parse_product_input(form, await product_category_choices())
    )
    await submit_for_review(world.staff, product_id, acknowledge_high_cost=True)
    await review_product(world.operator, product_id, approve=True, note="")
    after = await rendered_fresh(visitor(), detail)  # at commit, the index job not yet run
    assert without_token(after) != without_token(before)
    assert "9.6" in after.text
    await served_from_cache(visitor(), detail)
    await rendered_fresh(visitor(), "/products")
    await served_from_cache(visitor(), "/products")
    await jobs.run_until_idle()  # the index now has the new price too
    await rendered_fresh(visitor(), "/products")


async def test_a_promotion_starting_refreshes_home(world, visitor):
    product_id = await listed(world, name="推广中的贷")
    promotion_id = await request_promotion(
        world.staff,
        PromotionRequest(product_id, Placement.HOME, today_shanghai(), today_shanghai(), "活动"),
    )
    home = await rendered_fresh(visitor(), "/")
    await served_from_cache(visitor(), "/")
    await review_promotion(world.operator, promotion_id, approve=True, note="")
    await advance_promotions()
    fresh = await rendered_fresh(visitor(), "/")
    assert without_token(fresh) != without_token(home)
    assert soup(fresh).select_one(f"a[href='/products/{product_id}']")


async def test_a_ranking_rule_change_refreshes_the_list(world, visitor):
    await listed(world)
    page = soup(await rendered_fresh(visitor(), "/products"))
    assert len(page.select("select[name=sort] option")) > 3
    await served_from_cache(visitor(), "/products")
    await save_ordering_rules(world.operator, ["apr", "newest"], "精简")
    page = soup(await rendered_fresh(visitor(), "/products"))
    assert [o["value"] for o in page.select("select[name=sort] option")] == ["apr", "newest"]


async def test_a_lost_generation_never_revives_old_pages(world, visitor):
    await rendered_fresh(visitor(), "/")
    await served_from_cache(visitor(), "/")
    await cache.redis().delete(freshness.GENERATION_KEY)  # Redis restarted or flushed
    await rendered_fresh(visitor(), "/")
    await served_from_cache(visitor(), "/")


async def test_home_is_refreshed_when_a_banner_starts_on_schedule(visitor):
    editor = await factories.user("operator", EDITOR, "content_editor", None, "内容编辑")
    starts = datetime.now(UTC) + timedelta(seconds=0.6)
    await _active_banner(
        editor, title="准时上线", start_at=starts, end_at=starts + timedelta(days=1)
    )
    assert "准时上线" not in (await rendered_fresh(visitor(), "/")).text
    await served_from_cache(visitor(), "/")
    await asyncio.sleep((starts - datetime.now(UTC)).total_seconds() + 0.05)
    assert "准时上线" in (await rendered_fresh(visitor(), "/")).text


async def test_behaviour_is_recorded_for_cached_pages_under_each_visitor(world, visitor):
    product_id = await listed(world)
    for _ in range(2):
        await visitor().get("/products?q=装修&city=北京")
        await visitor().get(f"/products/{product_id}")
    await served_from_cache(visitor(), f"/products/{product_id}")
    await behaviour.flush()
    events = [
        __import__("json").loads(raw) for raw in await cache.redis().lrange(recorder.KEY, 0, -1)
    ]
    kinds = sorted(event["kind"] for event in events)
    assert kinds == ["filter_use"] * 2 + ["product_view"] * 3 + ["search"] * 2
    assert len({event["visitor"] for event in events if event["kind"] == "product_view"}) == 3
    assert {event["result_count"] for event in events if event["kind"] == "search"} == {1}


async def test_calculators_are_cached_and_still_counted(world, visitor):
    product_id = await listed(world)
    for url in (
        "/calculator?amount=100000&term=36",
        f"/products/{product_id}/quote?amount=50000&term=12",
    ):
        first = await rendered_fresh(visitor(), url)
        assert without_token(await served_from_cache(visitor(), url)) == without_token(first)
    await behaviour.flush()
    events = [json.loads(raw) for raw in await cache.redis().lrange(recorder.KEY, 0, -1)]
    assert [event["kind"] for event in events] == ["calculator_use"] * 4
    assert len({event["visitor"] for event in events}) == 4


async def test_redis_down_pages_are_still_served(world, visitor, monkeypatch):
    product_id = await listed(world)
    for url in (*PAGES, f"/products/{product_id}"):
        await visitor().get(url)
    down = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    monkeypatch.setattr(cache, "_redis", down)
    bypassed = OUTCOMES.labels("bypass")._value.get()
    for url in (*PAGES, f"/products/{product_id}"):
        response = await visitor().get(url)
        assert response.status_code == 200, url
        assert tokens(response.text)
    assert OUTCOMES.labels("bypass")._value.get() == bypassed + 4
    await behaviour.flush()  # the events are lost and counted, not raised
    await down.aclose()


def test_the_generation_stamp_is_reported_in_utc_free_deltas():
    with freshness.watching() as horizon:
        freshness.changes_in(datetime(2026, 1, 2, tzinfo=UTC) - datetime(2026, 1, 1, tzinfo=UTC))
    assert horizon == [timedelta(days=1)]
    freshness.changes_in(timedelta(seconds=1))  # nobody watching: nothing happens


async def test_live_figures_are_as_fresh_as_a_cached_page(monkeypatch):
    figures = LiveFigures()
    computed: list[int] = []

    async def compute() -> int:
        computed.append(len(computed))
        return computed[-1]

    assert await figures.read("k", compute) == 0
    with freshness.watching() as horizon:
        assert await figures.read("k", compute) == 0  # kept
    assert len(horizon) == 1 and timedelta(0) < horizon[0] <= timedelta(seconds=TTL_SECONDS)
    await freshness.changed()  # an audited change: the next read is fresh
    assert await figures.read("k", compute) == 1
    assert await figures.read("other", compute) == 2
    # Live traffic moves them too: kept no longer than TTL_SECONDS (here none at all).
    monkeypatch.setattr(page_cache_module, "TTL_SECONDS", 0.0)
    assert [await figures.read("moving", compute) for _ in range(2)] == [3, 4]
    monkeypatch.setattr(page_cache_module, "TTL_SECONDS", TTL_SECONDS)
    down = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    monkeypatch.setattr(cache, "_redis", down)
    assert [await figures.read("k", compute) for _ in range(2)] == [5, 6]  # read live
    await down.aclose()


async def test_signed_in_product_pages_show_a_delivery_change_at_once(client, world):
    from marketplace.delivery.services import parse_limits, save_delivery_settings
    from tests.integration.test_delivery import SETTINGS

    product_id = await listed(world)
    await login(client, "/login", world.borrower_mobile)
    before = soup(await client.get(f"/products/{product_id}"))
    assert before.select_one("#delivery-conditions") is None
    await save_delivery_settings(world.staff, parse_limits({**SETTINGS, "cities": "上海"}))
    after = soup(await client.get(f"/products/{product_id}"))
    assert "上海" in after.select_one("#delivery-conditions").text
