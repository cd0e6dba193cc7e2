"""Who is asking: sessions → actors, the deny-by-default guard, client addresses."""

from __future__ import annotations

import ipaddress
import secrets

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from marketplace.accounts.role_matrix import ensure_fresh, register_route_permissions
from marketplace.accounts.services import actor_for
from marketplace.actors import Actor
from marketplace.errors import DomainError
from marketplace.settings import settings
from server.device import device_id
from server.sessions import SCOPE_KEY, session_of, stamp_device

ACCESS_LEVELS = frozenset({"public", "borrower", "staff", "operator"})
_ACTOR_KEY = "lm_actor"


def client_address(connection: ASGIConnection) -> str:
    """The peer address; X-Forwarded-For is believed only from a configured proxy, so a
    client cannot pick its own address to dodge the failed-login limit."""
    peer = connection.client.host if connection.client else "unknown"
    if peer not in settings.trusted_proxies:
        return peer
    forwarded = connection.headers.get("x-forwarded-for", "")
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if hop not in settings.trusted_proxies:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


def request_id(connection: ASGIConnection) -> str:
    state = connection.state
    if "lm_request_id" not in state:
        state["lm_request_id"] = secrets.token_hex(8)
    return state["lm_request_id"]


async def current_actor(connection: ASGIConnection) -> Actor | None:
    state = connection.state
    if _ACTOR_KEY in state:
        return state[_ACTOR_KEY]
    session = session_of(connection.scope)
    actor = None
    if user_id := session.get("uid"):
        # Once per signed-in request: permissions as the super admin last left the matrix.
        await ensure_fresh(session.matrix_stamp)
        try:
            actor = (await actor_for(int(user_id))).with_request(
                client_address(connection), request_id(connection), device_id(connection)
            )
        except DomainError:
            session.clear()
    state[_ACTOR_KEY] = actor
    return actor


def sign_in(connection: ASGIConnection, actor: Actor) -> None:
    session = session_of(connection.scope)
    session.clear()
    session.rotate()
    session["uid"] = actor.user_id
    session["kind"] = actor.kind
    stamp_device(session, connection.headers.get("user-agent", ""), client_address(connection))
    connection.state[_ACTOR_KEY] = actor


def sign_out(connection: ASGIConnection) -> None:
    session_of(connection.scope).clear()
    connection.state[_ACTOR_KEY] = None


async def access_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Every route declares `opt={"access": ...}`; a route that does not is refused."""
    access = handler.opt.get("access")
    if access not in ACCESS_LEVELS:
        raise PermissionDeniedException("route declares no access level")
    if access == "public":
        # Loaded for public pages too (static files have no session), so an error page
        # they raise (a 404) still shows who is signed in: exception handlers cannot await.
        if SCOPE_KEY in connection.scope:
            await current_actor(connection)
        return
    actor = await current_actor(connection)
    if actor is None or actor.kind != access:
        raise NotAuthorizedException()
    permission = handler.opt.get("permission")
    if permission and not actor.can(permission):
        raise PermissionDeniedException()


def register_route_permissions_of(app: Litestar) -> None:
    """Tell the role matrix which permissions the routes check, so the super admin can
    grant exactly those (and the ones the shipped roles hold), never a made-up code."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if permission := handler.opt.get("permission"):
                register_route_permissions(handler.opt.get("access", ""), [permission])


def loaded_actor(connection: ASGIConnection) -> Actor | None:
    """The actor if this request has already loaded it: exception handlers cannot await,
    and the access guard has loaded it before any handler could raise."""
    return connection.state.get(_ACTOR_KEY)


async def require_actor(connection: ASGIConnection) -> Actor:
    actor = await current_actor(connection)
    if actor is None:
        raise NotAuthorizedException()
    return actor
