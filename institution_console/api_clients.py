"""Open API clients of the institution (PRODUCT.md I6): create one with its scopes (the
secret is shown once, on the answer to the POST, and never again), revoke one."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.api_clients.queries import institution_clients
from marketplace.api_clients.scopes import SCOPES
from marketplace.api_clients.services import (
    MANAGE_PERMISSION,
    NewClient,
    create_client,
    parse_client_form,
    revoke_client,
)
from marketplace.i18n import _
from marketplace.parsing import first
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.once import answer_once, form_key
from server.rendering import flash, redirect_to, render

MANAGE = {"access": "staff", "permission": MANAGE_PERMISSION}


async def _page(
    request: Request,
    values: FormData | None = None,
    errors: dict[str, str] | None = None,
    created: NewClient | None = None,
) -> Response:
    actor = await require_actor(request)
    values = values or {}
    chosen = values.get("scopes", [])
    return await render(
        request,
        "institution_console/api_clients.html",
        {
            "clients": await institution_clients(actor),
            "scopes": {scope: _(label) for scope, label in SCOPES.items()},
            "values": {
                "name": first(values.get("name")),
                "scopes": chosen if isinstance(chosen, list) else [chosen],
            },
            "errors": errors or {},
            "created": created,
            "form_key": form_key(values),
        },
        nav="api_clients",
    )


@get("/api-clients", name="console.api_clients.list", opt=MANAGE)
async def client_list(request: Request) -> Response:
    return await _page(request)


@post("/api-clients", name="console.api_clients.create", opt=MANAGE)
async def client_create(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        async def answer() -> Response:
            created = await create_client(actor, parse_client_form(data))
            # Rendered, not redirected: the secret must not travel through a session or URL.
            return await _page(request, created=created)

        return await answer_once(
            request,
            data,
            "api_client",
            answer,
            repeated=_(
                "这个表单已经提交过，没有再建客户端。密钥只在创建时显示一次；如未保存，请吊销该客户端后重新创建。"
            ),
            repeat_goes_to="console.api_clients.list",
        )

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, data, errors)

    return await submit_form(request, submit, rerender)


@post("/api-clients/{client_pk:int}/revoke", name="console.api_clients.revoke", opt=MANAGE)
async def client_revoke(request: Request, client_pk: FromPath[int]) -> Response:
    await revoke_client(await require_actor(request), client_pk)
    flash(request, _("客户端已吊销，其访问令牌立即失效"))
    return redirect_to(request, "console.api_clients.list")


handlers = [client_list, client_create, client_revoke]
