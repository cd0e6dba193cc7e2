"""Review of promotion requests (PRODUCT.md A6: recommendation slots labelled 推广)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.parsing import FormReader, column_length, first, parse_text
from marketplace.promotions.queries import promotion_queue
from marketplace.promotions.services import review_promotion
from marketplace.promotions.statuses import STATUS_LABELS, PromotionStatus
from marketplace.promotions.tables import Promotion
from server.auth import require_actor
from server.forms import FormData, query_choice, submit_form
from server.rendering import flash, redirect_to, render

REVIEW = {"access": "operator", "permission": "promotion.review"}
ALL = "all"


async def _page(
    request: Request, errors: dict[str, str], failed_id: int | None = None, note: str = ""
) -> Response:
    status = query_choice(request, "status", [*PromotionStatus, ALL], PromotionStatus.REQUESTED)
    return await render(
        request,
        "admin/promotions.html",
        {
            "promotions": await promotion_queue(
                await require_actor(request), None if status == ALL else PromotionStatus(status)
            ),
            "status": status,
            "statuses": [(str(s), _(label)) for s, label in STATUS_LABELS.items()],
            "errors": errors,
            "failed_id": failed_id,
            "note": note,
        },
        nav="promotions",
    )


@get("/promotions", name="admin.promotions.list", opt=REVIEW)
async def queue(request: Request) -> Response:
    return await _page(request, {})


@post("/promotions/{promotion_id:int}", name="admin.promotions.decide", opt=REVIEW)
async def decide(request: Request, promotion_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        form = FormReader(data)
        approve = first(data.get("decision")) == "approve"
        note = form.field(
            "note",
            parse_text,
            "",
            label=_("审核意见"),
            max_length=column_length(Promotion.review_note),
            multiline=True,
        )
        form.raise_errors()
        await review_promotion(actor, promotion_id, approve=approve, note=note)
        flash(request, _("已通过推广申请") if approve else _("已驳回，机构将看到驳回原因"))
        return redirect_to(request, "admin.promotions.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, errors, promotion_id, first(data.get("note")))

    return await submit_form(request, submit, rerender)


handlers = [queue, decide]
