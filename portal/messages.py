"""The borrower's side of an application's message thread with the institution."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.messages.services import open_borrower_thread, post_borrower_message
from marketplace.parsing import first
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

BORROWER = {"access": "borrower"}


async def _page(
    request: Request, reference: str, body: str = "", errors: dict[str, str] | None = None
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/messages.html",
        {
            "thread": await open_borrower_thread(actor, reference),
            "body": body,
            "errors": errors or {},
        },
        fragment="portal/_messages.html",
        nav="applications",
    )


@get("/me/applications/{reference:str}/messages", name="portal.messages.thread", opt=BORROWER)
async def thread_page(request: Request, reference: FromPath[str]) -> Response:
    return await _page(request, reference)


@post("/me/applications/{reference:str}/messages", name="portal.messages.post", opt=BORROWER)
async def thread_post(request: Request, reference: FromPath[str]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await post_borrower_message(actor, reference, data.get("body"))
        flash(request, _("消息已发送"))
        return redirect_to(request, "portal.messages.thread", reference=reference)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, reference, first(data.get("body")), errors)

    return await submit_form(request, submit, rerender)


handlers = [thread_page, thread_post]
