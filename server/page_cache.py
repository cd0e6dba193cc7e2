"""Rendered pages for anonymous visitors, kept in this process and never stale (issue 14).

Which requests: a GET of a route in CACHED_ROUTES by a visitor with no session or flash
cookie and either no CSRF cookie or one this server signed. The key: the path, the query string with
its keys sorted (a repeated key or a blank value is not cached), the htmx fragment flag
and the language.

What is kept: a 200 HTML answer that `server.rendering.render` marked impersonal (nobody
signed in, no flash), without any Set-Cookie and with its body split around the CSRF token
of the visitor it was rendered for; plus the behaviour events the render tracked. On the
way out every visitor gets their own token put back in (a fresh one, with its cookie, when
they had none) and their own copy of the behaviour events; the device cookie, security
headers and request id are added outside, as for any page.

Never stale: an entry holds the catalogue generation (`marketplace.freshness`) read before
it was rendered and is served only while Redis still holds that generation. The read is
one GET per request, shared by the requests that arrived before it was sent, so a request
that arrives once a change's bump is done (right after its commit) never gets a page from
before the change. Content that changes by the clock (a
banner's window) ends the entry on time through `freshness.changes_in`; TTL_SECONDS bounds
the rest (figures derived from live traffic on a product page, such as a lead cap reached
or the actual APRs offered, and a generation bump lost to a Redis failure after commit).
When Redis cannot be read the cache steps aside and pages render as without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from http.cookies import CookieError, SimpleCookie
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures.cookie import Cookie
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash, generate_csrf_token
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState
from prometheus_client import Counter

from marketplace import freshness
from marketplace.i18n import LANGUAGE
from server.asgi import HttpMiddleware
from server.behaviour import TRACKED_KEY, Tracked, replay
from server.metrics import REGISTRY
from server.rendering import IMPERSONAL_KEY, fragment_wanted
from server.sessions import COOKIE_NAME as SESSION_COOKIE
from server.sessions import FLASH_COOKIE

# The discovery pages, and the calculators: a quote is a pure function of its URL (and of
# the product, which the generation covers), but rendering its schedule is the costliest
# page of the portal.
CACHED_ROUTES = frozenset(
    {
        "portal.home",
        "portal.products.list",
        "portal.products.detail",
        "portal.products.quote",
        "portal.calculator",
    }
)
TTL_SECONDS = 10.0
# Per process; the least recently used pages go first.
MAX_BYTES = 32 * 1024 * 1024
MAX_PAGE_BYTES = 1024 * 1024
MAX_QUERY_BYTES = 1024
GENERATION_TIMEOUT_SECONDS = 0.25
RENDER_WAIT_SECONDS = 5.0
_TOKEN = re.compile(f"[0-9a-f]{{{2 * CSRF_SECRET_LENGTH}}}")

OUTCOMES = Counter(
    "loanmart_page_cache_requests",
    "Requests the page cache saw: hit, miss (rendered, maybe kept) or bypass (not cacheable "
    "or Redis unreadable).",
    ["outcome"],
    registry=REGISTRY,
)
_HIT, _MISS, _BYPASS = (OUTCOMES.labels(outcome) for outcome in ("hit", "miss", "bypass"))

Key = tuple[str, str, bool, str]
T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    generation: str
    expires: float  # time.monotonic()
    headers: tuple[tuple[bytes, bytes], ...]
    parts: tuple[bytes, ...]  # the body, split around the CSRF token
    events: tuple[Tracked, ...]
    handler: Any  # the route handler, for the per-route metrics

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts) + 512


class Store:
    """Least recently used pages out first, within `max_bytes`."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._entries: OrderedDict[Key, Entry] = OrderedDict()

    def get(self, key: Key) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Key, entry: Entry) -> None:
        self.discard(key)
        self._entries[key] = entry
        self.used += entry.size
        while self.used > self.max_bytes and self._entries:
            _key, oldest = self._entries.popitem(last=False)
            self.used -= oldest.size

    def discard(self, key: Key) -> None:
        if (old := self._entries.pop(key, None)) is not None:
            self.used -= old.size

    def clear(self) -> None:
        self._entries.clear()
        self.used = 0

    def __len__(self) -> int:
        return len(self._entries)


class SharedGenerationRead:
    """The catalogue generation for requests now arriving. Those that arrive before the
    pending read is sent share it; later ones start the next, so no request is answered
    from a read sent before it arrived."""

    def __init__(self) -> None:
        self._next: asyncio.Future[str] | None = None

    async def current(self) -> str:
        pending = self._next
        if pending is None:
            pending = self._next = asyncio.ensure_future(self._read())
        return await asyncio.shield(pending)

    async def _read(self) -> str:
        self._next = None  # this read goes out now
        return await asyncio.wait_for(freshness.generation(), GENERATION_TIMEOUT_SECONDS)


