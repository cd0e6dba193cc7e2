"""Staff's side of a lead's message thread with the borrower."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.messages.queries import MESSAGE_TEMPLATES, message_templates, template_body
from marketplace.messages.services import open_staff_thread, post_staff_message
from marketplace.parsing import first
from server.auth import require_actor
from server.forms import FormData, query_choice, submit_form
from server.rendering import flash, redirect_to, render

VIEW = {"access": "staff", "permission": "lead.view"}
WORK = {"access": "staff", "permission": "lead.work"}


async def _page(
    request: Request, application_id: int, body: str, errors: dict[str, str] | None = None
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/messages.html",
        {
            "thread": await open_staff_thread(actor, application_id),
            "templates": message_templates(),
            "body": body,
            "errors": errors or {},
        },
        fragment="institution_console/_messages.html",
        nav="leads",
    )


@get("/leads/{application_id:int}/messages", name="console.messages.thread", opt=VIEW)
async def thread_page(request: Request, application_id: FromPath[int]) -> Response:
    # ?template=… starts the reply from one of the prepared texts (works without JavaScript).
    key = query_choice(request, "template", MESSAGE_TEMPLATES)
    return await _page(request, application_id, template_body(key))


@post("/leads/{application_id:int}/messages", name="console.messages.post", opt=WORK)
async def thread_post(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await post_staff_message(actor, application_id, data.get("body"))
        flash(request, _("消息已发送"))
        return redirect_to(request, "console.messages.thread", application_id=application_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, application_id, first(data.get("body")), errors)

    return await submit_form(request, submit, rerender)


handlers = [thread_page, thread_post]
