"""Webhooks: the institution admin's receiver endpoints (URL, events, enabled), secret
rotation (a secret is shown once), and the deliveries log with 重新投递."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.parsing import first, lenient, parse_int
from marketplace.webhooks.queries import (
    DeliveryFilters,
    deliveries,
    delivery,
    endpoint,
    endpoints,
    event_choices,
    status_choices,
)
from marketplace.webhooks.services import (
    create_endpoint,
    delete_endpoint,
    redeliver,
    rotate_secret,
    update_endpoint,
)
from marketplace.webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER
from server.auth import require_actor
from server.forms import FormData, as_list, query_choice, query_page, submit_form
from server.once import answer_once, form_key
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

MANAGE = {"access": "staff", "permission": "webhook.manage"}
DELIVERIES_PATH = "/console/webhooks/deliveries"
PER_PAGE = 50
HEADERS = {"signature": SIGNATURE_HEADER, "event": EVENT_HEADER, "delivery": DELIVERY_HEADER}


@get("/webhooks", name="console.webhooks.list", opt=MANAGE)
async def endpoint_list(request: Request) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/webhooks.html",
        {"endpoints": await endpoints(actor), "headers": HEADERS},
        nav="webhooks",
    )


def _values(data: FormData) -> dict[str, Any]:
    return {
        "url": first(data.get("url")),
        "description": first(data.get("description")),
        "events": as_list(data, "events"),
        "enabled": bool(data.get("enabled")),
        "form_key": form_key(data),
    }


async def _form(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    endpoint_id: int | None = None,
) -> Response:
    return await render(
        request,
        "institution_console/webhook_form.html",
        {
            "values": values,
            "errors": errors or {},
            "endpoint_id": endpoint_id,
            "events": event_choices(),
            # The create and rotate forms show a secret once (server/once.py).
            "form_key": values.get("form_key") or form_key(),
        },
        nav="webhooks",
    )


async def _secret_page(request: Request, endpoint_id: int, secret: str, created: bool) -> Response:
    """The one time the secret is shown: the answer to the POST itself, never a URL."""
    return await render(
        request,
        "institution_console/webhook_secret.html",
        {"endpoint_id": endpoint_id, "secret": secret, "created": created},
        nav="webhooks",
    )


@get("/webhooks/new", name="console.webhooks.new", opt=MANAGE)
async def new_form(request: Request) -> Response:
    await require_actor(request)
    return await _form(request, {"url": "", "description": "", "events": [], "enabled": True})


@post("/webhooks/new", name="console.webhooks.create", opt=MANAGE)
async def create(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        async def answer() -> Response:
            endpoint_id, secret = await create_endpoint(actor, data)
            return await _secret_page(request, endpoint_id, secret, created=True)

        return await answer_once(
            request,
            data,
            "webhook_create",
            answer,
            repeated=_(
                "这个表单已经提交过，没有再添加接收地址。密钥只显示一次；如未保存，请在接收地址页轮换密钥。"
            ),
            repeat_goes_to="console.webhooks.list",
        )

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _form(request, _values(data), errors)

    return await submit_form(request, submit, rerender)


@get("/webhooks/{endpoint_id:int}", name="console.webhooks.edit", opt=MANAGE)
async def edit_form(request: Request, endpoint_id: FromPath[int]) -> Response:
    return await _edit_page(request, endpoint_id)


async def _edit_page(
    request: Request, endpoint_id: int, errors: dict[str, str] | None = None
) -> Response:
    found = await endpoint(await require_actor(request), endpoint_id)
    values = {
        "url": found.url,
        "description": found.description,
        "events": list(found.events),
        "enabled": found.enabled,
        "rotating_until": found.rotating_until,
    }
    return await _form(request, values, errors, endpoint_id)


@post("/webhooks/{endpoint_id:int}", name="console.webhooks.update", opt=MANAGE)
async def update(request: Request, endpoint_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await update_endpoint(actor, endpoint_id, data)
        flash(request, _("接收地址已保存"))
        return redirect_to(request, "console.webhooks.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _form(request, _values(data), errors, endpoint_id)

    return await submit_form(request, submit, rerender)


@post("/webhooks/{endpoint_id:int}/delete", name="console.webhooks.delete", opt=MANAGE)
async def delete(request: Request, endpoint_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    await delete_endpoint(actor, endpoint_id)
    flash(request, _("接收地址已删除"))
    return redirect_to(request, "console.webhooks.list")


@post("/webhooks/{endpoint_id:int}/rotate", name="console.webhooks.rotate", opt=MANAGE)
async def rotate(request: Request, endpoint_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        async def answer() -> Response:
            secret = await rotate_secret(actor, endpoint_id)
            return await _secret_page(request, endpoint_id, secret, created=False)

        return await answer_once(
            request,
            data,
            "webhook_rotate",
            answer,
            repeated=_(
                "这个表单已经提交过，没有再次轮换。新密钥只在第一次提交后显示；如未保存，请再轮换一次。"
            ),
            repeat_goes_to="console.webhooks.edit",
            endpoint_id=endpoint_id,
        )

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _edit_page(request, endpoint_id, errors)

    return await submit_form(request, submit, rerender)


@get("/webhooks/deliveries", name="console.webhooks.deliveries", opt=MANAGE)
async def delivery_list(request: Request) -> Response:
    actor = await require_actor(request)
    own = await endpoints(actor)
    endpoint_id = lenient(parse_int, request.query_params.get("endpoint"), 0, minimum=1)
    filters = DeliveryFilters(
        endpoint_id=endpoint_id if any(e.id == endpoint_id for e in own) else None,
        event=query_choice(request, "event", [key for key, _label in event_choices()]),
        status=query_choice(request, "status", [key for key, _label in status_choices()]),
    )
    page = query_page(request)
    log = await deliveries(actor, filters, page=page, per_page=PER_PAGE)
    query = filters.as_query()
    return await render(
        request,
        "institution_console/webhook_deliveries.html",
        {
            "log": log,
            "filters": query,
            "endpoints": own,
            "events": event_choices(),
            "statuses": status_choices(),
            **pagination(DELIVERIES_PATH, query, page, log.total, PER_PAGE),
        },
        nav="webhooks",
    )


@get("/webhooks/deliveries/{delivery_id:int}", name="console.webhooks.delivery", opt=MANAGE)
async def delivery_detail(request: Request, delivery_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/webhook_delivery.html",
        {"detail": await delivery(actor, delivery_id)},
        nav="webhooks",
    )


@post(
    "/webhooks/deliveries/{delivery_id:int}/redeliver",
    name="console.webhooks.redeliver",
    opt=MANAGE,
)
async def redeliver_one(request: Request, delivery_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    if await redeliver(actor, delivery_id):
        flash(request, _("已安排重新投递"))
    else:
        flash(request, _("该投递仍在进行中，无需重新投递"), "info")
    return redirect_to(request, "console.webhooks.delivery", delivery_id=delivery_id)


handlers = [
    endpoint_list,
    new_form,
    create,
    edit_form,
    update,
    delete,
    rotate,
    delivery_list,
    delivery_detail,
    redeliver_one,
]
