"""Apply to a product (with the per-institution consent) and follow applications."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.applications.guard import cooling_off_notice
from marketplace.applications.queries import borrower_application, borrower_applications
from marketplace.applications.services import (
    new_submission_key,
    parse_application_input,
    submit_application,
)
from marketplace.consents.notices import build_notice
from marketplace.delivery.queries import delivery_notice
from marketplace.documents.queries import open_documents_task
from marketplace.i18n import _, translated
from marketplace.loans.queries import application_loan
from marketplace.offers.queries import offer_panel
from marketplace.parsing import first
from marketplace.products.catalog import EMPLOYMENT_TYPES
from marketplace.products.queries import ProductDetail, listed_product
from server.auth import require_actor
from server.forms import FormData, query_text, submit_form
from server.rendering import flash, redirect_to, render

BORROWER = {"access": "borrower"}
# The calculator's amount and term carried over to the form; anything longer is not one.
PREFILL_MAX_LENGTH = 20
FIELDS = (
    "amount",
    "term_months",
    "repayment_method",
    "real_name",
    "id_number",
    "city",
    "monthly_income",
    "employment_type",
    "submission_key",
    "consent",
    "debt_warning_read",
)


async def _form(request: Request, product: ProductDetail, values: dict, errors: dict) -> Response:
    actor = await require_actor(request)
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
            "delivery": await delivery_notice(product.institution_id),
            "cooling_off": await cooling_off_notice(actor.user_id or 0),
        },
        nav="products",
    )


@get("/products/{product_id:int}/apply", name="portal.applications.new", opt=BORROWER)
async def apply_form(request: Request, product_id: FromPath[int]) -> Response:
    product = await listed_product(product_id)
    values = {
        "amount": query_text(request, "amount", max_length=PREFILL_MAX_LENGTH),
        "term_months": query_text(request, "term", max_length=PREFILL_MAX_LENGTH),
        "repayment_method": query_text(request, "method", max_length=PREFILL_MAX_LENGTH),
        "submission_key": new_submission_key(),
    }
    return await _form(request, product, values, {})


@post("/products/{product_id:int}/apply", name="portal.applications.create", opt=BORROWER)
async def apply_submit(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    product = await listed_product(product_id)

    async def submit(data: FormData) -> Response:
        reference = await submit_application(actor, parse_application_input(product_id, data))
        flash(request, _("申请已提交，机构接收后会在时间线上更新"))
        return redirect_to(request, "portal.applications.detail", reference=reference)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        # Everything typed comes back, including the consent box as it was.
        return await _form(request, product, {key: first(data.get(key)) for key in FIELDS}, errors)

    return await submit_form(request, submit, rerender)


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
        {
            "application": application,
            "loan_timeline": await application_loan(actor, application.id),
            "documents_task": await open_documents_task(actor, application.id),
            "offer_panel": await offer_panel(actor, application.id, application.status),
        },
        fragment="portal/_timeline.html",
        nav="applications",
    )


handlers = [apply_form, apply_submit, my_applications, application_detail]
