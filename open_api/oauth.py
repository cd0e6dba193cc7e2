"""The OAuth2 token endpoint (RFC 6749 §4.4 client credentials) on Authlib's
AuthorizationServer, with thin adapters for Litestar.

Authlib's server is synchronous, so it runs in a worker thread and reaches the async
database through `anyio.from_thread` (the client lookup, the rate limit, saving the
token). Errors are RFC 6749 §5.2 JSON (`{"error": "invalid_client"}`), which every OAuth2
client library expects from a token endpoint."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import anyio
from anyio import from_thread
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InsecureTransportError,
    InvalidClientError,
    InvalidRequestError,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from litestar import Request, Response, post
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from marketplace.api_clients.scopes import SCOPES
from marketplace.api_clients.services import (
    ClientCredential,
    check_rate,
    live_client,
    save_token,
    token_lifetime_seconds,
)
from marketplace.i18n import N_
from marketplace.settings import settings

AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# Authlib logs each issued token at DEBUG: a bearer token must never reach the logs.
logging.getLogger("authlib").setLevel(logging.INFO)
# A token request is a short form; anything longer is not one.
MAX_FORM_FIELDS = 10


class _Client(ClientMixin):
    def __init__(self, credential: ClientCredential) -> None:
        self.credential = credential

    def get_client_id(self) -> str:
        return self.credential.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """No scope asked: every scope granted to the client; asking for one it was not
        granted is invalid_scope (None), not a silently narrower token."""
        granted = self.credential.scopes
        if not scope:
            return " ".join(granted)
        asked = scope_to_list(scope) or []
        if not set(asked) <= set(granted):
            return None
        return " ".join(s for s in granted if s in asked)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return self.credential.secret_matches(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == ClientCredentialsGrant.GRANT_TYPE


class _FormRequest(OAuth2Request):
    """Authlib's client_secret_post reads `request.form`."""

    def __init__(self, uri: str, headers: Any, form: dict[str, str]) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)


def _access_token(**_kwargs: Any) -> str:
    return secrets.token_urlsafe(32)


def _expires_in(client: _Client, grant_type: str) -> int:
    return from_thread.run(token_lifetime_seconds)


class _Server(AuthorizationServer):
    """Called in a worker thread (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.register_grant(_ClientCredentials)
        self.register_token_generator(
            "default", BearerTokenGenerator(_access_token, expires_generator=_expires_in)
        )

    def query_client(self, client_id: str) -> _Client | None:
        credential = from_thread.run(live_client, client_id or "")
        if credential is None:
            return None
        # Token requests share the client's per-minute budget (429 past it).
        from_thread.run(check_rate, credential.id)
        return _Client(credential)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        client: _Client = request.client
        scopes = tuple(scope_to_list(token.get("scope", "")) or ())
        from_thread.run(
            save_token, client.credential, token["access_token"], scopes, token["expires_in"]
        )

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


_SERVER = _Server()


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    token_type: str
    expires_in: int
    scope: str


@dataclass(frozen=True)
class TokenError:
    error: str
    error_description: str | None = None


_FORM_FIELD = Schema(type=OpenAPIType.STRING, max_length=200)


@dataclass
class _TokenOperation(Operation):
    """Documents the form Authlib reads (the handler takes the raw form, so that Authlib,
    not Litestar, answers a malformed request with an RFC 6749 error)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            content={
                "application/x-www-form-urlencoded": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["grant_type"],
                        properties={
                            "grant_type": Schema(
                                type=OpenAPIType.STRING, enum=["client_credentials"]
                            ),
                            "scope": _FORM_FIELD,
                            "client_id": _FORM_FIELD,
                            "client_secret": _FORM_FIELD,
                        },
                    )
                )
            },
        )


@post(
    "/oauth/token",
    operation_class=_TokenOperation,
    name="api.oauth.token",
    opt={"access": "public"},
    summary=N_("获取访问令牌（OAuth2 客户端凭证模式）"),
    description=N_(
        "表单（application/x-www-form-urlencoded）提交 grant_type=client_credentials，"
        "可选 scope（空格分隔）。客户端以 HTTP Basic（client_secret_basic）或表单字段 "
        "client_id、client_secret（client_secret_post）认证。"
    ),
    tags=["OAuth2"],
    status_code=200,
    responses={
        status: ResponseSpec(TokenError, generate_examples=False, description="RFC 6749 §5.2")
        for status in (400, 401)
    },
)
async def token(request: Request) -> Response[TokenResponse]:
    form = await request.form()
    keys = list(form.keys())
    if len(keys) > MAX_FORM_FIELDS or any(len(form.getall(key)) > 1 for key in keys):
        # RFC 6749 §3.2: no parameter may be sent twice.
        return _answer(*InvalidRequestError("repeated or too many parameters")())
    fields = {key: form.get(key) for key in keys}
    try:
        # Authlib refuses plain http except on loopback: the public URL must be https.
        oauth_request = _FormRequest(
            settings.base_url.rstrip("/") + "/api/oauth/token",
            request.headers,
            {key: value for key, value in fields.items() if isinstance(value, str)},
        )
    except InsecureTransportError as error:
        return _answer(*error())
    try:
        status, body, headers = await anyio.to_thread.run_sync(
            _SERVER.create_token_response, oauth_request
        )
    except UnicodeDecodeError:
        # Authlib decodes HTTP Basic credentials as UTF-8 unguarded: bytes that are not
        # UTF-8 are credentials of no client.
        status, body, headers = InvalidClientError()()
    return _answer(status, body, headers)


def _answer(status: int, body: Any, headers: list[tuple[str, str]]) -> Response[TokenResponse]:
    return Response(body, status_code=status, headers=dict(headers))
