"""Approving a lead with an offer (engine APR and schedule previewed before sending), and
the signed contract of a lead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.applications.queries import institution_lead
from marketplace.i18n import _
from marketplace.loancalc import RatePeriod, RepaymentMethod
from marketplace.offers.queries import (
    offer_form_defaults,
    product_terms,
    signed_contract_for_lead,
)
from marketplace.offers.services import OfferPreview, live_preview, make_offer, preview_offer
from server.auth import require_actor
from server.contracts import contract_page
from server.forms import FormData, form_data, submit_form
from server.rendering import flash, redirect_to, render

VIEW = {"access": "staff", "permission": "lead.view"}
WORK = {"access": "staff", "permission": "lead.work"}


async def _form(
    request: Request,
    application_id: int,
    values: Mapping[str, Any],
    errors: dict[str, str],
    preview: OfferPreview | None = None,
) -> Response:
    actor = await require_actor(request)
    product = await product_terms(actor, application_id)
    return await render(
        request,
        "institution_console/offer_form.html",
        {
            "lead": await institution_lead(actor, application_id),
            "product": product,
            "values": values,
            "errors": errors,
            "preview": preview,
            "methods": [(m, RepaymentMethod(m).label) for m in product.repayment_methods],
            "periods": [(p.value, p.label) for p in RatePeriod],
            "terms": [(t, _("%(n)s 个月", n=t)) for t in product.term_options],
        },
        nav="leads",
    )


def _typed(data: FormData) -> dict[str, str]:
    return {key: str(value[0] if isinstance(value, list) else value) for key, value in data.items()}


@get("/leads/{application_id:int}/offer", name="console.offers.new", opt=WORK)
async def offer_form(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    values = offer_form_defaults(await product_terms(actor, application_id))
    preview, _errors = await live_preview(actor, application_id, values)
    return await _form(request, application_id, values, {}, preview)


@post("/leads/{application_id:int}/offer", name="console.offers.create", opt=WORK)
async def offer_create(request: Request, application_id: FromPath[int]) -> Response:
    """Sends the offer; the "预览" button (name=preview) only recomputes the figures, so the
    form works the same without JavaScript."""
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        if data.get("preview"):
            preview = await preview_offer(actor, application_id, data)
            return await _form(request, application_id, _typed(data), {}, preview)
        await make_offer(actor, application_id, data)
        flash(request, _("批复方案已发送给借款人"))
        return redirect_to(request, "console.leads.detail", application_id=application_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _form(request, application_id, _typed(data), errors)

    return await submit_form(request, submit, rerender)


@post("/leads/{application_id:int}/offer/preview", name="console.offers.preview", opt=WORK)
async def offer_preview(request: Request, application_id: FromPath[int]) -> Response:
    """Live APR and schedule while the form is filled (htmx; a 200 with what is wrong)."""
    actor = await require_actor(request)
    preview, errors = await live_preview(actor, application_id, await form_data(request))
    return await render(
        request,
        "institution_console/_offer_preview.html",
        {"preview": preview, "errors": errors},
    )


@get("/leads/{application_id:int}/contract", name="console.offers.contract", opt=VIEW)
async def lead_contract(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    signed = await signed_contract_for_lead(actor, application_id)
    return await contract_page(request, signed)


handlers = [offer_form, offer_create, offer_preview, lead_contract]
