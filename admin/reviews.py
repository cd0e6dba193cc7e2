"""Product review queue (PRODUCT.md A6)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.errors import DomainError, InvalidTransition
from marketplace.i18n import _
from marketplace.products.queries import product_for_review, review_queue
from marketplace.products.services import review_product
from marketplace.products.validation import banned_phrase_in
from server.auth import require_actor
from server.forms import errors_of, form_data
from server.rendering import flash, redirect_to, render

REVIEW = {"access": "operator", "permission": "product.review"}


@get("/reviews/products", name="admin.reviews.list", opt=REVIEW)
async def queue(request: Request) -> Response:
    return await render(
        request, "admin/reviews.html", {"products": await review_queue()}, nav="reviews"
    )


async def _detail(
    request: Request, product_id: int, errors: dict, status_code: int = 200, note: str = ""
) -> Response:
    product = await product_for_review(await require_actor(request), product_id)
    lint = []
    if phrase := banned_phrase_in(product.name, product.summary, product.description):
        lint.append(_("宣传用语含违规表述“{phrase}”", phrase=phrase))
    if product.high_cost:
        lint.append(_("综合年化利率高于警示线：上架后将向借款人显著提示"))
    return await render(
        request,
        "admin/review_detail.html",
        {"product": product, "lint": lint, "errors": errors, "note": note},
        status_code=status_code,
        nav="reviews",
    )


@get("/reviews/products/{product_id:int}", name="admin.reviews.detail", opt=REVIEW)
async def detail(request: Request, product_id: FromPath[int]) -> Response:
    return await _detail(request, product_id, {})


@post("/reviews/products/{product_id:int}", name="admin.reviews.decide", opt=REVIEW)
async def decide(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    data = await form_data(request)
    approve = data.get("decision") == "approve"
    try:
        await review_product(actor, product_id, approve=approve, note=str(data.get("note", "")))
    except DomainError as exc:
        return await _detail(
            request,
            product_id,
            errors_of(exc),
            status_code=409 if isinstance(exc, InvalidTransition) else 400,
            note=str(data.get("note", "")),
        )
    flash(request, _("已通过，产品已上架") if approve else _("已驳回，机构将看到驳回原因"))
    return redirect_to(request, "admin.reviews.list")


handlers = [queue, detail, decide]
