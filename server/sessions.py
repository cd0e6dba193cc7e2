"""Server-side sessions in Redis.

The cookie carries a random token; Redis holds the data under a hash of it. A token the
server did not issue is never adopted (an unknown token simply means "no session"), and
`rotate()` issues a fresh token at login so a planted id is useless."""

from __future__ import annotations

import hashlib
import json
import secrets
from http.cookies import SimpleCookie
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.cache import redis
from marketplace.settings import settings

COOKIE_NAME = "lm_session"
IDLE_SECONDS = 12 * 3600
SCOPE_KEY = "lm_session"


def _key(token: str) -> str:
    return "session:" + hashlib.sha256(token.encode()).hexdigest()


class Session:
    def __init__(self, token: str | None, data: dict[str, Any]) -> None:
        self.token = token
        self.data = data
        self.modified = False
        self.rotated = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.modified = True

    def pop(self, key: str, default: Any = None) -> Any:
        if key in self.data:
            self.modified = True
        return self.data.pop(key, default)

    def rotate(self) -> None:
        """Issue a new token on the next save (call at login and privilege change)."""
        self.rotated = True
        self.modified = True

    def clear(self) -> None:
        self.data = {}
        self.modified = True


def session_of(scope: Scope) -> Session:
    return scope[SCOPE_KEY]  # type: ignore[literal-required]


def _cookie_header(value: str, max_age: int) -> bytes:
    parts = [f"{COOKIE_NAME}={value}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
    if settings.secure_cookies:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


async def _load(token: str | None) -> Session:
    if token:
        raw = await redis().get(_key(token))
        if raw is not None:
            await redis().expire(_key(token), IDLE_SECONDS)
            return Session(token, json.loads(raw))
    return Session(None, {})


async def _save(session: Session) -> bytes | None:
    """Persist; returns the Set-Cookie header value to send, if any."""
    r = redis()
    if session.rotated and session.token:
        await r.delete(_key(session.token))
        session.token = None
    if not session.data:
        if session.token:
            await r.delete(_key(session.token))
            return _cookie_header("", 0)
        return None
    new_token = session.token is None
    if new_token:
        session.token = secrets.token_urlsafe(32)
    await r.set(_key(session.token), json.dumps(session.data), ex=IDLE_SECONDS)  # type: ignore[arg-type]
    return _cookie_header(session.token, IDLE_SECONDS) if new_token else None  # type: ignore[arg-type]


def _cookie_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # noqa: S112 - a malformed cookie header means no session
                continue
            if COOKIE_NAME in cookie:
                return cookie[COOKIE_NAME].value
    return None


class SessionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        handler = scope.get("route_handler")  # type: ignore[call-overload]
        if handler is not None and handler.opt.get("session") is False:
            # Health checks and /metrics never touch Redis, so they answer during an outage.
            scope[SCOPE_KEY] = Session(None, {})  # type: ignore[literal-required]
            await self.app(scope, receive, send)
            return
        # A Redis outage raises here; server.errors turns it into a 503 page.
        session = await _load(_cookie_token(scope))
        scope[SCOPE_KEY] = session  # type: ignore[literal-required]

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.modified:
                header = await _save(session)
                if header is not None:
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", header)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
