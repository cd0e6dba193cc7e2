"""Product categories (PRODUCT.md A6): operators rename, reorder and hide them; codes,
which products and filter URLs store, never change."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.categories.queries import all_categories
from marketplace.categories.services import update_category
from marketplace.categories.tables import ProductCategory
from marketplace.i18n import _
from marketplace.parsing import FormReader, column_length, first, parse_int, parse_text
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

MANAGE = {"access": "operator", "permission": "catalogue.manage"}
MAX_POSITION = 99


async def _page(
    request: Request, errors: dict[str, str], failed: str = "", values: dict[str, str] | None = None
) -> Response:
    return await render(
        request,
        "admin/categories.html",
        {
            "categories": await all_categories(),
            "errors": errors,
            "failed": failed,
            "values": values or {},
        },
        nav="categories",
    )


@get("/categories", name="admin.categories.list", opt=MANAGE)
async def categories(request: Request) -> Response:
    return await _page(request, {})


@post("/categories/{code:str}", name="admin.categories.update", opt=MANAGE)
async def update(request: Request, code: FromPath[str]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        form = FormReader(data)
        name = form.field(
            "name",
            parse_text,
            "",
            label=_("类别名称"),
            max_length=column_length(ProductCategory.name),
        )
        position = form.field(
            "position", parse_int, 0, label=_("顺序"), minimum=1, maximum=MAX_POSITION
        )
        form.raise_errors()
        await update_category(
            actor, code, name=name, position=position, active=bool(first(data.get("active")))
        )
        flash(request, _("类别已保存，立即生效"))
        return redirect_to(request, "admin.categories.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, errors, code, {k: first(v) for k, v in data.items()})

    return await submit_form(request, submit, rerender)


handlers = [categories, update]
