"""Promotion requests of the institution (PRODUCT.md I7)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _, translated
from marketplace.parsing import FormReader, column_length, parse_choice, parse_date, parse_text
from marketplace.promotions.placements import PLACEMENT_LABELS, Placement
from marketplace.promotions.queries import institution_promotions, promotable_products
from marketplace.promotions.services import (
    PromotionRequest,
    request_promotion,
    withdraw_promotion,
)
from marketplace.promotions.tables import Promotion
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

REQUEST = {"access": "staff", "permission": "promotion.request"}


async def _page(request: Request, values: dict[str, str], errors: dict[str, str]) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/promotions.html",
        {
            "promotions": await institution_promotions(actor),
            "products": await promotable_products(actor),
            "placements": translated(PLACEMENT_LABELS),
            "values": values,
            "errors": errors,
        },
        nav="promotions",
    )


@get("/promotions", name="console.promotions.list", opt=REQUEST)
async def promotions(request: Request) -> Response:
    return await _page(request, {}, {})


@post("/promotions", name="console.promotions.create", opt=REQUEST)
async def create(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        form = FormReader(data)
        products = await promotable_products(actor)
        product = form.field("product", parse_choice, "", choices=products, label=_("产品"))
        placement = form.field(
            "placement", parse_choice, "", choices=PLACEMENT_LABELS, label=_("推广位")
        )
        starts_on = form.field("starts_on", parse_date, None, label=_("开始日期"))
        ends_on = form.field("ends_on", parse_date, None, label=_("结束日期"))
        title = form.field(
            "title", parse_text, "", label=_("活动标题"), max_length=column_length(Promotion.title)
        )
        form.raise_errors()
        assert starts_on is not None and ends_on is not None
        await request_promotion(
            actor,
            PromotionRequest(int(product), Placement(placement), starts_on, ends_on, title),
        )
        flash(request, _("已提交推广申请，平台审核后会通知您"))
        return redirect_to(request, "console.promotions.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {k: str(v[0] if isinstance(v, list) else v) for k, v in data.items()}
        return await _page(request, values, errors)

    return await submit_form(request, submit, rerender)


@post("/promotions/{promotion_id:int}/withdraw", name="console.promotions.withdraw", opt=REQUEST)
async def withdraw(request: Request, promotion_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await withdraw_promotion(actor, promotion_id)
        flash(request, _("已撤回推广申请"))
        return redirect_to(request, "console.promotions.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, {}, errors)

    return await submit_form(request, submit, rerender)


handlers = [promotions, create, withdraw]
