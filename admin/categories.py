"""Product categories (PRODUCT.md A6): operators create, rename, reorder and hide them;
codes, which products and filter URLs store, never change once created."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.categories.defaults import CODE_MAX_LENGTH
from marketplace.categories.queries import all_categories
from marketplace.categories.services import create_category, update_category
from marketplace.categories.tables import ProductCategory
from marketplace.i18n import _
from marketplace.parsing import FormReader, column_length, first, parse_int, parse_text
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

MANAGE = {"access": "operator", "permission": "catalogue.manage"}
MAX_POSITION = 99
NEW = "__new__"  # `failed` when the creation form was refused


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
            "new": NEW,
            "code_max_length": CODE_MAX_LENGTH,
        },
        nav="categories",
    )


@get("/categories", name="admin.categories.list", opt=MANAGE)
async def categories(request: Request) -> Response:
    return await _page(request, {})


def _settings(form: FormReader) -> tuple[str, int]:
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
    return name, position


async def _save(
    request: Request, failed: str, save: Callable[[FormData], Awaitable[None]]
) -> Response:
    """Run `save` on the posted form; refused, the page again with what was typed."""

    async def submit(data: FormData) -> Response:
        await save(data)
        flash(request, _("类别已保存，立即生效"))
        return redirect_to(request, "admin.categories.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, errors, failed, {k: first(v) for k, v in data.items()})

    return await submit_form(request, submit, rerender)


@post("/categories", name="admin.categories.create", opt=MANAGE)
async def create(request: Request) -> Response:
    actor = await require_actor(request)

    async def save(data: FormData) -> None:
        form = FormReader(data)
        code = form.field("code", parse_text, "", label=_("类别代码"), max_length=CODE_MAX_LENGTH)
        name, position = _settings(form)
        form.raise_errors()
        active = bool(first(data.get("active")))
        await create_category(actor, code, name=name, position=position, active=active)

    return await _save(request, NEW, save)


@post("/categories/{code:str}", name="admin.categories.update", opt=MANAGE)
async def update(request: Request, code: FromPath[str]) -> Response:
    actor = await require_actor(request)

    async def save(data: FormData) -> None:
        form = FormReader(data)
        name, position = _settings(form)
        form.raise_errors()
        active = bool(first(data.get("active")))
        await update_category(actor, code, name=name, position=position, active=active)

    return await _save(request, code, save)


handlers = [categories, create, update]
