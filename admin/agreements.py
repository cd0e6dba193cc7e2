"""Cooperation agreements (PRODUCT.md A5): every institution's versions with filters, one
version with its text and signature, offering a new version, withdrawing an offer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.agreements.queries import (
    AgreementFilters,
    agreement_detail,
    agreement_list,
    institution_options,
    pricing_choices,
    status_choices,
)
from marketplace.agreements.services import (
    offer_agreement,
    parse_agreement_input,
    today_shanghai,
    withdraw_agreement,
)
from marketplace.i18n import _
from marketplace.parsing import first
from server.auth import require_actor
from server.forms import FormData, query_choice, query_int, query_page, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

MANAGE = {"access": "operator", "permission": "agreement.manage"}
LIST_PATH = "/admin/agreements"
PER_PAGE = 50
FIELDS = (
    "institution",
    "pricing_model",
    "rate",
    "monthly_unit_cap",
    "monthly_fee_cap",
    "valid_from",
    "valid_to",
)


@get("/agreements", name="admin.agreements.list", opt=MANAGE)
async def agreements(request: Request) -> Response:
    actor = await require_actor(request)
    filters = AgreementFilters(
        institution_id=query_int(request, "institution", 0) or None,
        status=query_choice(request, "status", [key for key, _label in status_choices()]),
        pricing_model=query_choice(request, "model", [key for key, _label in pricing_choices()]),
    )
    page = query_page(request)
    listing = await agreement_list(actor, filters, page=page, per_page=PER_PAGE)
    query = {
        "institution": filters.institution_id or "",
        "status": filters.status,
        "model": filters.pricing_model,
    }
    return await render(
        request,
        "admin/agreements.html",
        {
            "listing": listing,
            "filters": filters,
            "statuses": status_choices(),
            "models": pricing_choices(),
            **pagination(LIST_PATH, query, page, listing.total, PER_PAGE),
        },
        nav="agreements",
    )


async def _form(request: Request, values: Mapping[str, Any], errors: dict[str, str]) -> Response:
    return await render(
        request,
        "admin/agreement_form.html",
        {
            "values": values,
            "errors": errors,
            "institutions": await institution_options(),
            "models": pricing_choices(),
        },
        nav="agreements",
    )


@get("/agreements/new", name="admin.agreements.new", opt=MANAGE)
async def new_agreement(request: Request) -> Response:
    today = today_shanghai()
    values = {
        "institution": str(query_int(request, "institution", 0) or ""),
        "pricing_model": "cpl",
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=364)).isoformat(),
    }
    return await _form(request, values, {})


@post("/agreements/new", name="admin.agreements.create", opt=MANAGE)
async def create_agreement(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        agreement_id = await offer_agreement(actor, parse_agreement_input(data))
        flash(request, _("协议已发给机构，待机构管理员签署"))
        return redirect_to(request, "admin.agreements.detail", agreement_id=agreement_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _form(request, {key: first(data.get(key)) for key in FIELDS}, errors)

    return await submit_form(request, submit, rerender)


async def _detail(request: Request, agreement_id: int, errors: dict[str, str]) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "admin/agreement_detail.html",
        {"detail": await agreement_detail(actor, agreement_id), "errors": errors},
        nav="agreements",
    )


@get("/agreements/{agreement_id:int}", name="admin.agreements.detail", opt=MANAGE)
async def agreement(request: Request, agreement_id: FromPath[int]) -> Response:
    return await _detail(request, agreement_id, {})


@post("/agreements/{agreement_id:int}/withdraw", name="admin.agreements.withdraw", opt=MANAGE)
async def withdraw(request: Request, agreement_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await withdraw_agreement(actor, agreement_id)
        flash(request, _("已撤回该协议版本"))
        return redirect_to(request, "admin.agreements.detail", agreement_id=agreement_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(request, agreement_id, errors)

    return await submit_form(request, submit, rerender)


handlers = [agreements, new_agreement, create_agreement, agreement, withdraw]