# One per process: the page cache and the live figures share its reads.
GENERATION = SharedGenerationRead()


class LiveFigures:
    """Figures a product page shows beside the catalogue (whether the institution takes
    applications now, the actual APRs offered), kept per process exactly as fresh as a
    cached page: under the current generation (the writes that change them are in
    CATALOGUE_ACTIONS) and for at most TTL_SECONDS (what live traffic moves, such as a
    lead cap reached). A signed-in visitor, who gets no page cache, then pays one shared
    Redis read for them instead of several queries; a page rendered for the page cache
    with a kept figure expires when the figure would (`freshness.changes_in`), so an
    anonymous visitor never sees one older than TTL_SECONDS either."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[str, float, Any]] = {}

    async def read(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        try:
            generation = await GENERATION.current()  # before the data: never newer than it
        except Exception:  # noqa: BLE001 - Redis unreadable: read live, keep nothing
            return await compute()
        key = (LANGUAGE, key)  # the figures carry translated words
        now = time.monotonic()
        kept = self._entries.get(key)
        if kept is not None and kept[0] == generation and kept[1] > now:
            freshness.changes_in(timedelta(seconds=kept[1] - now))
            return kept[2]  # type: ignore[no-any-return]
        value = await compute()
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (generation, now + TTL_SECONDS, value)
        return value

    def clear(self) -> None:
        self._entries.clear()


live_figures = LiveFigures()


def _cookies(scope: Scope) -> dict[str, str] | None:
    """The request's cookies; None when a Cookie header cannot be read."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                return None
            found.update((key, morsel.value) for key, morsel in jar.items())
    return found


