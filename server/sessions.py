"""Server-side sessions in Redis.

The cookie carries a random token; Redis holds the data under a hash of it. A token the
server did not issue is never adopted (an unknown token simply means "no session"), and
`rotate()` issues a fresh token at login so a planted id is useless.

Each signed-in user also has an index of their sessions (a sorted set of session ids, the
hash Redis keys them by, never the token) so the personal centre can list devices and end
them. The index is capped, expires with its newest session, and drops ids whose session
has expired whenever it is written or read."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.accounts.role_matrix import MATRIX_STAMP_KEY
from marketplace.cache import redis
from marketplace.i18n import N_, _
from marketplace.security import mask_ip
from marketplace.settings import settings

COOKIE_NAME = "lm_session"
IDLE_SECONDS = 12 * 3600
SCOPE_KEY = "lm_session"
FLASH_COOKIE = "lm_flash"
FLASHES_KEY = "lm_flashes"
# A flash waits this long for the page that shows it, and no longer than a cookie can hold.
FLASH_SECONDS = 600
MAX_FLASH_BYTES = 3000
MAX_FLASH_CHARACTERS = 300  # a flash is a sentence; longer text belongs on a page
# More sign-ins than this end the oldest session: the index cannot grow without bound.
MAX_SESSIONS_PER_USER = 10
# "Last seen" is written at most this often, not on every request.
SEEN_RESOLUTION_SECONDS = 60


def session_id(token: str) -> str:
    """What the index and the page know a session by: its Redis key, not its token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _key(token: str) -> str:
    return _id_key(session_id(token))


def _id_key(sid: str) -> str:
    return "session:" + sid


def _index_key(user_id: int) -> str:
    return f"usersessions:{user_id}"


class Session:
    def __init__(
        self, token: str | None, data: dict[str, Any], matrix_stamp: str | None = None
    ) -> None:
        self.token = token
        self.data = data
        self.modified = False
        self.rotated = False
        # The role matrix's stamp as it was when the session was read (None: not read).
        self.matrix_stamp = matrix_stamp

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


def _cookie_header(value: str, max_age: int, name: str = COOKIE_NAME) -> bytes:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
    if settings.secure_cookies:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


async def _load(token: str | None) -> Session:
    if token:
        # One round trip: read the session and slide its idle expiry (GETEX, Redis ≥ 6.2),
        # and read the role matrix's stamp, which a signed-in request checks next
        # (`role_matrix.ensure_fresh`).
        async with redis().pipeline(transaction=False) as pipe:
            pipe.getex(_key(token), ex=IDLE_SECONDS)
            pipe.get(MATRIX_STAMP_KEY)
            raw, stamp = await pipe.execute()
        if raw is not None:
            return Session(token, json.loads(raw), stamp)
    return Session(None, {})


async def _save(session: Session) -> bytes | None:
    """Persist; returns the Set-Cookie header value to send, if any."""
    r = redis()
    if session.rotated and session.token and (user_id := session.data.get("uid")):
        await r.zrem(_index_key(int(user_id)), session_id(session.token))
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
    token: str = session.token  # type: ignore[assignment]
    user_id = session.data.get("uid")
    # One round trip: the session, and its place in the user's index.
    async with r.pipeline(transaction=False) as pipe:
        pipe.set(_key(token), json.dumps(session.data), ex=IDLE_SECONDS)
        if user_id:
            index = _index_key(int(user_id))
            pipe.zadd(index, {session_id(token): time.time()}, nx=True)
            # Outlives the newest session by a little: that session's TTL was refreshed at
            # most SEEN_RESOLUTION_SECONDS before this save.
            pipe.expire(index, IDLE_SECONDS + 2 * SEEN_RESOLUTION_SECONDS)
        saved = await pipe.execute()
    if user_id and saved[1]:
        await _cap(int(user_id))  # the index grew: a new session
    return _cookie_header(token, IDLE_SECONDS) if new_token else None


