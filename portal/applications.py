"""Apply to a product (with the per-institution consent) and follow applications."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.applications.queries import borrower_application, borrower_applications
from marketplace.applications.services import (
    new_submission_key,
    parse_application_input,
    submit_application,
)
from marketplace.consents.notices import build_notice
from marketplace.errors import DomainError
from marketplace.i18n import _, translated
from marketplace.products.catalog import EMPLOYMENT_TYPES
from marketplace.products.queries import ProductDetail, listed_product
from server.auth import require_actor
from server.forms import errors_of, form_data
from server.rendering import flash, redirect_to, render

BORROWER = {"access": "borrower"}
FIELDS = (
    "amount",
    "term_months",
    "real_name",
    "id_number",
    "city",
    "monthly_income",
    "employment_type",
    "submission_key",
)


async def _form(
    request: Request, product: ProductDetail, values: dict, errors: dict, status_code: int = 200
) -> Response:
    notice = build_notice(product.institution_name, product.service_phone, product.name)
    return await render(
        request,
        "portal/apply.html",
        {
            "product": product,
            "values": values,
            "errors": errors,
            "notice": notice,
            "employment_types": translated(EMPLOYMENT_TYPES),
        },
        status_code=status_code,
        nav="products",
    )


@get("/products/{product_id:int}/apply", name="portal.applications.new", opt=BORROWER)
async def apply_form(request: Request, product_id: FromPath[int]) -> Response:
    product = await listed_product(product_id)
    values = {
        "amount": request.query_params.get("amount", ""),
        "term_months": request.query_params.get("term", ""),
        "submission_key": new_submission_key(),
    }
    return await _form(request, product, values, {})


@post("/products/{product_id:int}/apply", name="portal.applications.create", opt=BORROWER)
async def apply_submit(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    product = await listed_product(product_id)
    data = await form_data(request)
    values = {key: str(data.get(key, "")).strip() for key in FIELDS}
    try:
        reference = await submit_application(actor, parse_application_input(product_id, data))
    except DomainError as exc:
        # Everything typed comes back, including the consent box as it was.
        values["consent"] = str(data.get("consent", ""))
        return await _form(request, product, values, errors_of(exc), status_code=400)
    flash(request, _("申请已提交，机构接收后会在时间线上更新"))
    return redirect_to(request, "portal.applications.detail", reference=reference)


@get("/me/applications", name="portal.applications.list", opt=BORROWER)
async def my_applications(request: Request) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/applications.html",
        {"applications": await borrower_applications(actor)},
        nav="applications",
    )


@get("/me/applications/{reference:str}", name="portal.applications.detail", opt=BORROWER)
async def application_detail(request: Request, reference: FromPath[str]) -> Response:
    actor = await require_actor(request)
    application = await borrower_application(actor, reference)
    return await render(
        request,
        "portal/application_detail.html",
        {"application": application},
        fragment="portal/_timeline.html",
        nav="applications",
    )


handlers = [apply_form, apply_submit, my_applications, application_detail]
