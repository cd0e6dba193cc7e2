"""Borrowers' ratings of products they applied to (P11): the form (new, or editing one's
rating while it is not published) and the "有用" vote. The product page shows them."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.parsing import first
from marketplace.ratings.queries import rating_form
from marketplace.ratings.services import submit_rating, vote_helpful
from marketplace.ratings.statuses import RatingStatus
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect, render

WRITE = {"access": "borrower", "permission": "rating.write"}


async def _form(request: Request, product_id: int, errors: dict, values: dict | None) -> Response:
    form = await rating_form(await require_actor(request), product_id)
    shown = values or {"rating": "" if form.stars is None else str(form.stars), "text": form.text}
    return await render(
        request,
        "portal/rating_form.html",
        {"form": form, "errors": errors, "values": shown},
        nav="products",
    )


@get("/products/{product_id:int}/ratings/new", name="portal.ratings.new", opt=WRITE)
async def rating_new(request: Request, product_id: FromPath[int]) -> Response:
    return await _form(request, product_id, {}, None)


@post("/products/{product_id:int}/ratings", name="portal.ratings.save", opt=WRITE)
async def rating_save(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        status = await submit_rating(actor, product_id, data.get("rating"), data.get("text"))
        if status is RatingStatus.PUBLISHED:
            flash(request, _("评价已发布，谢谢你的分享"))
        else:
            flash(request, _("评价已提交，内容需人工审核后发布"), "warning")
        return redirect(request, f"/products/{product_id}#ratings")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {"rating": first(data.get("rating")), "text": first(data.get("text"))}
        return await _form(request, product_id, errors, values)

    return await submit_form(request, submit, rerender)


@post("/ratings/{rating_id:int}/helpful", name="portal.ratings.vote", opt=WRITE)
async def rating_vote(request: Request, rating_id: FromPath[int]) -> Response:
    product_id = await vote_helpful(await require_actor(request), rating_id)
    return redirect(request, f"/products/{product_id}#rating-{rating_id}")


handlers = [rating_new, rating_save, rating_vote]
