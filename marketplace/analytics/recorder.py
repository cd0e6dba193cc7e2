"""Behaviour events (A12): what visitors do, never who they are.

The web layer hands an event to `buffer`, which pushes one small JSON object onto a Redis
list (LPUSH, one round trip) and returns; the cron job `analytics.flush_events` moves
batches into PostgreSQL. No user id and no IP address: the visitor is a keyed hash of the
first-party device cookie, truncated, with a key used for nothing else, so the id cannot
be joined with the anti-fraud device records. Search text is stored as typed (bounded),
since it is what the operators need to see; it is never linked to an account."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from marketplace.cache import redis
from marketplace.settings import settings

KEY = "analytics:events"
# If the worker stops flushing, the buffer stops growing here (oldest kept, newest dropped
# is not possible with a list: the newest are kept and the oldest trimmed).
MAX_BUFFERED = 500_000
MAX_QUERY = 100
MAX_FILTERS = 12
MAX_FILTER_VALUE = 60
MAX_ID = 2_147_483_647


class EventKind(StrEnum):
    PRODUCT_VIEW = "product_view"
    SEARCH = "search"
    FILTER_USE = "filter_use"
    CALCULATOR_USE = "calculator_use"
    APPLY_FORM_OPENED = "apply_form_opened"
    APPLY_SUBMITTED = "apply_submitted"
    CONSENT_GIVEN = "consent_given"


KINDS = frozenset(kind.value for kind in EventKind)


def visitor_of(device_id: str) -> str:
    """The pseudonymous visitor id for a device cookie ('' without one)."""
    if not device_id:
        return ""
    key = hashlib.sha256(f"analytics-visitor:{settings.secret_key}".encode()).digest()
    return hmac.new(key, device_id.encode(), hashlib.sha256).hexdigest()[:32]


def _int(value: Any, maximum: int = MAX_ID) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= maximum else None


def cleaned(event: dict[str, Any]) -> dict[str, Any] | None:
    """An event as stored, or None when it is not one we record: unknown kind, bad time.
    Everything is bounded to its column; the filters keep short string values only."""
    kind = event.get("kind")
    if kind not in KINDS:
        return None
    try:
        at = datetime.fromisoformat(str(event.get("at")))
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    raw_filters = event.get("filters")
    filters: dict[str, str] = {}
    if isinstance(raw_filters, dict):
        for name, value in list(raw_filters.items())[:MAX_FILTERS]:
            if isinstance(name, str) and name and len(name) <= 30 and value not in (None, ""):
                filters[name] = str(value)[:MAX_FILTER_VALUE]
    visitor = event.get("visitor")
    return {
        "kind": kind,
        "visitor": visitor[:32] if isinstance(visitor, str) else "",
        "at": at,
        "product": _int(event.get("product")),
        "query": str(event.get("query") or "")[:MAX_QUERY],
        "filters": filters,
        "result_count": _int(event.get("result_count")),
    }


def encode(
    kind: EventKind,
    visitor: str,
    *,
    product: int | None = None,
    query: str = "",
    filters: dict[str, str] | None = None,
    result_count: int | None = None,
    at: datetime | None = None,
) -> str:
    return json.dumps(
        {
            "kind": kind.value,
            "visitor": visitor,
            "at": (at or datetime.now(UTC)).isoformat(),
            "product": product,
            "query": query[:MAX_QUERY],
            "filters": filters or {},
            "result_count": result_count,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


async def buffer(*payloads: str) -> None:
    """One LPUSH of every payload (and a trim) in one round trip, oldest first. Raises when
    Redis is unreachable: the caller counts the loss and carries on."""
    async with redis().pipeline(transaction=False) as pipe:
        pipe.lpush(KEY, *payloads)
        pipe.ltrim(KEY, 0, MAX_BUFFERED - 1)
        await pipe.execute()


async def take_batch(size: int) -> list[str]:
    """The oldest `size` buffered events, removed from the buffer."""
    async with redis().pipeline(transaction=False) as pipe:
        pipe.rpop(KEY, size)
        [taken] = await pipe.execute()
    return list(taken or [])


async def buffered() -> int:
    async with redis().pipeline(transaction=False) as pipe:
        pipe.llen(KEY)
        [length] = await pipe.execute()
    return int(length)
