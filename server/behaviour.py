"""Recording behaviour events from the web layer (A12), never in the way of the page.

`track(request, kind, …)` never waits for Redis: the event joins this process's batch,
which a background task pushes onto the Redis buffer (one LPUSH of many) about every
FLUSH_SECONDS. If Redis is slow or down the batch is dropped and counted
(loanmart_analytics_events_lost), and pages render as usual.

A page served from the page cache records the same events as a fresh render: while a page
renders, the events it tracks are also kept in its ASGI scope (under TRACKED_KEY, when the
page cache put a list there) so the cache can `replay` them for each later visitor."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass, field

from litestar import Request
from litestar.types import Scope
from prometheus_client import Counter

from marketplace.analytics.recorder import EventKind, buffer, encode, visitor_of
from server.device import SCOPE_KEY as DEVICE_KEY
from server.metrics import REGISTRY

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 0.5
FLUSH_SECONDS = 0.1
# Past this many waiting events (Redis stalled) new ones are dropped and counted.
MAX_PENDING = 20_000
TRACKED_KEY = "lm_tracked"
RECORDED = Counter(
    "loanmart_analytics_events_buffered",
    "Behaviour events pushed onto the Redis buffer, by kind.",
    ["kind"],
    registry=REGISTRY,
)
LOST = Counter(
    "loanmart_analytics_events_lost",
    "Behaviour events dropped because the buffer (Redis) was unreachable, by kind.",
    ["kind"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class Tracked:
    """An event as a page tracks it, before it is stamped with a visitor and a time."""

    kind: EventKind
    product: int | None = None
    query: str = ""
    filters: dict[str, str] = field(default_factory=dict)
    result_count: int | None = None


_pending: list[tuple[EventKind, str]] = []
_flusher: asyncio.Task[None] | None = None


def _count(counter: Counter, kinds: Sequence[EventKind]) -> None:
    for kind, n in Tally(kinds).items():
        counter.labels(kind.value).inc(n)


def _enqueue(visitor: str, event: Tracked) -> None:
    global _flusher
    if len(_pending) >= MAX_PENDING:
        LOST.labels(event.kind.value).inc()
        return
    payload = encode(
        event.kind,
        visitor,
        product=event.product,
        query=event.query,
        filters=event.filters,
        result_count=event.result_count,
    )
    _pending.append((event.kind, payload))
    if _flusher is None or _flusher.done():
        _flusher = asyncio.get_running_loop().create_task(_flush_soon())


async def _flush_soon() -> None:
    await asyncio.sleep(FLUSH_SECONDS)
    await flush()


async def flush() -> None:
    """Push every waiting event now (the batch task calls this; so does shutdown)."""
    if not _pending:
        return
    batch = _pending[:]
    _pending.clear()
    kinds = [kind for kind, _payload in batch]
    try:
        await asyncio.wait_for(buffer(*(payload for _kind, payload in batch)), TIMEOUT_SECONDS)
    except Exception:  # noqa: BLE001 - any failure of the buffer loses the events, not a page
        _count(LOST, kinds)
        log.warning("analytics events dropped", extra={"count": len(batch)})
        return
    _count(RECORDED, kinds)


def _record(scope: Scope, event: Tracked) -> None:
    tracked: list[Tracked] | None = scope.get(TRACKED_KEY)  # type: ignore[call-overload,assignment]
    if tracked is not None:
        tracked.append(event)
    _enqueue(visitor_of(device_id_of(scope)), event)


def device_id_of(scope: Scope) -> str:
    return str(scope.get(DEVICE_KEY, ""))  # type: ignore[call-overload]


def replay(scope: Scope, events: Sequence[Tracked]) -> None:
    """Record `events` (tracked when a cached page was rendered) for this visitor."""
    visitor = visitor_of(device_id_of(scope)) if events else ""
    for event in events:
        _enqueue(visitor, event)


async def track(
    request: Request,
    kind: EventKind,
    *,
    product: int | None = None,
    query: str = "",
    filters: dict[str, str] | None = None,
    result_count: int | None = None,
) -> None:
    _record(
        request.scope,
        Tracked(kind, product, query, dict(filters or {}), result_count),
    )


async def track_search(
    request: Request, params: dict[str, str], result_count: int, page: int
) -> None:
    """The product list: a search (its text, filters and result count) when the visitor
    typed or filtered, and a filter_use when filters were set. Later pages are not new
    searches."""
    if page != 1:
        return
    text = params.get("q", "")
    filters = {key: value for key, value in params.items() if key not in ("q", "page") and value}
    if not text and not filters:
        return
    await track(request, EventKind.SEARCH, query=text, filters=filters, result_count=result_count)
    if {key for key in filters if key != "sort"}:
        await track(request, EventKind.FILTER_USE, filters=filters)


__all__ = ["EventKind", "Tracked", "flush", "replay", "track", "track_search"]
