"""Search quality on the demo catalogue: what borrowers type and what each query must
(and must not) find, facet counts counted by hand, highlight-safe cards, the clean URLs
of the filter form, and that every search the pages suggest finds something.

The demo is seeded and indexed through the real path (seed_demo, reindex_all) on the
engine the tests run with (embedded unless MEILISEARCH_URL is set)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from marketplace.demo.catalogue import PRODUCTS
from marketplace.demo.seed import seed_demo
from marketplace.products.indexing import reindex_all
from marketplace.products.search_port import SearchQuery, backend
from marketplace.products.tables import Product
from portal.products import SEARCH_HINTS
from tests.fixtures import soup

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "portal"

RENOVATION = {"华信安家装修贷", "星辰装修分期", "东岳家装分期"}
CAR = {
    "驰远新能源车贷", "锐行低首付车贷", "云帆新能源车贷", "驰远商用车贷", "锐行二手车贷",
    "驰远二手车贷", "锐行新车贷", "沧澜家用车贷", "华信购车贷", "东岳二手车贷", "驰远新车贷",
    "启明购车分期", "骏合车抵贷", "瀚海信用卡购车分期", "灵犀车主贷",
}  # fmt: skip
CREDIT_CARD = {
    "东岳信用卡现金分期", "云帆信用卡账单分期", "青禾信用卡大额分期", "云帆信用卡现金分期",
    "瀚海信用卡账单分期", "瀚海信用卡购车分期", "沧澜信用卡现金分期", "东岳信用卡账单分期",
    "华信信用卡现金分期", "华信信用卡账单分期",
}  # fmt: skip
HUAXIN = {p["name"] for p in PRODUCTS if p["institution"] == "huaxin-bank"}
HOUSING_FUND = {"华信公积金贷", "沧澜公积金贷"}
FLEXIBLE = {"东岳房抵循环贷", "华信经营快贷", "云帆税易贷", "灵犀电商贷", "安融随借", "灵犀随借"}
# The products whose text says 装修 (summary, tags or keywords): 10 in the demo.
SAYS_RENOVATION = {
    p["name"] for p in PRODUCTS if "装修" in " ".join([p["summary"], *p["tags"], *p["keywords"]])
}

# query -> (every product it must find, products it must not find)
QUERIES: list[tuple[str, set[str], set[str]]] = [
    ("装修", SAYS_RENOVATION, CAR | CREDIT_CARD - SAYS_RENOVATION),
    ("zhuangxiu", SAYS_RENOVATION, CAR),  # pinyin of a summary/keyword word
    ("家装", SAYS_RENOVATION, CAR),  # synonym of 装修
    ("随借随还", FLEXIBLE, CAR),
    ("suijiesuihuan", FLEXIBLE, CAR),  # pinyin across jieba's words, 还 read "huan"
    ("hxyh", HUAXIN, {"云帆薪享贷", "瀚海随心贷"}),  # initials of the institution
    ("gjj", HOUSING_FUND, CAR),  # initials of a tag
    ("公积金", HOUSING_FUND, CAR),
    ("住房公积金", HOUSING_FUND, CAR),  # synonym of 公积金
    ("车贷", CAR, RENOVATION | HOUSING_FUND),
    ("汽车贷款", CAR, RENOVATION | HOUSING_FUND),  # synonym of 车贷
    ("chedai", CAR, RENOVATION),
    ("我想买车", {"启明购车分期", "华信购车贷", "瀚海信用卡购车分期"}, RENOVATION),
    ("信用卡", CREDIT_CARD, RENOVATION - CREDIT_CARD),
    ("卡贷", CREDIT_CARD, RENOVATION - CREDIT_CARD),  # synonym of 信用卡
    ("想借钱装修房子", SAYS_RENOVATION, CAR | HOUSING_FUND),
]


async def _demo() -> dict[int, str]:
    await seed_demo()
    await reindex_all()
    return {row["id"]: row["name"] for row in await Product.select(Product.id, Product.name)}


async def _names(names: dict[int, str], **query: object) -> list[str]:
    result = await backend().search(SearchQuery(per_page=100, **query))  # type: ignore[arg-type]
    assert result.total == len(result.hits)
    return [names[hit.id] for hit in result.hits]


async def test_each_query_finds_what_it_must_and_not_what_it_must_not():
    names = await _demo()
    failures = []
    for text, must, must_not in QUERIES:
        for sort in ("apr", "relevance"):
            found = set(await _names(names, text=text, sort=sort))
            if must - found or found & must_not:
                failures.append((text, sort, sorted(must - found), sorted(found & must_not)))
    assert failures == []
    assert len(SAYS_RENOVATION) == 10
    # Natural query: the products matching both 装修 and 房子 (≈ 住房) come first.
    ranked = await _names(names, text="想借钱装修房子", sort="relevance")
    assert "华信安家装修贷" in ranked[:3]  # "自有住房装修专用贷款"
    cheapest_first = await _names(names, text="想借钱装修房子")
    assert set(ranked) == set(cheapest_first)


async def test_facets_count_every_filter_as_counted_by_hand():
    names = await _demo()
    by_name = {p["name"]: p for p in PRODUCTS}
    result = await backend().search(SearchQuery(text="装修", per_page=100))
    docs = [by_name[names[hit.id]] for hit in result.hits]
    assert result.facets["category"] == dict(Counter(p["category"] for p in docs))
    assert result.facets["employment_types"] == dict(
        Counter(e for p in docs for e in p["employment_types"])
    )
    assert result.facets["repayment_methods"] == dict(
        Counter(m for p in docs for m in p["repayment_methods"])
    )
    terms = Counter(
        str(t)
        for p in docs
        for t in (1, 3, 6, 12, 18, 24, 36, 48, 60, 120, 240, 360)
        if min(p["term_options"]) <= t <= max(p["term_options"])
    )
    assert result.facets["term"] == dict(terms)
    assert sum(result.facets["institution_id"].values()) == len(docs) == 10
    nationwide = sum(1 for p in docs if not p["cities"])
    # Every city counted includes the nationwide products; cities are stored canonical.
    for city, n in result.facets["cities"].items():
        listed = sum(1 for p in docs if any(city.startswith(c) for c in p["cities"]))
        assert n == listed + nationwide, city
    # A filter narrows every facet to the filtered products.
    narrowed = await backend().search(SearchQuery(text="装修", category="mortgage", per_page=1))
    assert narrowed.facets["category"] == {"mortgage": result.facets["category"]["mortgage"]}


async def test_a_highlighted_institution_keeps_every_card_whole(client):
    await _demo()
    page = soup(await client.get("/products", params={"q": "hxyh"}))
    cards = page.select("article.product-card")
    assert len(cards) == len(HUAXIN)
    for card in cards:
        assert card.select_one(".product-card__logo").get_text(strip=True) == "华"
        assert card.select_one(".product-card__institution mark").get_text() == "华信银行"
    # The fragment htmx swaps in is the same, and refreshes the institution picker.
    fragment = soup(
        await client.get("/products", params={"q": "hxyh"}, headers={"HX-Request": "true"})
    )
    assert {logo.get_text(strip=True) for logo in fragment.select(".product-card__logo")} == {"华"}
    picker = fragment.select_one("#institution-picker[hx-swap-oob]")
    options = [o.get_text() for o in picker.select("option")]
    assert options == ["全部机构", f"华信银行（{len(HUAXIN)}）"]


async def test_the_institution_picker_counts_and_filters(client):
    names = await _demo()
    page = soup(await client.get("/products", params={"q": "装修"}))
    options = {o.get_text(): o["value"] for o in page.select("#f-institution option") if o["value"]}
    assert sum(int(re.search(r"（(\d+)）", label)[1]) for label in options) == 10
    huaxin = options[next(label for label in options if label.startswith("华信银行"))]
    filtered = soup(await client.get("/products", params={"q": "装修", "institution": huaxin}))
    found = {a.get_text() for a in filtered.select(".product-card__name a")}
    assert found == SAYS_RENOVATION & HUAXIN
    assert set(names.values()) >= found
    # The picker still offers every other bank, with the same counts, to switch to.
    picked = {
        o.get_text(): o["value"] for o in filtered.select("#f-institution option") if o["value"]
    }
    assert picked == options
    assert filtered.select_one("#f-institution option[selected]")["value"] == huaxin


async def test_empty_parameters_are_left_out_of_urls(client):
    await _demo()
    response = await client.get("/products?q=&category=&institution=&term=12&apr_min=&sort=apr")
    assert response.status_code == 302
    assert response.headers["location"] == "/products?term=12&sort=apr"
    everything_empty = await client.get("/products?q=&category=&city=")
    assert everything_empty.headers["location"] == "/products"
    page = soup(await client.get("/products?term=12"))
    form = page.select_one("form#product-filters")
    assert form["hx-push-url"] == "true"
    # Filters fold away (closed on phones; the script opens them on wide screens).
    fold = form.select_one("details#product-filters-fold")
    assert fold is not None and not fold.has_attr("open")
    assert fold.select_one("summary").get_text(strip=True).startswith("筛选")
    assert form.select_one("input[name=q]").find_parent("details") is None
    facets = page.select_one("#results details.facets-fold")
    assert facets is not None and not facets.has_attr("open")
    assert page.select_one("script[src*='product-filters.js']") is not None


async def test_hostile_rate_bounds_are_ignored_not_errors(client):
    await _demo()
    for value in ("abc", "-1", "1e9", "１２", "200", "0.00001"):
        response = await client.get("/products", params={"apr_min": value})
        assert response.status_code == 200, value
    narrowed = soup(await client.get("/products", params={"apr_min": "20"}))
    everything = soup(await client.get("/products"))
    count = re.compile(r"共 (\d+) 个产品")
    assert int(count.search(narrowed.get_text())[1]) < int(count.search(everything.get_text())[1])


def _suggested_hints() -> set[str]:
    """Searches the portal's templates suggest in text: "如 xxx", "例如 xxx", "如“xxx”"."""
    hints: set[str] = set(SEARCH_HINTS)
    for name in ("home.html", "products.html", "_product_results.html", "articles.html"):
        if name == "articles.html":
            continue  # suggests articles, not products
        source = (TEMPLATES / name).read_text(encoding="utf-8")
        hints |= set(re.findall(r"(?:例如|如)\s*([a-z]{2,})", source))
        for quoted in re.findall(r"如((?:“[^”]+”)+)", source):
            hints |= set(re.findall(r"“([^”]+)”", quoted))
    return hints


async def test_every_suggested_search_finds_something_in_the_demo(client):
    names = await _demo()
    hints = _suggested_hints()
    assert {"hxyh", "华信银行", "装修"} <= hints and "zsyh" not in hints
    empty = [hint for hint in sorted(hints) if not await _names(names, text=hint)]
    assert empty == []
    page = soup(await client.get("/products"))
    tried = [a.get_text() for a in page.select(".product-filters__hints a")]
    assert set(SEARCH_HINTS) <= set(tried)
    for text in tried:
        assert await _names(names, text=text), text
