"""Browse, search, filter, sort; product detail; compare."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Redirect

from marketplace.cache import pinned_catalogue
from marketplace.categories.queries import category_labels
from marketplace.cities import canonical_or_same
from marketplace.i18n import translated
from marketplace.loancalc import RepaymentMethod, today_shanghai
from marketplace.monitoring.queries import disclosed_actual_apr
from marketplace.parsing import (
    MAX_ID,
    column_length,
    lenient,
    parse_choice,
    parse_decimal,
    parse_int,
    parse_text,
)
from marketplace.products.catalog import CATEGORIES, EMPLOYMENT_TYPES
from marketplace.products.queries import (
    institution_counts,
    listed_product,
    portal_institutions,
    products_by_ids,
    search_products,
)
from marketplace.products.search_port import SORTS, TERM_CHOICES, SearchQuery
from marketplace.products.tables import Product
from marketplace.promotions.placements import Placement
from marketplace.promotions.queries import live_placements
from marketplace.ranking.queries import current_rules
from marketplace.ranking.rules import DEFAULT_SORT
from marketplace.ratings.queries import SORTS as RATING_SORTS
from marketplace.ratings.queries import product_ratings
from portal.calculator import calculator_context, kept_delivery_notice
from server.auth import current_actor
from server.behaviour import EventKind, track, track_search
from server.forms import query_choice, query_ints, query_page
from server.page_cache import live_figures
from server.pagination import pagination
from server.rendering import render, wants_fragment

PUBLIC = {"access": "public"}
PER_PAGE = 12
MAX_COMPARED = 4
PERCENT = Decimal(100)
METHODS = tuple(m.value for m in RepaymentMethod)
FILTER_KEYS = (
    "q",
    "category",
    "institution",
    "method",
    "city",
    "employment",
    "amount",
    "term",
    "apr_min",
    "apr_max",
    "sort",
)
# Searches the pages suggest (placeholder, empty state): each must find something in the
# demo catalogue (tests/integration/test_search_quality.py).
SEARCH_HINTS = ("hxyh", "zhuangxiu", "suijiesuihuan", "gjj")


# The product page's calculator inputs: without any, its quote is the default one.
CALC_PARAMS = frozenset({"amount", "term", "method"})
MAX_PAGE = 500
MAX_QUERY_TEXT = 100


def search_query_from(
    params: dict[str, str],
    sorts: Collection[str] = SORTS,
    categories: Collection[str] = CATEGORIES,
) -> SearchQuery:
    """Lenient: an unknown or malformed parameter (or a sort not offered) is ignored rather
    than an error."""
    percent = {"minimum": Decimal(0), "maximum": PERCENT, "scale": 4}
    apr_max = lenient(parse_decimal, params.get("apr_max"), None, **percent)
    apr_min = lenient(parse_decimal, params.get("apr_min"), None, **percent)
    whole = {"minimum": 1, "maximum": MAX_ID}
    city = lenient(parse_text, params.get("city"), None, max_length=column_length(Product.cities))
    return SearchQuery(
        text=lenient(parse_text, params.get("q"), "", max_length=MAX_QUERY_TEXT),
        category=lenient(parse_choice, params.get("category"), None, choices=categories),
        institution_id=lenient(parse_int, params.get("institution"), None, **whole),
        repayment_method=lenient(parse_choice, params.get("method"), None, choices=METHODS),
        city=canonical_or_same(city) if city else None,
        employment_type=lenient(
            parse_choice, params.get("employment"), None, choices=EMPLOYMENT_TYPES
        ),
        amount=lenient(parse_int, params.get("amount"), None, **whole),
        term=lenient(parse_int, params.get("term"), None, **whole),
        apr_max=float(apr_max / PERCENT) if apr_max is not None else None,
        apr_min=float(apr_min / PERCENT) if apr_min is not None else None,
        sort=lenient(parse_choice, params.get("sort"), DEFAULT_SORT, choices=sorts),
        page=lenient(parse_int, params.get("page"), 1, minimum=1, maximum=MAX_PAGE),
        per_page=PER_PAGE,
    )


def clean_list_url(pairs: list[tuple[str, str]]) -> str | None:
    """The same search without its empty parameters, or None when there are none: a GET
    form submitted without JavaScript sends every field (`?q=&category=&…`), and shared
    URLs should carry only what was chosen (every pair, so `q=&q=装修` keeps 装修)."""
    if all(value.strip() for _key, value in pairs):
        return None
    kept = [(key, value.strip()) for key, value in pairs if value.strip()]
    return "/products" + (f"?{urlencode(kept)}" if kept else "")


@get("/products", name="portal.products.list", opt=PUBLIC)
async def product_list(request: Request) -> Response:
    clean_url = clean_list_url(parse_qsl(request.url.query, keep_blank_values=True))
    if clean_url is not None:
        return Redirect(path=clean_url, status_code=302)
    params = {key: request.query_params.get(key, "").strip() for key in (*FILTER_KEYS, "page")}
    async with pinned_catalogue():
        rules = await current_rules()
        categories = await category_labels(active_only=True)
        query = search_query_from(params, rules.sorts, categories)
        cards, result = await search_products(query)
        # Paid placements, in their own marked block above the ordered list.
        promoted = await live_placements(Placement.LIST_TOP) if query.page == 1 else []
        institutions = {str(i): name for i, name in (await portal_institutions()).items()}
        institution_facet = institution_counts(result)
    kept = {k: v for k, v in params.items() if v and k != "page"}
    await track_search(request, kept, result.total, query.page)
    return await render(
        request,
        "portal/products.html",
        {
            "cards": cards,
            "result": result,
            "query": query,
            "params": params,
            **pagination("/products", kept, query.page, result.total, PER_PAGE),
            "categories": categories,
            "employment_types": translated(EMPLOYMENT_TYPES),
            "methods": {m.value: m.label for m in RepaymentMethod},
            "sort_labels": {sort.code: sort.label for sort in rules.offered},
            "promoted": promoted,
            "institutions": institutions,
            "institution_counts": institution_facet,
            "term_choices": TERM_CHOICES,
            "search_hints": SEARCH_HINTS,
            # An htmx swap of #results also refreshes the picker's counts in the form.
            "oob_picker": wants_fragment(request),
            "neutral_url": "/products?" + urlencode({**kept, "sort": DEFAULT_SORT}),
        },
        fragment="portal/_product_results.html",
        nav="products",
    )


@get("/products/{product_id:int}", name="portal.products.detail", opt=PUBLIC)
async def product_detail(request: Request, product_id: FromPath[int]) -> Response:
    async with pinned_catalogue():
        product = await listed_product(product_id)
        calc = calculator_context(product, dict(request.query_params))
        delivery = await kept_delivery_notice(product.institution_id)
        actual_apr = await live_figures.read(
            ("actual_apr", product_id), lambda: disclosed_actual_apr(product_id)
        )
        ratings = await product_ratings(
            product_id,
            await current_actor(request),
            sort=query_choice(request, "sort", RATING_SORTS, RATING_SORTS[0]),
            page=query_page(request),
        )
    await track(request, EventKind.PRODUCT_VIEW, product=product_id)
    return await render(
        request,
        "portal/product_detail.html",
        {
            "product": product,
            "delivery": delivery,
            "actual_apr": actual_apr,
            "ratings": ratings,
            **calc,
            # Set when the quote is the product's default one (cached per day).
            "quote_day": "" if CALC_PARAMS & request.query_params.keys() else today_shanghai(),
        },
        nav="products",
    )


@get("/compare", name="portal.products.compare", opt=PUBLIC)
async def compare(request: Request) -> Response:
    async with pinned_catalogue():
        products = await products_by_ids(query_ints(request, "id", limit=MAX_COMPARED))
    return await render(request, "portal/compare.html", {"products": products}, nav="products")


handlers = [product_list, product_detail, compare]