async def _cap(user_id: int) -> None:
    """At most MAX_SESSIONS_PER_USER live sessions: the oldest beyond it end."""
    r = redis()
    index = _index_key(user_id)
    await _prune(user_id)
    if (extra := await r.zcard(index) - MAX_SESSIONS_PER_USER) > 0:
        oldest = await r.zpopmin(index, extra)
        await r.delete(*(_id_key(member) for member, _score in oldest))


async def _prune(user_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The user's live sessions, oldest first; ids whose session expired are removed."""
    r = redis()
    index = _index_key(user_id)
    members = await r.zrange(index, 0, -1)
    if not members:
        return []
    raws = await r.mget([_id_key(member) for member in members])
    live, dead = [], []
    for member, raw in zip(members, raws, strict=True):
        data = json.loads(raw) if raw is not None else None
        if data is None or data.get("uid") != user_id:
            dead.append(member)
        else:
            live.append((member, data))
    if dead:
        await r.zrem(index, *dead)
    return live


@dataclass(frozen=True)
class DeviceSession:
    id: str
    device: str
    ip_masked: str
    created_at: datetime | None
    seen_at: datetime | None
    current: bool


def _when(stamp: Any) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int | float) else None


async def user_sessions(user_id: int, current_token: str | None) -> list[DeviceSession]:
    current = session_id(current_token) if current_token else None
    sessions = [
        DeviceSession(
            id=member,
            device=_device_label(data.get("_device")),
            ip_masked=data.get("_ip", ""),
            created_at=_when(data.get("_created")),
            seen_at=_when(data.get("_seen")),
            current=member == current,
        )
        for member, data in await _prune(user_id)
    ]
    return sorted(sessions, key=lambda s: (not s.current, -(s.seen_at or _EPOCH).timestamp()))


_EPOCH = datetime.fromtimestamp(0, UTC)


async def end_session(user_id: int, sid: str) -> bool:
    """End one of the user's sessions; False if `sid` is not one of theirs."""
    r = redis()
    if await r.zscore(_index_key(user_id), sid) is None:
        return False
    await r.delete(_id_key(sid))
    await r.zrem(_index_key(user_id), sid)
    return True


async def end_sessions(user_id: int, *, keep_token: str | None = None) -> int:
    """End every session of the user except the one with `keep_token`; how many ended."""
    keep = session_id(keep_token) if keep_token else None
    ended = [m for m in await redis().zrange(_index_key(user_id), 0, -1) if m != keep]
    if ended:
        await redis().delete(*(_id_key(member) for member in ended))
        await redis().zrem(_index_key(user_id), *ended)
    return len(ended)


_OS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("HarmonyOS", "HarmonyOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "Mac"),
    ("Macintosh", "Mac"),
    ("Linux", "Linux"),
)
_BROWSERS = (
    ("MicroMessenger", N_("微信")),
    ("AlipayClient", N_("支付宝")),
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)


def device_summary(user_agent: str) -> list[str]:
    """The device as ["iPhone", "微信"] (untranslated names), from a User-Agent; the header
    itself is never kept."""
    user_agent = user_agent[:512]
    names = [
        next((name for marker, name in table if marker in user_agent), "")
        for table in (_OS, _BROWSERS)
    ]
    return [name for name in names if name]


def _device_label(names: Any) -> str:
    """ "iPhone · 微信", in the reader's language; "" when the device is unknown."""
    if not isinstance(names, list):
        return ""
    return " · ".join(_(name) for name in names if isinstance(name, str))


def stamp_device(session: Session, user_agent: str, ip: str) -> None:
    """Record, at sign-in, what the session list shows: device, masked address, times."""
    now = int(time.time())
    session["_device"] = device_summary(user_agent)
    session["_ip"] = mask_ip(ip)
    session["_created"] = now
    session["_seen"] = now


