"""When does what anonymous visitors browse stop being true? (issue 14, page cache)

Two ways, and the web layer's page cache (server/page_cache.py) listens to both:

- A write changes it. Every such write is audited, so `audit.record` calls `changed()`
  after commit for the actions in CATALOGUE_ACTIONS; the search index job calls it too,
  once the index shows the change. `changed()` puts a fresh random token in Redis (the
  catalogue generation), which every web process reads per request. A token rather than a
  counter: when Redis loses the key (restart, flush) a new token is made, so nothing cached
  under the old one can match again.
- The clock changes it (a banner's start and end). A query whose answer moves at a known
  moment tells `changes_in(how_soon)`, measured on its own clock (which tests move); a
  renderer that is `watching()` collects them.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

from marketplace.cache import redis

log = logging.getLogger(__name__)

GENERATION_KEY = "catalogue:generation"
# Audited actions that change a page anonymous visitors see: products and their prices,
# promotions, ranking, categories, banners and campaigns, articles, published ratings,
# institutions (suspension takes their products away), delivery, parameters and the
# actual APRs offered (from offers) shown on product pages. An action listed here that
# turns out not to matter costs one re-render per page.
CATALOGUE_ACTIONS: tuple[str, ...] = (
    "product.",
    "promotion.",
    "ranking.",
    "category.",
    "campaign.",
    "content.article_",
    "rating.",
    "institution.",
    "monitoring.case_suspend",
    "monitoring.case_resume",
    "agreement.",
    "delivery.settings_saved",
    "offer.made",
    "parameter.change",
    "legal.published",
)


def affects_catalogue(action: str) -> bool:
    return action.startswith(CATALOGUE_ACTIONS)


async def changed() -> None:
    """A new catalogue generation. Runs after commit: a Redis failure is logged, not
    raised (the write has happened); the page cache's short TTL bounds what it costs."""
    try:
        await redis().set(GENERATION_KEY, secrets.token_hex(8))
    except Exception:  # noqa: BLE001 - the committed write must not turn into an error
        log.warning("catalogue generation not bumped", exc_info=True)


async def generation() -> str:
    """The current generation (made, if Redis has none). Raises when Redis is unreachable."""
    r = redis()
    current = await r.get(GENERATION_KEY)
    if current is None:
        await r.set(GENERATION_KEY, secrets.token_hex(8), nx=True)
        current = await r.get(GENERATION_KEY)
    return str(current)


_horizon: ContextVar[list[timedelta] | None] = ContextVar("freshness_horizon", default=None)


def changes_in(how_soon: timedelta) -> None:
    """The answer just read stops being true by the clock alone `how_soon` from now."""
    horizon = _horizon.get()
    if horizon is not None:
        horizon.append(how_soon)


def is_watched() -> bool:
    """Whether anyone collects `changes_in` (so a query may skip computing them)."""
    return _horizon.get() is not None


@contextmanager
def watching() -> Iterator[list[timedelta]]:
    """Collect what reads inside this block report through `changes_in`."""
    horizon: list[timedelta] = []
    token = _horizon.set(horizon)
    try:
        yield horizon
    finally:
        _horizon.reset(token)
