"""System parameters (PRODUCT.md A3): every operator may read them; the super admin changes
one at a time, with a reason — validated against its spec, versioned and audited."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.parameters.queries import parameter, parameter_groups, parameter_history
from marketplace.parameters.services import change_parameter, parse_change
from marketplace.parsing import first, lenient, parse_int
from server.auth import require_actor
from server.forms import FormData, query_page, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

VIEW = {"access": "operator", "permission": "parameter.view"}
MANAGE = {"access": "operator", "permission": "parameter.manage"}
PER_PAGE = 50
MAX_VERSION = 2_000_000_000


@get("/parameters", name="admin.parameters.list", opt=VIEW)
async def parameters_list(request: Request) -> Response:
    return await render(
        request, "admin/parameters.html", {"groups": await parameter_groups()}, nav="parameters"
    )


@get("/parameters/history", name="admin.parameters.history", opt=VIEW)
async def parameters_history(request: Request) -> Response:
    page = query_page(request)
    changes, total = await parameter_history(page=page, per_page=PER_PAGE)
    return await render(
        request,
        "admin/parameter_history.html",
        {
            "changes": changes,
            "total": total,
            **pagination("/admin/parameters/history", {}, page, total, PER_PAGE),
        },
        nav="parameters",
    )


async def _detail_page(
    request: Request, key: str, errors: dict[str, str] | None = None, data: FormData | None = None
) -> Response:
    row = await parameter(key)
    changes, total = await parameter_history(key, per_page=PER_PAGE)
    return await render(
        request,
        "admin/parameter_detail.html",
        {
            "p": row,
            "changes": changes,
            "total": total,
            "errors": errors or {},
            "value": first(data.get("value")) if data else row.value_text,
            "reason": first(data.get("reason")) if data else "",
            "version": first(data.get("version")) if data else row.version,
        },
        nav="parameters",
    )


@get("/parameters/{key:str}", name="admin.parameters.detail", opt=VIEW)
async def parameter_detail(request: Request, key: FromPath[str]) -> Response:
    return await _detail_page(request, key)


@post("/parameters/{key:str}", name="admin.parameters.update", opt=MANAGE)
async def parameter_update(request: Request, key: FromPath[str]) -> Response:
    actor = await require_actor(request)
    await parameter(key)  # an unknown key is a 404, not a form error

    async def submit(data: FormData) -> Response:
        value, reason = parse_change(key, first(data.get("value")), first(data.get("reason")))
        seen = lenient(parse_int, data.get("version"), -1, minimum=0, maximum=MAX_VERSION)
        version = await change_parameter(actor, key, value, reason=reason, expected_version=seen)
        flash(request, _("参数已修改为第 {n} 版，立即生效", n=version))
        return redirect_to(request, "admin.parameters.detail", key=key)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail_page(request, key, errors, data)

    return await submit_form(request, submit, rerender)


handlers = [parameters_list, parameters_history, parameter_detail, parameter_update]
