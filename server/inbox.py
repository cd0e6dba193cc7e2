"""The in-site notification inbox, the same for every audience (mounted like the login
pages): a paged list, "open" (marks read and follows the notice's link) and mark-all-read."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from marketplace.inbox.queries import PAGE_SIZE, inbox
from marketplace.inbox.services import mark_all_read, open_item
from server.auth import require_actor
from server.forms import query_page
from server.pagination import pagination
from server.rendering import redirect, redirect_to, render


def inbox_handlers(
    audience: str, access: str, home_route: str, base: str = "/notifications"
) -> list[HTTPRouteHandler]:
    opt = {"access": access}

    @get(base, name=f"{audience}.inbox", opt=opt)
    async def inbox_page(request: Request) -> Response:
        actor = await require_actor(request)
        page = query_page(request)
        result = await inbox(actor, page)
        return await render(
            request,
            "components/inbox.html",
            {
                "inbox": result,
                "home_route": home_route,
                "audience_prefix": audience,
                **pagination(request.url.path, {}, page, result.total, PAGE_SIZE),
            },
        )

    @get(base + "/{item_id:int}", name=f"{audience}.inbox.open", opt=opt)
    async def open_notice(request: Request, item_id: FromPath[int]) -> Response:
        link = await open_item(await require_actor(request), item_id)
        return redirect(request, link or request.app.route_reverse(f"{audience}.inbox"))

    @post(base + "/read", name=f"{audience}.inbox.read_all", opt=opt)
    async def read_all(request: Request) -> Response:
        await mark_all_read(await require_actor(request))
        return redirect_to(request, f"{audience}.inbox")

    return [inbox_page, open_notice, read_all]
