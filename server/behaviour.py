"""Recording behaviour events from the web layer (A12), never in the way of the page.

`track(request, kind, …)` pushes one event onto the Redis buffer with a short timeout; if
Redis is slow or down the event is dropped and counted (loanmart_analytics_events_lost),
and the page renders as usual."""

from __future__ import annotations

import asyncio
import logging

from litestar import Request
from prometheus_client import Counter

from marketplace.analytics.recorder import EventKind, buffer, encode, visitor_of
from server.device import device_id
from server.metrics import REGISTRY

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 0.2
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


async def track(
    request: Request,
    kind: EventKind,
    *,
    product: int | None = None,
    query: str = "",
    filters: dict[str, str] | None = None,
    result_count: int | None = None,
) -> None:
    payload = encode(
        kind,
        visitor_of(device_id(request)),
        product=product,
        query=query,
        filters=filters,
        result_count=result_count,
    )
    try:
        await asyncio.wait_for(buffer(payload), TIMEOUT_SECONDS)
    except Exception:  # noqa: BLE001 - any failure of the buffer loses the event, not the page
        LOST.labels(kind.value).inc()
        log.warning("analytics event dropped", extra={"kind": kind.value})
        return
    RECORDED.labels(kind.value).inc()


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


__all__ = ["EventKind", "track", "track_search"]
