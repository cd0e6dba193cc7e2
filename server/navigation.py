"""Which pages the signed-in user may open, so templates show only links they can use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import pass_context


@pass_context
def may_open(ctx: Mapping[str, Any], route_name: str) -> bool:
    """True when the route's guard (server.auth.access_guard) would let the principal in.

    Reads the route's own `opt`, so a link is gated on exactly the access level and
    permission its page checks; an unknown route name is a template bug and raises."""
    index = ctx["request"].app.get_handler_index_by_name(route_name)
    if index is None:
        raise LookupError(f"no route named {route_name!r}")
    opt = index["handler"].opt
    if opt.get("access") == "public":
        return True
    principal = ctx.get("principal")
    if not principal or principal["kind"] != opt.get("access"):
        return False
    permission = opt.get("permission")
    return not permission or permission in principal["permissions"]