# Parsing and re-encoding a query costs more than the rest of a hit's own work; the same
# few queries come back all the time (a pure function of the bytes, so memoised).
@lru_cache(maxsize=4096)
def normalised_query(raw: bytes) -> str | None:
    """Keys sorted; None for what is not cached (too long, undecodable, a repeated key, a
    blank value: the handler answers those itself — the product list redirects to the
    URL without them, so a cached page must never stand in for that redirect)."""
    if len(raw) > MAX_QUERY_BYTES:
        return None
    try:
        pairs = parse_qsl(
            raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        return None
    if len({key for key, _value in pairs}) != len(pairs):
        return None
    if any(not value.strip() for _key, value in pairs):
        return None
    return urlencode(sorted(pairs))


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def route_paths(app: Litestar, names: Iterable[str] = CACHED_ROUTES) -> re.Pattern[str]:
    """The paths of the named routes, path parameters as one segment each: what the cache
    looks at at all (anything else goes straight through, no Redis read)."""
    alternatives = [
        "[^/]+".join(re.escape(part) for part in re.split(r"\{[^}]*\}", path))
        for name in sorted(names)
        for path in (app.get_handler_index_by_name(name) or {"paths": []})["paths"]
    ]
    return re.compile("|".join(alternatives))


class PageCacheMiddleware(HttpMiddleware):
    def __init__(
        self, app: ASGIApp, csrf: CSRFConfig, paths: re.Pattern[str], store: Store | None = None
    ) -> None:
        super().__init__(app)
        self.csrf = csrf
        self.paths = paths
        self.store = store if store is not None else Store()
        self.generation = GENERATION
        self._cookie_template = (
            Cookie(
                key=csrf.cookie_name,
                value="TOKEN",
                path=csrf.cookie_path,
                secure=csrf.cookie_secure,
                httponly=csrf.cookie_httponly,
                samesite=csrf.cookie_samesite,
                domain=csrf.cookie_domain,
            )
            .to_header(header="")
            .encode("latin-1")
        )
        # Pages being rendered now, by key: the generation they are rendered under.
        self._rendering: dict[Key, tuple[str, asyncio.Event]] = {}

    def _signed(self, token: str) -> bool:
        if not _TOKEN.fullmatch(token):
            return False
        secret, signature = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
        return hmac.compare_digest(signature, generate_csrf_hash(secret, self.csrf.secret))

    def _cookie_header(self, token: str) -> bytes:
        # The token is hex, so Litestar's header for it (built once: it costs more than the
        # rest of a cached answer) differs only there.
        return self._cookie_template.replace(b"TOKEN", token.encode(), 1)

    def _request(self, scope: Scope) -> tuple[Key, str | None] | None:
        """The key and the visitor's CSRF token (None: none yet), or None: not cacheable."""
        if scope["method"] != "GET" or not self.paths.fullmatch(scope["path"]):  # type: ignore[typeddict-item]
            return None
        cookies = _cookies(scope)
        if cookies is None or SESSION_COOKIE in cookies or FLASH_COOKIE in cookies:
            return None
        token = cookies.get(self.csrf.cookie_name)
        if token is not None and not self._signed(token):
            return None
        query = normalised_query(scope["query_string"])
        if query is None:
            return None
        return (scope["path"], query, fragment_wanted(_headers(scope)), LANGUAGE), token

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = self._request(scope)
        if request is None:
            await self.app(scope, receive, send)
            return
        key, token = request
        try:
            generation = await self.generation.current()
        except Exception:  # noqa: BLE001 - Redis unreadable: render as if there were no cache
            _BYPASS.inc()
            await self.app(scope, receive, send)
            return
        entry = self._fresh(key, generation)
        rendering = self._rendering.get(key)
        if entry is None and rendering is not None and rendering[0] == generation:
            # The page is being rendered under this generation: wait for it rather than
            # render it once more (an expired page under load would otherwise be rendered
            # by every request that arrives meanwhile, stalling the process).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rendering[1].wait(), RENDER_WAIT_SECONDS)
            entry = self._fresh(key, generation)
        if entry is not None:
            _HIT.inc()
            await self._serve(entry, token, scope, send)
            return
        _MISS.inc()
        await self._render(key, generation, scope, receive, send)

    def _fresh(self, key: Key, generation: str) -> Entry | None:
        entry = self.store.get(key)
        if entry is None or entry.generation != generation:
            return None
        if entry.expires <= time.monotonic():
            self.store.discard(key)
            return None
        return entry

    async def _serve(self, entry: Entry, token: str | None, scope: Scope, send: Send) -> None:
        headers = list(entry.headers)
        if token is None:
            token = generate_csrf_token(self.csrf.secret)
            headers.append((b"set-cookie", self._cookie_header(token)))
        body = token.encode().join(entry.parts)
        headers.append((b"content-length", str(len(body)).encode()))
        scope["route_handler"] = entry.handler  # type: ignore[typeddict-unknown-key]
        replay(scope, entry.events)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _render(
        self, key: Key, generation: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        tracked: list[Tracked] = []
        scope[TRACKED_KEY] = tracked  # type: ignore[literal-required]
        start: list[Message] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A copy: the middlewares outside add their headers to the message itself.
                start.append({**message, "headers": list(message.get("headers", []))})
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        rendering = (generation, asyncio.Event())
        self._rendering.setdefault(key, rendering)
        try:
            with freshness.watching() as horizon:
                await self.app(scope, receive, capture)
            entry = self._entry(generation, scope, start, b"".join(chunks), tracked, horizon)
            if entry is not None:
                self.store.put(key, entry)
        finally:
            if self._rendering.get(key) is rendering:
                del self._rendering[key]
            rendering[1].set()

    def _entry(
        self,
        generation: str,
        scope: Scope,
        start: list[Message],
        body: bytes,
        tracked: list[Tracked],
        horizon: list,
    ) -> Entry | None:
        handler = scope.get("route_handler")  # type: ignore[call-overload]
        if (
            not start
            or start[0].get("status") != 200
            or handler is None
            or handler.name not in CACHED_ROUTES
            or not scope.get(IMPERSONAL_KEY)  # type: ignore[call-overload]
            or len(body) > MAX_PAGE_BYTES
        ):
            return None
        token = ScopeState.from_scope(scope).csrf_token
        if not isinstance(token, str) or not self._signed(token):
            return None
        kept: list[tuple[bytes, bytes]] = []
        csrf_cookie = self.csrf.cookie_name.encode() + b"="
        headers: list[tuple[bytes, bytes]] = list(start[0].get("headers", []))  # type: ignore[call-overload]
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"set-cookie":
                if not value.startswith(csrf_cookie):
                    return None  # something of this visitor's (a session) was set
                continue
            if lowered == b"content-type" and not value.startswith(b"text/html"):
                return None
            if lowered != b"content-length":
                kept.append((name, value))
        ttl = min([TTL_SECONDS, *(moment.total_seconds() for moment in horizon)])
        return Entry(
            generation=generation,
            expires=time.monotonic() + ttl,
            headers=tuple(kept),
            parts=tuple(body.split(token.encode())),
            events=tuple(tracked),
            handler=handler,
        )
