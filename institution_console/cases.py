"""The platform's monitoring cases about the institution or its products (A7): what was
found, the platform's decisions and reasons, and the institution's responses."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.monitoring.queries import institution_case, institution_cases
from marketplace.monitoring.services import respond
from marketplace.parsing import first
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

RESPOND = {"access": "staff", "permission": "monitoring.respond"}


@get("/cases", name="console.cases.list", opt=RESPOND)
async def case_list(request: Request) -> Response:
    cases = await institution_cases(await require_actor(request))
    return await render(request, "institution_console/cases.html", {"cases": cases}, nav="cases")


async def _case(request: Request, case_id: int, errors: dict, response: str = "") -> Response:
    case = await institution_case(await require_actor(request), case_id)
    return await render(
        request,
        "institution_console/case_detail.html",
        {"case": case, "errors": errors, "response": response},
        nav="cases",
    )


@get("/cases/{case_id:int}", name="console.cases.detail", opt=RESPOND)
async def case_page(request: Request, case_id: FromPath[int]) -> Response:
    return await _case(request, case_id, {})


@post("/cases/{case_id:int}", name="console.cases.respond", opt=RESPOND)
async def case_respond(request: Request, case_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await respond(actor, case_id, data.get("response"))
        flash(request, _("回复已提交，平台将据此处理"))
        return redirect_to(request, "console.cases.detail", case_id=case_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _case(request, case_id, errors, first(data.get("response")))

    return await submit_form(request, submit, rerender)


handlers = [case_list, case_page, case_respond]
