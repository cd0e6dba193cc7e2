"""Product management: create/edit with live APR preview, submit for review, pause, delist."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.actors import Actor
from marketplace.categories.queries import product_category_choices
from marketplace.cities import canonical_or_same, recognised_cities
from marketplace.errors import ValidationFailed
from marketplace.i18n import N_, _, translated
from marketplace.loancalc import RatePeriod, RepaymentMethod
from marketplace.parameters.services import cost_lines
from marketplace.parsing import MAX_ID, first, lenient, parse_int
from marketplace.products.catalog import EMPLOYMENT_TYPES
from marketplace.products.disclosures import BASES, BASIS_LABELS, Basis, ContingentKind
from marketplace.products.queries import (
    ProductDetail,
    institution_product,
    institution_products,
)
from marketplace.products.services import change_listing, price, save_product, submit_for_review
from marketplace.products.validation import (
    FEE_FIELDS,
    PERCENT,
    compliance_lint,
    contingent_field,
    parse_price_terms,
    parse_product_input,
)
from marketplace.products.versions import product_versions, version_diff
from server.auth import require_actor
from server.forms import FormData, as_list, form_data, submit_form
from server.rendering import flash, redirect_to, render

VIEW = {"access": "staff", "permission": "product.view"}
EDIT = {"access": "staff", "permission": "product.edit"}
RATE_TYPES = {"fixed": N_("固定利率"), "floating": N_("浮动利率（LPR + 加点）")}
# Form fields sent as repeated keys (checkbox groups).
LIST_FIELDS = ("employment_types", "repayment_methods")


def _values_from_product(product: ProductDetail) -> dict:
    values = {
        key: getattr(product, key)
        for key in (
            "name",
            "category",
            "summary",
            "description",
            "rate_period",
            "rate_type",
            "age_min",
            "age_max",
            "approval_speed_hours",
        )
    }
    values["amount_min"] = f"{product.amount_min:f}".rstrip("0").rstrip(".")
    values["amount_max"] = f"{product.amount_max:f}".rstrip("0").rstrip(".")
    if product.floating:
        values["rate_spread_bps"] = str(product.rate_spread_bps)
    else:
        values["rate"] = f"{(product.rate * PERCENT).normalize():f}"
    values["repayment_methods"] = list(product.repayment_methods)
    for charge in product.contingent_fees:
        values[contingent_field(charge.kind, "basis")] = str(charge.basis)
        if charge.value is not None:
            value = charge.value if charge.basis is Basis.AMOUNT else charge.value * PERCENT
            values[contingent_field(charge.kind, "value")] = f"{value.normalize():f}"
    values["min_monthly_income"] = f"{product.min_monthly_income:.0f}"
    values["term_options"] = ",".join(str(t) for t in product.term_options)
    for key in ("required_documents", "tags", "keywords"):
        values[key] = "，".join(getattr(product, key))
    values["cities"] = [canonical_or_same(city) for city in product.cities]
    values["employment_types"] = list(product.employment_types)
    for fee in product.fee_list:
        for key, (kind, timing) in FEE_FIELDS.items():
            if fee.kind == kind and fee.timing == timing:
                if fee.amount is not None:
                    values[key] = f"{fee.amount:f}"
                elif fee.rate is not None:
                    values[key] = f"{(fee.rate * PERCENT).normalize():f}"
    return values


async def _form(
    request: Request,
    values: dict,
    errors: dict,
    product: ProductDetail | None = None,
    preview: object = None,
) -> Response:
    return await render(
        request,
        "institution_console/product_form.html",
        {
            "values": values,
            "errors": errors,
            "product": product,
            "preview": preview,
            # Hidden categories are not offered, but an edited product keeps its own.
            "categories": await product_category_choices(product.category if product else None),
            "employment_types": translated(EMPLOYMENT_TYPES),
            "methods": {m.value: m.label for m in RepaymentMethod},
            "periods": {p.value: p.label for p in RatePeriod},
            "rate_types": translated(RATE_TYPES),
            "contingent_kinds": [
                (kind, [(str(b), _(BASIS_LABELS[kind][b])) for b in BASES[kind]])
                for kind in ContingentKind
            ],
            "lpr": (await cost_lines()).lpr_1y,
        },
        nav="products",
    )


def _form_values(data: dict) -> dict:
    values = {k: v for k, v in data.items() if k not in LIST_FIELDS}
    for key in LIST_FIELDS:
        values[key] = as_list(data, key)
    values["cities"] = recognised_cities(data.get("cities"))
    return values


@get("/products", name="console.products.list", opt=VIEW)
async def product_list(request: Request) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/products.html",
        {"products": await institution_products(actor)},
        nav="products",
    )


@get("/products/new", name="console.products.new", opt=EDIT)
async def new_product(request: Request) -> Response:
    return await _form(
        request,
        {
            "rate_period": "year",
            "rate_type": "fixed",
            "repayment_methods": ["equal_installment"],
            "age_min": 22,
            "age_max": 55,
            "term_options": "6,12,24,36",
        },
        {},
    )


@post("/products/new", name="console.products.create", opt=EDIT)
async def create_product(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        product_input = parse_product_input(data, await product_category_choices())
        product_id = await save_product(actor, None, product_input)
        flash(request, _("产品已保存为草稿，确认无误后可提交审核"))
        return redirect_to(request, "console.products.detail", product_id=product_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _form(request, _form_values(data), errors)

    return await submit_form(request, submit, rerender)


@post("/products/preview", name="console.products.preview", opt=EDIT)
async def preview_product(request: Request) -> Response:
    """Live APR preview and cap verdict while the form is being filled (htmx)."""
    data = await form_data(request)
    errors: dict = {}
    preview = None
    # What is wrong is the preview's content (a 200): htmx swaps only successful answers.
    try:
        preview = await price(parse_price_terms(data))
    except ValidationFailed as exc:
        errors = exc.errors
    return await render(
        request,
        "institution_console/_apr_preview.html",
        {"preview": preview, "errors": errors},
    )


@get("/products/{product_id:int}", name="console.products.detail", opt=VIEW)
async def product_detail(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    product = await institution_product(actor, product_id)
    return await render(
        request,
        "institution_console/product_detail.html",
        {"product": product, "errors": {}, "lint": _lint(product)},
        nav="products",
    )


def _lint(product: ProductDetail) -> list[str]:
    texts = (product.name, product.summary, product.description)
    return compliance_lint(texts, product.high_cost, product.contingent_fees)


@get("/products/{product_id:int}/versions", name="console.products.versions", opt=VIEW)
async def versions(request: Request, product_id: FromPath[int]) -> Response:
    """Every version with a side-by-side diff of the two chosen (default: the newest two)."""
    actor = await require_actor(request)
    product = await institution_product(actor, product_id)
    entries = await product_versions(actor, product_id)
    numbers = [entry.version for entry in entries]
    bounds = {"minimum": 1, "maximum": MAX_ID}
    new = lenient(parse_int, request.query_params.get("new"), numbers[0], **bounds)
    old = lenient(
        parse_int, request.query_params.get("old"), numbers[min(1, len(numbers) - 1)], **bounds
    )
    diff = await version_diff(actor, product_id, old, new)
    return await render(
        request,
        "institution_console/product_versions.html",
        {"product": product, "versions": entries, "diff": diff},
        nav="products",
    )


@get("/products/{product_id:int}/edit", name="console.products.edit", opt=EDIT)
async def edit_product(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    product = await institution_product(actor, product_id)
    return await _form(request, _values_from_product(product), {}, product)


@post("/products/{product_id:int}/edit", name="console.products.update", opt=EDIT)
async def update_product(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    product = await institution_product(actor, product_id)

    async def submit(data: FormData) -> Response:
        categories = await product_category_choices(product.category)
        await save_product(actor, product_id, parse_product_input(data, categories))
        flash(request, _("修改已保存"))
        return redirect_to(request, "console.products.detail", product_id=product_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _form(request, _form_values(data), errors, product)

    return await submit_form(request, submit, rerender)


def _detail_with_errors(
    request: Request, actor: Actor, product_id: int
) -> Callable[[FormData, dict[str, str]], Awaitable[Response]]:
    """The product page again, with why the action was refused."""

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        product = await institution_product(actor, product_id)
        return await render(
            request,
            "institution_console/product_detail.html",
            {"product": product, "errors": errors, "lint": _lint(product)},
            nav="products",
        )

    return rerender


@post("/products/{product_id:int}/submit", name="console.products.submit", opt=EDIT)
async def submit_product(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        acknowledged = first(data.get("acknowledge_high_cost")) == "yes"
        await submit_for_review(actor, product_id, acknowledge_high_cost=acknowledged)
        flash(request, _("已提交审核，平台审核通过后将自动上架"))
        return redirect_to(request, "console.products.detail", product_id=product_id)

    return await submit_form(request, submit, _detail_with_errors(request, actor, product_id))


@post("/products/{product_id:int}/listing", name="console.products.listing", opt=EDIT)
async def listing(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await change_listing(actor, product_id, first(data.get("action")))
        flash(request, _("产品状态已更新"))
        return redirect_to(request, "console.products.detail", product_id=product_id)

    return await submit_form(request, submit, _detail_with_errors(request, actor, product_id))


handlers = [
    product_list,
    new_product,
    create_product,
    preview_product,
    product_detail,
    versions,
    edit_product,
    update_product,
    submit_product,
    listing,
]
