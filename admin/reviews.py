"""Product review queue (PRODUCT.md A6)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.parsing import FormReader, first, parse_text
from marketplace.products.queries import product_for_review, review_queue
from marketplace.products.services import review_product
from marketplace.products.validation import compliance_lint
from marketplace.products.versions import review_context
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

REVIEW = {"access": "operator", "permission": "product.review"}
# The institution reads the note on its product page.
NOTE_MAX_LENGTH = 1000


@get("/reviews/products", name="admin.reviews.list", opt=REVIEW)
async def queue(request: Request) -> Response:
    return await render(
        request, "admin/reviews.html", {"products": await review_queue()}, nav="reviews"
    )


async def _detail(request: Request, product_id: int, errors: dict, note: str = "") -> Response:
    product = await product_for_review(await require_actor(request), product_id)
    texts = (product.name, product.summary, product.description)
    return await render(
        request,
        "admin/review_detail.html",
        {
            "product": product,
            "lint": compliance_lint(texts, product.high_cost, product.contingent_fees),
            "review": await review_context(product_id),
            "errors": errors,
            "note": note,
        },
        nav="reviews",
    )


@get("/reviews/products/{product_id:int}", name="admin.reviews.detail", opt=REVIEW)
async def detail(request: Request, product_id: FromPath[int]) -> Response:
    return await _detail(request, product_id, {})


@post("/reviews/products/{product_id:int}", name="admin.reviews.decide", opt=REVIEW)
async def decide(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        form = FormReader(data)
        approve = first(data.get("decision")) == "approve"
        note = form.field(
            "note", parse_text, "", label=_("审核意见"), max_length=NOTE_MAX_LENGTH, multiline=True
        )
        form.raise_errors()
        await review_product(actor, product_id, approve=approve, note=note)
        flash(request, _("已通过，产品已上架") if approve else _("已驳回，机构将看到驳回原因"))
        return redirect_to(request, "admin.reviews.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(request, product_id, errors, note=first(data.get("note")))

    return await submit_form(request, submit, rerender)


handlers = [queue, detail, decide]
