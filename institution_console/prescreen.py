"""Pre-screen rules (PRODUCT.md I4): edit a draft, publish it, look at earlier versions and
preview what a version would have done to the latest leads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.parsing import FormReader, first, parse_choice, parse_int
from marketplace.prescreen.queries import PREVIEW_LEADS, prescreen_page, preview, rule_set
from marketplace.prescreen.services import (
    add_hard_filter,
    add_score_rule,
    publish,
    remove_rule,
    retire,
    set_threshold,
    start_draft,
)
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

MANAGE = {"access": "staff", "permission": "prescreen.manage"}


async def _page(
    request: Request, errors: dict[str, str] | None = None, values: Mapping[str, Any] | None = None
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/prescreen.html",
        {"page": await prescreen_page(actor), "errors": errors or {}, "values": values or {}},
        nav="prescreen",
    )


@get("/prescreen", name="console.prescreen.index", opt=MANAGE)
async def prescreen_index(request: Request) -> Response:
    return await _page(request)


def _typed(data: FormData) -> dict[str, str]:
    """What was typed into the page's forms, to show it again with the errors."""
    return {key: first(value) for key, value in data.items()}


async def _edit(
    request: Request, change: Callable[[FormData], Awaitable[object]], done: str
) -> Response:
    """Run one edit of the rules; a rule it breaks re-renders the page with the typed values."""

    async def submit(data: FormData) -> Response:
        await change(data)
        flash(request, done)
        return redirect_to(request, "console.prescreen.index")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, errors, _typed(data))

    return await submit_form(request, submit, rerender)


@post("/prescreen/drafts", name="console.prescreen.start_draft", opt=MANAGE)
async def prescreen_start_draft(request: Request) -> Response:
    actor = await require_actor(request)
    return await _edit(request, lambda data: start_draft(actor), _("已打开草稿，可以修改规则"))


@post("/prescreen/{rule_set_id:int}/filters", name="console.prescreen.add_filter", opt=MANAGE)
async def prescreen_add_filter(request: Request, rule_set_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return await _edit(
        request, lambda data: add_hard_filter(actor, rule_set_id, data), _("已添加硬性条件")
    )


@post("/prescreen/{rule_set_id:int}/scores", name="console.prescreen.add_score", opt=MANAGE)
async def prescreen_add_score(request: Request, rule_set_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return await _edit(
        request, lambda data: add_score_rule(actor, rule_set_id, data), _("已添加评分项")
    )


@post("/prescreen/{rule_set_id:int}/threshold", name="console.prescreen.threshold", opt=MANAGE)
async def prescreen_threshold(request: Request, rule_set_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return await _edit(
        request, lambda data: set_threshold(actor, rule_set_id, data), _("已保存最低分")
    )


@post("/prescreen/{rule_set_id:int}/remove", name="console.prescreen.remove", opt=MANAGE)
async def prescreen_remove(request: Request, rule_set_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def change(data: FormData) -> None:
        form = FormReader(data)
        kind = form.field("kind", parse_choice, "", choices=("filter", "score"), label=_("规则"))
        index = form.field("index", parse_int, 0, label=_("规则序号"), maximum=1000)
        form.raise_errors()
        await remove_rule(actor, rule_set_id, kind, index)

    return await _edit(request, change, _("已删除该规则"))


@post("/prescreen/{rule_set_id:int}/publish", name="console.prescreen.publish", opt=MANAGE)
async def prescreen_publish(request: Request, rule_set_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return await _edit(
        request,
        lambda data: publish(actor, rule_set_id),
        _("草稿已发布并生效，新收到的线索将按它评分"),
    )


@post("/prescreen/{rule_set_id:int}/retire", name="console.prescreen.retire", opt=MANAGE)
async def prescreen_retire(request: Request, rule_set_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return await _edit(
        request,
        lambda data: retire(actor, rule_set_id),
        _("已停用，新收到的线索不再评分，直到发布新的版本"),
    )


@get("/prescreen/{rule_set_id:int}", name="console.prescreen.version", opt=MANAGE)
async def prescreen_version(request: Request, rule_set_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/prescreen_version.html",
        {"rule_set": await rule_set(actor, rule_set_id)},
        nav="prescreen",
    )


@get("/prescreen/{rule_set_id:int}/preview", name="console.prescreen.preview", opt=MANAGE)
async def prescreen_preview(request: Request, rule_set_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/prescreen_preview.html",
        {"preview": await preview(actor, rule_set_id), "limit": PREVIEW_LEADS},
        nav="prescreen",
    )


handlers = [
    prescreen_index,
    prescreen_start_draft,
    prescreen_add_filter,
    prescreen_add_score,
    prescreen_threshold,
    prescreen_remove,
    prescreen_publish,
    prescreen_retire,
    prescreen_version,
    prescreen_preview,
]
