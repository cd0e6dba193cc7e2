"""The signed-in staff member's own account (/console/me): who they are, and the mobile
number bound for SMS codes (signing the cooperation agreement), bound or changed with the
same flow as a borrower's phone (server/phone.py)."""

from __future__ import annotations

from litestar import Request, Response, get, post

from marketplace.accounts.queries import account_summary
from marketplace.actors import Actor
from marketplace.i18n import _
from server.auth import require_actor
from server.phone import PhonePage, phone_form
from server.rendering import flash, redirect, redirect_to, render

STAFF = {"access": "staff"}
# Where to go back to once the number is bound (`?next=`): only pages of our own.
NEXT_PAGES = {"agreement": "console.agreement.show"}


def _page(request: Request, next_page: str) -> PhonePage:
    async def page(values: dict[str, str], errors: dict[str, str], code_sent: bool) -> Response:
        actor = await require_actor(request)
        return await render(
            request,
            "institution_console/me.html",
            {
                "account": await account_summary(actor.user_id or 0),
                "values": values,
                "errors": errors,
                "code_sent": code_sent,
                "next_page": next_page,
            },
            nav="me",
        )

    return page


def _next(request: Request) -> str:
    value = request.query_params.get("next", "")
    return value if value in NEXT_PAGES else ""


@get("/me", name="console.me", opt=STAFF)
async def me(request: Request) -> Response:
    return await _page(request, _next(request))({}, {}, False)


@post("/me/mobile", name="console.me.mobile", opt=STAFF)
async def bind_mobile(request: Request) -> Response:
    next_page = _next(request)

    async def changed(actor: Actor) -> Response:
        flash(request, _("手机号已绑定，签署协议等验证码将发送到该号码"))
        if next_page:
            return redirect(request, request.app.route_reverse(NEXT_PAGES[next_page]))
        return redirect_to(request, "console.me")

    return await phone_form(request, _page(request, next_page), changed=changed)


handlers = [me, bind_mobile]
