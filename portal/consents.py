"""The consent ledger (PRODUCT.md P7, §6.2) at /me/consents: every institution that holds
or may receive the borrower's data, withdrawal in one click (confirmed on its own page, so
it works without JavaScript), and a copy of everything held on the borrower (PIPL art. 45)."""

from __future__ import annotations

import json

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.consents.queries import (
    borrower_exports,
    consented_notice,
    ledger,
    ledger_entry,
)
from marketplace.consents.services import issue_export_link, request_export, take_export
from marketplace.i18n import _
from marketplace.offers.services import withdraw_consents_to
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect, render

LEDGER = {"access": "borrower", "permission": "consent.withdraw"}
EXPORT = {"access": "borrower", "permission": "data.export"}
NO_STORE = {"Cache-Control": "no-store"}


async def _ledger_page(request: Request, errors: dict[str, str] | None = None) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/consents.html",
        {
            "entries": await ledger(actor),
            "exports": await borrower_exports(actor),
            "errors": errors or {},
        },
        nav="consents",
    )


@get("/me/consents", name="portal.consents.list", opt=LEDGER)
async def consent_list(request: Request) -> Response:
    return await _ledger_page(request)


@get("/me/consents/notices/{consent_id:int}", name="portal.consents.notice", opt=LEDGER)
async def consent_notice(request: Request, consent_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/consent_notice.html",
        {"notice": await consented_notice(actor, consent_id)},
        nav="consents",
    )


async def _withdraw_page(request: Request, institution_id: int, errors: dict[str, str]) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/consent_withdraw.html",
        {"entry": await ledger_entry(actor, institution_id), "errors": errors},
        nav="consents",
    )


@get(
    "/me/consents/{institution_id:int}/withdraw",
    name="portal.consents.withdraw_confirm",
    opt=LEDGER,
)
async def withdraw_confirm(request: Request, institution_id: FromPath[int]) -> Response:
    return await _withdraw_page(request, institution_id, {})


@post("/me/consents/{institution_id:int}/withdraw", name="portal.consents.withdraw", opt=LEDGER)
async def withdraw(request: Request, institution_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await withdraw_consents_to(actor, institution_id)
        flash(request, _("授权已撤回：该机构从现在起不会再获得您的任何信息，并须删除已持有的信息"))
        return redirect(request, request.app.route_reverse("portal.consents.list"))

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _withdraw_page(request, institution_id, errors)

    return await submit_form(request, submit, rerender)


@post("/me/data/export", name="portal.consents.export", opt=EXPORT)
async def export_request(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await request_export(actor)
        flash(request, _("已开始生成您的个人信息副本，完成后会通过站内消息通知您"))
        url = request.app.route_reverse("portal.consents.list")
        return redirect(request, f"{url}#data-export")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _ledger_page(request, errors)

    return await submit_form(request, submit, rerender)


@post("/me/data/exports/{export_id:int}/link", name="portal.consents.export_link", opt=EXPORT)
async def export_link(request: Request, export_id: FromPath[int]) -> Response:
    """The link is shown on this page only: the token is never stored in the clear."""
    actor = await require_actor(request)
    token = await issue_export_link(actor, export_id)
    response = await render(
        request, "portal/data_export_link.html", {"token": token}, nav="consents"
    )
    response.headers.update(NO_STORE)
    return response


@get("/me/data/download/{token:str}", name="portal.consents.download", opt=EXPORT)
async def export_download(request: Request, token: FromPath[str]) -> Response:
    """Once: the JSON file (?format=json) or the readable page, whichever is opened first."""
    actor = await require_actor(request)
    content = await take_export(actor, token)
    if request.query_params.get("format") == "json":
        return Response(
            content=content,
            media_type="application/json; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="loanmart-my-data.json"',
                **NO_STORE,
            },
        )
    response = await render(
        request,
        "portal/data_export.html",
        {"data": json.loads(content), "raw": content.decode("utf-8")},
        nav="consents",
    )
    response.headers.update(NO_STORE)
    return response


handlers = [
    consent_list,
    consent_notice,
    withdraw_confirm,
    withdraw,
    export_request,
    export_link,
    export_download,
]
