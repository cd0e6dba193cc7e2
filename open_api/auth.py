"""Who is calling the API: the bearer token (RFC 6750, parsed by Authlib) → the client's
principal, its scope checked per route, and the per-client rate limit."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from marketplace.actors import Actor
from marketplace.api_clients.services import ApiPrincipal, check_rate, principal_for_token
from server.auth import client_address, request_id

_PRINCIPAL_KEY = "lm_api_principal"
_REALM = "loanmart"


class _Bearer(BearerTokenValidator):
    """Only Authlib's header parsing is used: tokens are looked up asynchronously below."""

    def authenticate_token(self, token_string: str) -> str:
        return token_string


_PROTECTOR = ResourceProtector()
_PROTECTOR.register_token_validator(_Bearer(realm=_REALM))


def _challenge(error: str = "") -> dict[str, str]:
    value = f'Bearer realm="{_REALM}"' + (f', error="{error}"' if error else "")
    return {"WWW-Authenticate": value}


async def api_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Routes that name a `scope` in their opt need a live token granted that scope;
    every authenticated call counts against the client's rate limit."""
    scope = handler.opt.get("scope")
    if scope is None:
        return
    try:
        _validator, token = _PROTECTOR.parse_request_authorization(connection)
    except OAuth2Error:
        raise NotAuthorizedException(headers=_challenge()) from None
    principal = await principal_for_token(
        token, ip=client_address(connection), request_id=request_id(connection)
    )
    if principal is None:
        raise NotAuthorizedException(headers=_challenge("invalid_token"))
    await check_rate(principal.client_pk)
    if scope not in principal.scopes:
        raise PermissionDeniedException(headers=_challenge("insufficient_scope"))
    connection.state[_PRINCIPAL_KEY] = principal


def principal(connection: ASGIConnection) -> ApiPrincipal:
    return connection.state[_PRINCIPAL_KEY]


def actor(connection: ASGIConnection) -> Actor:
    return principal(connection).actor
