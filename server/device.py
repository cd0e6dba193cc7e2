"""A first-party, long-lived random device id (anti-fraud velocity by device, A8).

The cookie holds 128 random bits and nothing else: no personal data, not derived from the
browser. A request without a well-formed one gets a fresh id at once (so even the first
registration from a browser is counted under it) and the cookie with the response."""

from __future__ import annotations

import re
import secrets
from http.cookies import SimpleCookie

from litestar.connection import ASGIConnection
from litestar.types import Message, Receive, Scope, Send

from marketplace.settings import settings
from server.asgi import HttpMiddleware

COOKIE_NAME = "lm_device"
SCOPE_KEY = "lm_device"
MAX_AGE_SECONDS = 2 * 365 * 24 * 3600
_WELL_FORMED = re.compile(r"[0-9a-f]{32}")
# Files and machine endpoints are cached or called by programs: no cookie there.
_SKIPPED_PREFIXES = ("/static/", "/api/", "/healthz", "/readyz", "/metrics")


def _cookie_value(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # noqa: S112 - a malformed cookie header means no device id
                continue
            if COOKIE_NAME in cookie and _WELL_FORMED.fullmatch(cookie[COOKIE_NAME].value):
                return cookie[COOKIE_NAME].value
    return None


def device_id(connection: ASGIConnection) -> str:
    return str(connection.scope.get(SCOPE_KEY, ""))  # type: ignore[call-overload]


class DeviceCookieMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith(_SKIPPED_PREFIXES):
            await self.app(scope, receive, send)
            return
        existing = _cookie_value(scope)
        device = existing or secrets.token_hex(16)
        scope[SCOPE_KEY] = device  # type: ignore[literal-required]
        if existing:
            await self.app(scope, receive, send)
            return
        attributes = f"Max-Age={MAX_AGE_SECONDS}; Path=/; HttpOnly; SameSite=Lax"
        if settings.secure_cookies:
            attributes += "; Secure"
        header = (b"set-cookie", f"{COOKIE_NAME}={device}; {attributes}".encode())

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
