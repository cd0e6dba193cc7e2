"""Security headers on every response, error pages and unmatched paths included.

The policy allows no inline script (htmx runs with `allowEval: false`, set in base.html).
Inline style *attributes* stay allowed (`style-src-attr`): ECharts writes them into its
tooltips and a few templates set a CSS custom property that way; `<style>` elements and
styles from other origins are still refused."""

from __future__ import annotations

from litestar.types import Message, Receive, Scope, Send

from server.asgi import HttpMiddleware
from server.sessions import COOKIE_NAME, SCOPE_KEY, Session

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
)


def _has_live_session(scope: Scope) -> bool:
    # Sessions only exist once something is stored: a signed-in user or a half-done sign-in.
    session: Session | None = scope.get(SCOPE_KEY)  # type: ignore[call-overload,assignment]
    if session is not None:
        return bool(session.data)
    # Unmatched paths never load the session: the cookie is what we know there.
    cookie = COOKIE_NAME.encode() + b"="
    return any(name == b"cookie" and cookie in value for name, value in scope["headers"])


class SecurityHeadersMiddleware(HttpMiddleware):
    """Pure ASGI: wraps the whole application, so Litestar's 404/405 answers get them too."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                headers.extend(item for item in SECURITY_HEADERS if item[0] not in present)
                # A personal page must not stay in a shared or back-button cache; static
                # files keep their long cache.
                if _has_live_session(scope) and not scope["path"].startswith("/static/"):
                    headers = [item for item in headers if item[0].lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
