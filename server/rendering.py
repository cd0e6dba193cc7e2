"""The one HTMX helper: full page or fragment, flashes, redirects after POST."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request, Response
from litestar.response import Redirect, Template

from marketplace.accounts.services import principal_view
from marketplace.inbox.queries import unread_count
from server.auth import current_actor
from server.sessions import flashes_of

IMPERSONAL_KEY = "lm_impersonal"


def audience_of(path: str) -> str:
    if path.startswith("/console"):
        return "console"
    if path.startswith("/admin"):
        return "admin"
    return "portal"


def fragment_wanted(headers: Mapping[str, str]) -> bool:
    """htmx swaps get the fragment; boosted and history-restore requests get full pages."""
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def wants_fragment(request: Request) -> bool:
    return fragment_wanted(request.headers)


def flash(request: Request, message: str, category: str = "success") -> None:
    flashes_of(request.scope).add(category, message)


async def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    fragment: str | None = None,
    status_code: int = 200,
    nav: str = "",
) -> Template:
    """Render `template`, or only `fragment` (a `_partial.html`) for htmx swaps."""
    actor = await current_actor(request)
    ctx: dict[str, Any] = {
        "audience": audience_of(request.url.path),
        "principal": principal_view(actor) if actor else None,
        "unread_notices": await unread_count(actor.user_id) if actor and actor.user_id else 0,
        "nav_active": nav,
        **(context or {}),
    }
    partial = fragment is not None and wants_fragment(request)
    if not partial:
        ctx["flashes"] = flashes_of(request.scope).take()
    if actor is None and not ctx.get("flashes"):
        # Nothing of this visitor's but the CSRF token: the page cache may keep the page.
        request.scope[IMPERSONAL_KEY] = True  # type: ignore[literal-required]
    return Template(
        template_name=fragment if partial and fragment else template,
        context=ctx,
        status_code=status_code,
        headers={"Vary": "HX-Request"},
    )


def redirect_to(request: Request, route_name: str, **path_params: object) -> Response:
    """303 to a named route, as a path: never an absolute URL built from the Host header."""
    return redirect(request, request.app.route_reverse(route_name, **path_params))


def redirect(request: Request, url: str) -> Response:
    """303 after a POST; an htmx request is told to navigate instead of swapping."""
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true":
        return Response(content=b"", status_code=200, headers={"HX-Redirect": url})
    return Redirect(path=url, status_code=303)