async def open_device_session(
    user_id: int, kind: str, user_agent: str, ip: str, created: int, seen: int
) -> None:
    """A signed-in session nobody holds the token of (the demo's other devices): it lists
    on the personal centre and can be ended there like any other."""
    session = Session(None, {})
    session["uid"] = user_id
    session["kind"] = kind
    stamp_device(session, user_agent, ip)
    session["_created"] = created
    session["_seen"] = seen
    await _save(session)


def _touch(session: Session) -> None:
    seen = session.get("_seen")
    if session.get("uid") and (
        not isinstance(seen, int) or time.time() - seen > SEEN_RESOLUTION_SECONDS
    ):
        session["_seen"] = int(time.time())


def _cookie(scope: Scope, cookie_name: str) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # noqa: S112 - a malformed cookie header means no such cookie
                continue
            if cookie_name in cookie:
                return cookie[cookie_name].value
    return None


class Flashes:
    """The one-time messages shown on the visitor's next page (申请已提交…): in a cookie
    of their own, signed, not in the session, so a POST that only flashes before its
    redirect writes nothing to Redis. Another's text cannot be planted: a cookie whose
    signature fails is ignored."""

    def __init__(self, scope: Scope) -> None:
        self.incoming = _unsealed(_cookie(scope, FLASH_COOKIE))
        self.waiting = list(self.incoming)
        self.changed = False

    def add(self, category: str, message: str) -> None:
        self.waiting.append({"category": category, "message": message[:MAX_FLASH_CHARACTERS]})
        self.changed = True

    def take(self) -> list[dict[str, str]]:
        taken, self.waiting = self.waiting, []
        self.changed = self.changed or bool(taken)
        return taken

    def cookie_header(self) -> bytes | None:
        if not self.changed:
            return None
        if self.waiting:
            return _cookie_header(_sealed(self.waiting), FLASH_SECONDS, FLASH_COOKIE)
        return _cookie_header("", 0, FLASH_COOKIE) if self.incoming else None


def flashes_of(scope: Scope) -> Flashes:
    flashes: Flashes | None = scope.get(FLASHES_KEY)  # type: ignore[call-overload,assignment]
    if flashes is None:
        flashes = scope[FLASHES_KEY] = Flashes(scope)  # type: ignore[literal-required]
    return flashes


def _flash_key() -> bytes:
    return hashlib.sha256(b"flash-cookie:" + settings.secret_key.encode()).digest()


def _mac(body: str) -> str:
    digest = hmac.new(_flash_key(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _sealed(flashes: list[dict[str, str]]) -> str:
    """base64url(JSON).base64url(HMAC): the newest messages that fit in a cookie."""
    while True:
        body = base64.urlsafe_b64encode(json.dumps(flashes, ensure_ascii=False).encode()).decode()
        if len(body) <= MAX_FLASH_BYTES or len(flashes) <= 1:
            break
        flashes = flashes[1:]
    return body + "." + _mac(body)


def _unsealed(value: str | None) -> list[dict[str, str]]:
    body, _dot, mac = (value or "").partition(".")
    if not body or not hmac.compare_digest(mac, _mac(body)):
        return []
    try:
        flashes = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return []
    return (
        [
            {"category": str(f.get("category", "")), "message": str(f.get("message", ""))}
            for f in flashes
            if isinstance(f, dict)
        ]
        if isinstance(flashes, list)
        else []
    )


def _flash_header(scope: Scope) -> bytes | None:
    flashes: Flashes | None = scope.get(FLASHES_KEY)  # type: ignore[call-overload,assignment]
    return flashes.cookie_header() if flashes is not None else None


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
        session = await _load(_cookie(scope, COOKIE_NAME))
        _touch(session)
        scope[SCOPE_KEY] = session  # type: ignore[literal-required]

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [_flash_header(scope)]
                if session.modified:
                    headers.append(await _save(session))
                if any(headers):
                    message["headers"] = [
                        *message.get("headers", []),
                        *((b"set-cookie", header) for header in headers if header),
                    ]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
