"""Withdrawn consents the institution must act on: delete what it holds on that borrower
by the deadline and confirm it here (who and when are audited)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.consents.queries import institution_deletions
from marketplace.consents.services import confirm_deletion
from marketplace.i18n import _
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

CONFIRM = {"access": "staff", "permission": "consent.confirm_deletion"}


async def _page(request: Request, errors: dict[str, str] | None = None) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/consents.html",
        {"deletions": await institution_deletions(actor), "errors": errors or {}},
        nav="consents",
    )


@get("/consents", name="console.consents.list", opt=CONFIRM)
async def deletion_list(request: Request) -> Response:
    return await _page(request)


@post("/consents/{withdrawal_id:int}/confirm", name="console.consents.confirm", opt=CONFIRM)
async def deletion_confirm(request: Request, withdrawal_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await confirm_deletion(actor, withdrawal_id)
        flash(request, _("已确认删除，记录已存档"))
        return redirect_to(request, "console.consents.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, errors)

    return await submit_form(request, submit, rerender)


handlers = [deletion_list, deletion_confirm]
