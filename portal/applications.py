"""Apply to one product or to several at once (one consent per institution), with the
saved profile prefilled, and follow applications."""

from __future__ import annotations

from decimal import Decimal

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.accounts.profiles import CONTACT_RELATIONS, own_profile
from marketplace.actors import Actor
from marketplace.applications.applicant import (
    NEED_FIELDS,
    PERSON_FIELDS,
    form_values,
    loan_purposes,
    read_person,
)
from marketplace.applications.guard import cooling_off_notice
from marketplace.applications.queries import (
    batch_page,
    borrower_application,
    borrower_applications,
)
from marketplace.applications.reporting import channel_of
from marketplace.applications.services import (
    batch_product_ids,
    new_submission_key,
    parse_application_input,
    parse_batch_input,
    submit_application,
    submit_batch,
)
from marketplace.consents.notices import build_notice
from marketplace.delivery.queries import delivery_notice
from marketplace.documents.queries import open_documents_task
from marketplace.i18n import _, translated
from marketplace.loancalc import MAX_TERM_MONTHS, MIN_TERM_MONTHS
from marketplace.loans.queries import application_loan
from marketplace.offers.queries import offer_panel
from marketplace.parsing import FormReader, first, lenient, parse_int, parse_money
from marketplace.products.catalog import EMPLOYMENT_TYPES
from marketplace.products.queries import ProductDetail, listed_product
from server.auth import require_actor
from server.behaviour import EventKind, track
from server.forms import FormData, as_list, query_text, submit_form
from server.rendering import flash, redirect_to, render

BORROWER = {"access": "borrower"}
# The calculator's amount and term carried over to the form; anything longer is not one.
PREFILL_MAX_LENGTH = 20
FIELDS = (
    *NEED_FIELDS,
    *PERSON_FIELDS,
    "repayment_method",
    "submission_key",
    "consent",
    "debt_warning_read",
)


async def _choices() -> dict:
    """The select lists every application form shows."""
    return {
        "employment_types": translated(EMPLOYMENT_TYPES),
        "purposes": await loan_purposes(),
        "relations": translated(CONTACT_RELATIONS),
    }


async def _prefilled(actor: Actor, request: Request) -> dict[str, str]:
    """The owner's saved profile, the need carried over in the query string, a fresh key."""
    return {
        **form_values(await own_profile(actor)),
        "amount": query_text(request, "amount", max_length=PREFILL_MAX_LENGTH),
        "term_months": query_text(request, "term", max_length=PREFILL_MAX_LENGTH),
        "purpose": query_text(request, "purpose", max_length=PREFILL_MAX_LENGTH),
        "submission_key": new_submission_key(),
    }


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
            **await _choices(),
            "delivery": await delivery_notice(product.institution_id),
            "cooling_off": await cooling_off_notice(actor.user_id or 0),
        },
        nav="products",
    )


@get("/products/{product_id:int}/apply", name="portal.applications.new", opt=BORROWER)
async def apply_form(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    product = await listed_product(product_id)
    values = {
        **await _prefilled(actor, request),
        "repayment_method": query_text(request, "method", max_length=PREFILL_MAX_LENGTH),
    }
    await track(request, EventKind.APPLY_FORM_OPENED, product=product_id)
    return await _form(request, product, values, {})


@post("/products/{product_id:int}/apply", name="portal.applications.create", opt=BORROWER)
async def apply_submit(request: Request, product_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        # The verb refuses a product that is not listed (404); the page's view of the
        # product is only needed when the form comes back.
        channel = channel_of(request.headers.get("user-agent"))
        reference = await submit_application(
            actor, parse_application_input(product_id, data, channel)
        )
        await track(request, EventKind.APPLY_SUBMITTED, product=product_id)
        await track(request, EventKind.CONSENT_GIVEN, product=product_id)
        flash(request, _("申请已提交，机构接收后会在时间线上更新"))
        return redirect_to(request, "portal.applications.detail", reference=reference)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        # Everything typed comes back, including the consent box as it was.
        product = await listed_product(product_id)
        return await _form(request, product, {key: first(data.get(key)) for key in FIELDS}, errors)

    return await submit_form(request, submit, rerender)


# The multi-product form's own fields, kept as typed when it comes back.
BATCH_FIELDS = (*NEED_FIELDS, *PERSON_FIELDS, "submission_key", "debt_warning_read")


async def _batch_form(
    request: Request,
    shown: list[int],
    values: dict[str, str],
    data: FormData | None,
    errors: dict[str, str],
) -> Response:
    """The multi-product page for the products `shown`. `data`: the form as posted (None
    on the first view: then every product that takes the borrower is ticked)."""
    actor = await require_actor(request)
    form = FormReader(values)
    person = read_person(form)  # as far as it is valid: the rest is not held against them
    amount = lenient(parse_money, values.get("amount"), None, minimum=Decimal("0.01"))
    term = lenient(
        parse_int, values.get("term_months"), None, minimum=MIN_TERM_MONTHS, maximum=MAX_TERM_MONTHS
    )
    methods = {pid: first((data or {}).get(f"method_{pid}")) for pid in shown}
    page = await batch_page(
        shown,
        person,
        amount=amount,
        term_months=term,
        methods=methods if data else None,
        chosen=None if data is None else batch_product_ids(data.get("products")),
    )
    # A box stays ticked only under the notice it was ticked for.
    consents = {
        group.id
        for group in page.institutions
        if data is not None
        and first(data.get(f"consent_{group.id}")) == "yes"
        and first(data.get(f"notice_{group.id}")) == group.notice.digest
    }
    return await render(
        request,
        "portal/apply_many.html",
        {
            "page": page,
            "values": values,
            "methods": methods,
            "consents": consents,
            "errors": errors,
            **await _choices(),
            "cooling_off": await cooling_off_notice(actor.user_id or 0),
        },
        nav="products",
    )


@get("/apply", name="portal.applications.many", opt=BORROWER)
async def apply_many_form(request: Request) -> Response:
    actor = await require_actor(request)
    shown = batch_product_ids(request.query_params.getall("products", []))
    return await _batch_form(request, shown, await _prefilled(actor, request), None, {})


@post("/apply", name="portal.applications.many.submit", opt=BORROWER)
async def apply_many_submit(request: Request) -> Response:
    actor = await require_actor(request)

    def shown_of(data: FormData) -> list[int]:
        # Every product the page showed (`batch`), ticked or not, so none disappears.
        return batch_product_ids(as_list(data, "batch") or as_list(data, "products"))

    def typed(data: FormData) -> dict[str, str]:
        return {key: first(data.get(key)) for key in BATCH_FIELDS}

    async def submit(data: FormData) -> Response:
        if first(data.get("intent")) == "check":
            # Check the conditions again with what is typed now; nothing is sent.
            return await _batch_form(request, shown_of(data), typed(data), data, {})
        channel = channel_of(request.headers.get("user-agent"))
        references = await submit_batch(actor, parse_batch_input(data, channel))
        flash(
            request,
            _(
                "已提交 {n} 份申请，每份申请有各自的进度，机构接收后会在时间线上更新",
                n=len(references),
            ),
        )
        return redirect_to(request, "portal.applications.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _batch_form(request, shown_of(data), typed(data), data, errors)

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


handlers = [
    apply_form,
    apply_submit,
    apply_many_form,
    apply_many_submit,
    my_applications,
    application_detail,
]
