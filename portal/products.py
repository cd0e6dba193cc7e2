"""Browse, search, filter, sort; product detail; compare."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromPath

from marketplace.i18n import N_, translated
from marketplace.loancalc import RepaymentMethod
from marketplace.products.catalog import CATEGORIES, EMPLOYMENT_TYPES
from marketplace.products.queries import listed_product, products_by_ids, search_products
from marketplace.products.search_port import SORTS, SearchQuery
from portal.calculator import calculator_context
from server.pagination import pagination
from server.rendering import render

PUBLIC = {"access": "public"}
PER_PAGE = 12
SORT_LABELS = {
    "apr": N_("综合年化最低"),
    "amount": N_("额度最高"),
    "approval": N_("通过率最高"),
    "newest": N_("最新上架"),
    "popularity": N_("最受欢迎"),
    "relevance": N_("相关度"),
}
FILTER_KEYS = (
    "q",
    "category",
    "institution",
    "method",
    "city",
    "employment",
    "amount",
    "term",
    "apr_max",
    "sort",
)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def search_query_from(params: dict[str, str]) -> SearchQuery:
    """Lenient: an unknown or malformed parameter is ignored rather than an error."""
    apr_max = None
    try:
        apr_max = float(params["apr_max"]) / 100 if params.get("apr_max") else None
    except ValueError:
        apr_max = None
    sort = params.get("sort") or "apr"
    return SearchQuery(
        text=params.get("q", "")[:100],
        category=params.get("category") if params.get("category") in CATEGORIES else None,
        institution_id=_int(params.get("institution")),
        repayment_method=params.get("method") or None,
        city=params.get("city") or None,
        employment_type=params.get("employment")
        if params.get("employment") in EMPLOYMENT_TYPES
        else None,
        amount=_int(params.get("amount")),
        term=_int(params.get("term")),
        apr_max=apr_max,
        sort=sort if sort in SORTS else "apr",
        page=max(1, min(_int(params.get("page")) or 1, 500)),
        per_page=PER_PAGE,
    )


@get("/products", name="portal.products.list", opt=PUBLIC)
async def product_list(request: Request) -> Response:
    params = {key: request.query_params.get(key, "").strip() for key in (*FILTER_KEYS, "page")}
    query = search_query_from(params)
    cards, result = await search_products(query)
    kept = {k: v for k, v in params.items() if v and k != "page"}
    institution_names = {str(card.institution_id): card.institution_name for card in cards}
    return await render(
        request,
        "portal/products.html",
        {
            "cards": cards,
            "result": result,
            "query": query,
            "params": params,
            **pagination("/products", kept, query.page, result.total, PER_PAGE),
            "categories": translated(CATEGORIES),
            "employment_types": translated(EMPLOYMENT_TYPES),
            "methods": {m.value: m.label for m in RepaymentMethod},
            "sort_labels": translated(SORT_LABELS),
            "institution_names": institution_names,
            "neutral_url": "/products?" + urlencode({**kept, "sort": "apr"}),
        },
        fragment="portal/_product_results.html",
        nav="products",
    )


@get("/products/{product_id:int}", name="portal.products.detail", opt=PUBLIC)
async def product_detail(request: Request, product_id: FromPath[int]) -> Response:
    product = await listed_product(product_id)
    calc = calculator_context(product, dict(request.query_params))
    return await render(
        request, "portal/product_detail.html", {"product": product, **calc}, nav="products"
    )


@get("/compare", name="portal.products.compare", opt=PUBLIC)
async def compare(request: Request) -> Response:
    ids = [int(i) for i in request.query_params.getall("id", []) if i.isdigit()][:4]
    products = await products_by_ids(ids)
    return await render(request, "portal/compare.html", {"products": products}, nav="products")


handlers = [product_list, product_detail, compare]
