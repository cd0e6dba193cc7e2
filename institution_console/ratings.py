"""Borrowers' ratings of the institution's products (P11): filter by product and stars,
reply once (public), or report a rating to the platform (it cannot delete one)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.parsing import first
from marketplace.ratings.queries import institution_ratings
from marketplace.ratings.services import STARS, reply, report
from server.auth import require_actor
from server.forms import FormData, query_int, query_page, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect, render

REPLY = {"access": "staff", "permission": "rating.reply"}
PER_PAGE = 20


async def _list(
    request: Request, errors: dict, failed: int | None = None, values: dict | None = None
) -> Response:
    actor = await require_actor(request)
    product_id = query_int(request, "product", 0, minimum=1) or None
    stars = query_int(request, "stars", 0, minimum=1, maximum=5) or None
    page = query_page(request)
    result = await institution_ratings(
        actor, product_id=product_id, stars=stars, page=page, per_page=PER_PAGE
    )
    filters = {"product": product_id or "", "stars": stars or ""}
    return await render(
        request,
        "institution_console/ratings.html",
        {
            "result": result,
            **filters,
            "star_options": [(str(n), _("%(n)s 星", n=n)) for n in reversed(STARS)],
            "errors": errors,
            "failed": failed,
            "values": values or {},
            **pagination(request.url.path, filters, page, result.total, PER_PAGE),
        },
        nav="ratings",
    )


@get("/ratings", name="console.ratings.list", opt=REPLY)
async def rating_list(request: Request) -> Response:
    return await _list(request, {})


def _back(request: Request) -> Response:
    return redirect(request, "/console/ratings")


def _rerender(request: Request, rating_id: int, key: str):
    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _list(request, errors, rating_id, {key: first(data.get(key))})

    return rerender


@post("/ratings/{rating_id:int}/reply", name="console.ratings.reply", opt=REPLY)
async def rating_reply(request: Request, rating_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await reply(actor, rating_id, data.get("reply"))
        flash(request, _("回复已公开显示在产品页，借款人已收到通知"))
        return _back(request)

    return await submit_form(request, submit, _rerender(request, rating_id, "reply"))


@post("/ratings/{rating_id:int}/report", name="console.ratings.report", opt=REPLY)
async def rating_report(request: Request, rating_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await report(actor, rating_id, data.get("reason"))
        flash(request, _("已举报，评价暂不显示，平台审核后处理"))
        return _back(request)

    return await submit_form(request, submit, _rerender(request, rating_id, "reason"))


handlers = [rating_list, rating_reply, rating_report]
