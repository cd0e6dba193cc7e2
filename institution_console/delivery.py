"""Delivery settings (I6): lead caps, the monthly budget and filters on what leads to
receive, with this month's usage and spend under the agreement in force."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from litestar import Request, Response, get, post

from marketplace.cities import canonical_or_same, recognised_cities
from marketplace.delivery.queries import delivery_page, employment_choices
from marketplace.delivery.rules import Limits
from marketplace.delivery.services import parse_limits, save_delivery_settings
from marketplace.i18n import _
from marketplace.parsing import first
from server.auth import require_actor
from server.forms import FormData, as_list, submit_form
from server.rendering import flash, redirect_to, render

MANAGE = {"access": "staff", "permission": "delivery.manage"}
FIELDS = (
    "daily_lead_cap",
    "monthly_lead_cap",
    "monthly_budget",
    "cities",
    "amount_min",
    "amount_max",
    "min_monthly_income",
)


def _plain(value: int | Decimal | None) -> str:
    return "" if value is None else f"{value:f}" if isinstance(value, Decimal) else str(value)


def _values(limits: Limits) -> dict[str, Any]:
    values: dict[str, Any] = {
        key: _plain(getattr(limits, key)) for key in FIELDS if key != "cities"
    }
    values["cities"] = [canonical_or_same(city) for city in limits.cities]
    values["employment_types"] = list(limits.employment_types)
    return values


async def _page(request: Request, values: Mapping[str, Any] | None, errors: dict) -> Response:
    actor = await require_actor(request)
    page = await delivery_page(actor, datetime.now(UTC))
    return await render(
        request,
        "institution_console/delivery.html",
        {
            "page": page,
            "values": values if values is not None else _values(page.limits),
            "errors": errors,
            "employment_types": employment_choices(),
        },
        nav="delivery",
    )


@get("/delivery", name="console.delivery.show", opt=MANAGE)
async def delivery(request: Request) -> Response:
    return await _page(request, None, {})


@post("/delivery", name="console.delivery.save", opt=MANAGE)
async def delivery_save(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        version = await save_delivery_settings(actor, parse_limits(data))
        flash(request, _("接收设置已保存（第 %(n)s 版），即时生效", n=version))
        return redirect_to(request, "console.delivery.show")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values: dict[str, Any] = {key: first(data.get(key)) for key in FIELDS}
        values["employment_types"] = as_list(data, "employment_types")
        values["cities"] = recognised_cities(data.get("cities"))
        return await _page(request, values, errors)

    return await submit_form(request, submit, rerender)


handlers = [delivery, delivery_save]
