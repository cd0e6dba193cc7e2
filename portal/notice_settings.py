"""The notification centre's SMS settings (/me/notifications/settings): which kinds of
notice also come by SMS. Every notice is shown in-site whatever is chosen here."""

from __future__ import annotations

from litestar import Request, Response, get, post

from marketplace.i18n import _
from marketplace.notifications.queries import sms_settings
from marketplace.notifications.services import set_sms_preferences
from server.auth import require_actor
from server.forms import FormData, as_list, submit_form
from server.rendering import flash, redirect_to, render

BORROWER = {"access": "borrower"}
# More ticks than there are kinds is no honest form.
MAX_TICKS = 10


async def _page(request: Request, errors: dict[str, str], ticked: list[str] | None) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/notice_settings.html",
        {"settings": await sms_settings(actor.user_id or 0), "errors": errors, "ticked": ticked},
        nav="me",
    )


@get("/me/notifications/settings", name="portal.me.notice_settings", opt=BORROWER)
async def settings_page(request: Request) -> Response:
    return await _page(request, {}, None)


@post("/me/notifications/settings", name="portal.me.notice_settings_save", opt=BORROWER)
async def settings_save(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await set_sms_preferences(actor, as_list(data, "sms")[:MAX_TICKS])
        flash(request, _("短信通知设置已保存"))
        return redirect_to(request, "portal.me.notice_settings")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, errors, as_list(data, "sms")[:MAX_TICKS])

    return await submit_form(request, submit, rerender)


handlers = [settings_page, settings_save]
