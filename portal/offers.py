"""The borrower's offers: compare them, read the contract, sign with an SMS code, decline;
withdraw an application before signing."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.applications.queries import borrower_application
from marketplace.i18n import _
from marketplace.offers.queries import (
    borrower_offer,
    borrower_offers,
    signed_contract_for_borrower,
)
from marketplace.offers.services import (
    decline_offer,
    request_signing_code,
    sign_offer,
    withdraw_application,
)
from marketplace.signing import parse_signing
from server.auth import client_address, require_actor
from server.contracts import contract_page
from server.forms import FormData, submit_form
from server.rendering import flash, redirect, redirect_to, render

BORROWER = {"access": "borrower"}


@get("/me/offers", name="portal.offers.list", opt=BORROWER)
async def offer_list(request: Request) -> Response:
    actor = await require_actor(request)
    return await render(
        request, "portal/offers.html", {"offers": await borrower_offers(actor)}, nav="offers"
    )


async def _detail(
    request: Request, offer_id: int, errors: dict[str, str] | None = None, code_sent: bool = False
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/offer_detail.html",
        {
            "page": await borrower_offer(actor, offer_id),
            "errors": errors or {},
            "code_sent": code_sent,
        },
        nav="offers",
    )


@get("/me/offers/{offer_id:int}", name="portal.offers.detail", opt=BORROWER)
async def offer_detail(request: Request, offer_id: FromPath[int]) -> Response:
    return await _detail(request, offer_id, code_sent=bool(request.query_params.get("sent")))


@post("/me/offers/{offer_id:int}/code", name="portal.offers.code", opt=BORROWER)
async def offer_code(request: Request, offer_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await request_signing_code(actor, offer_id)
        flash(request, _("验证码已发送到您的手机，5分钟内有效"))
        url = request.app.route_reverse("portal.offers.detail", offer_id=offer_id)
        return redirect(request, f"{url}?sent=1#sign")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(request, offer_id, errors)

    return await submit_form(request, submit, rerender)


@post("/me/offers/{offer_id:int}/sign", name="portal.offers.sign", opt=BORROWER)
async def offer_sign(request: Request, offer_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        signing = parse_signing(
            data, client_address(request), request.headers.get("user-agent", "")
        )
        await sign_offer(actor, offer_id, signing)
        flash(request, _("签约成功，机构将尽快安排放款"))
        return redirect_to(request, "portal.offers.contract", offer_id=offer_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(request, offer_id, errors, code_sent=True)

    return await submit_form(request, submit, rerender)


@get("/me/offers/{offer_id:int}/decline", name="portal.offers.decline_confirm", opt=BORROWER)
async def offer_decline_confirm(request: Request, offer_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    page = await borrower_offer(actor, offer_id)
    return await render(request, "portal/offer_decline.html", {"card": page.card}, nav="offers")


@post("/me/offers/{offer_id:int}/decline", name="portal.offers.decline", opt=BORROWER)
async def offer_decline(request: Request, offer_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await decline_offer(actor, offer_id)
        flash(request, _("已婉拒该批复，申请已结束，机构不再获得您的信息"))
        return redirect_to(request, "portal.offers.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(request, offer_id, errors)

    return await submit_form(request, submit, rerender)


@get("/me/offers/{offer_id:int}/contract", name="portal.offers.contract", opt=BORROWER)
async def offer_contract(request: Request, offer_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return await contract_page(request, await signed_contract_for_borrower(actor, offer_id))


@get(
    "/me/applications/{reference:str}/withdraw",
    name="portal.applications.withdraw_confirm",
    opt=BORROWER,
)
async def withdraw_confirm(request: Request, reference: FromPath[str]) -> Response:
    actor = await require_actor(request)
    application = await borrower_application(actor, reference)
    return await render(
        request,
        "portal/application_withdraw.html",
        {"application": application, "errors": {}},
        nav="applications",
    )


@post(
    "/me/applications/{reference:str}/withdraw",
    name="portal.applications.withdraw",
    opt=BORROWER,
)
async def withdraw(request: Request, reference: FromPath[str]) -> Response:
    actor = await require_actor(request)
    application = await borrower_application(actor, reference)

    async def submit(data: FormData) -> Response:
        await withdraw_application(actor, application.id)
        flash(request, _("申请已撤回，机构不再获得您的信息"))
        return redirect_to(request, "portal.applications.detail", reference=reference)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await render(
            request,
            "portal/application_withdraw.html",
            {"application": application, "errors": errors},
            nav="applications",
        )

    return await submit_form(request, submit, rerender)


handlers = [
    offer_list,
    offer_detail,
    offer_code,
    offer_sign,
    offer_decline_confirm,
    offer_decline,
    offer_contract,
    withdraw_confirm,
    withdraw,
]
