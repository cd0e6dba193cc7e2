"""The institution's cooperation agreement (A5): the version in force, the version offered
for signing (read it, get an SMS code, sign), and every version."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.accounts.queries import account_summary
from marketplace.agreements.queries import institution_agreements
from marketplace.agreements.services import request_agreement_code, sign_agreement
from marketplace.i18n import _
from marketplace.signing import parse_signing
from server.auth import client_address, require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect, redirect_to, render

SIGN = {"access": "staff", "permission": "agreement.sign"}


async def _page(
    request: Request, errors: dict[str, str] | None = None, code_sent: bool = False
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/agreement.html",
        {
            "page": await institution_agreements(actor, datetime.now(UTC)),
            "errors": errors or {},
            "code_sent": code_sent,
            # Codes go to the admin's bound mobile: none bound, the page says where to bind.
            "mobile_masked": (await account_summary(actor.user_id or 0)).mobile_masked,
        },
        nav="agreement",
    )


@get("/agreement", name="console.agreement.show", opt=SIGN)
async def agreement(request: Request) -> Response:
    return await _page(request, code_sent=bool(request.query_params.get("sent")))


@post("/agreement/{agreement_id:int}/code", name="console.agreement.code", opt=SIGN)
async def agreement_code(request: Request, agreement_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await request_agreement_code(actor, agreement_id)
        flash(request, _("验证码已发送到您的手机，5分钟内有效"))
        url = request.app.route_reverse("console.agreement.show")
        return redirect(request, f"{url}?sent=1#sign")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, errors)

    return await submit_form(request, submit, rerender)


@post("/agreement/{agreement_id:int}/sign", name="console.agreement.sign", opt=SIGN)
async def agreement_sign(request: Request, agreement_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        signing = parse_signing(
            data, client_address(request), request.headers.get("user-agent", "")
        )
        await sign_agreement(actor, agreement_id, signing)
        flash(request, _("协议已签署并生效"))
        return redirect_to(request, "console.agreement.show")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, errors, code_sent=True)

    return await submit_form(request, submit, rerender)


handlers = [agreement, agreement_code, agreement_sign]
