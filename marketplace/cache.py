"""The shared Redis connection (sessions, throttles, one-time codes), and the process
caches of catalogue read models (below)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

from redis.asyncio import Redis

from marketplace.db import commits, engine
from marketplace.i18n import LANGUAGE
from marketplace.settings import settings
from marketplace.tracing import current_request_id

P = ParamSpec("P")
R = TypeVar("R")

_redis: Redis | None = None


def redis() -> Redis:
    global _redis
    if _redis is None:
        if not settings.redis_url:
            raise RuntimeError("REDIS_URL is not set")
        _redis = Redis.from_url(settings.redis_url, decode_responses=True)
    return _redis


async def close() -> None:
    global _redis
    if _redis is not None:
        await _redis.aclose()
        _redis = None


# --- Process caches of catalogue read models -------------------------------------------
#
# The discovery pages read the same few things on every request: cards, category names,
# ordering rules, promotion slots, parameters. They change rarely, and only through
# writes to a handful of tables, each of which carries a trigger bumping the one-row
# `catalogue_version` table when the writer's transaction commits (the "catalogue
# version" migrations, `catalogue_version_sql` below). A reader compares that token with
# the one its process cache was filled under: the next request after a commit sees the
# change, in every process, with no hook to forget in any service and whatever wrote the
# row (a job, a migration, SQL). The token is read before the data, so data is only ever
# kept under a token at least as old as itself.

CATALOGUE_VERSION_SQL = "SELECT token FROM catalogue_version WHERE id = 1"
# Bounds a process's cache between two catalogue changes (a card is a few kB).
MAX_ENTRIES = 5_000

_pinned: ContextVar[int | None] = ContextVar("pinned_catalogue", default=None)
# A token read with another statement of a web request: (token, request id, `commits()`
# at that moment).
_offered: ContextVar[tuple[int, str, int] | None] = ContextVar("offered_catalogue", default=None)


class _Entries:
    """What one process has read under one catalogue version."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.values: dict[Hashable, Any] = {}

    def under(self, version: int) -> dict[Hashable, Any]:
        if version != self.version or len(self.values) > MAX_ENTRIES:
            self.version = version
            self.values = {}
        return self.values


_entries = _Entries()


async def catalogue_version() -> int | None:
    """The token of the catalogue's last committed change; None while the cache must not
    be used: inside a transaction (which may have changed what it reads), or in a
    process without a connection pool."""
    db = engine()
    if db.current_transaction.get() is not None:
        return None
    pinned = _pinned.get()
    if pinned is not None:
        return pinned
    offered = _offered.get()
    if offered is not None and offered[1:] == (current_request_id.get(), commits()):
        return offered[0]
    pool = db.pool
    # Without a pool (a script) every read opens a connection anyway.
    return None if pool is None else await pool.fetchval(CATALOGUE_VERSION_SQL)


def offer_catalogue_version(token: int) -> None:
    """A token the request read anyway, with a statement it runs first (the signed-in
    actor's row, `CATALOGUE_VERSION_SQL` as a column of it): the request's reads take it
    instead of a round trip of their own, until it commits a transaction (its own write
    may have changed the catalogue). Only within the web request that read it."""
    request_id = current_request_id.get()
    if request_id is not None:
        _offered.set((token, request_id, commits()))


@asynccontextmanager
async def pinned_catalogue() -> AsyncIterator[None]:
    """Read the catalogue version once for a whole request: every cached read inside
    answers from the same version (one round trip instead of one per read)."""
    version = await catalogue_version()
    token = _pinned.set(version)
    try:
        yield
    finally:
        _pinned.reset(token)


async def catalogue_entries() -> dict[Hashable, Any] | None:
    """This process's entries for the current catalogue version (None: read uncached)."""
    version = await catalogue_version()
    return None if version is None else _entries.under(version)


def catalogue_cached(
    read: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[R]]:
    """`read` answered from the process cache while the catalogue has not changed.

    Its arguments must be hashable and its value treated as read-only by every caller
    (frozen read models; a dict or list is handed out as a copy)."""
    name = f"{read.__module__}.{read.__qualname__}"

    @wraps(read)
    async def cached(*args: P.args, **kwargs: P.kwargs) -> R:
        entries = await catalogue_entries()
        if entries is None:
            return await read(*args, **kwargs)
        key = (name, LANGUAGE, args, tuple(sorted(kwargs.items())))
        try:
            value = entries[key]
        except KeyError:
            value = entries[key] = await read(*args, **kwargs)
        return cast(R, copy.copy(value)) if isinstance(value, dict | list) else value

    return cached


def catalogue_version_sql(*tables: str) -> list[str]:
    """Migration statements: a transaction that writes one of `tables` bumps the catalogue
    version once, at its commit. Idempotent, so each context's migration may create the
    shared table and function. The token comes from a sequence, so it never repeats, even
    after the tables are truncated (the tests' reset). Deferred to commit, the version
    row is always the last lock a writer takes, so two writers never deadlock on it."""
    return [
        "CREATE SEQUENCE IF NOT EXISTS catalogue_version_seq",
        "CREATE TABLE IF NOT EXISTS catalogue_version ("
        "id integer PRIMARY KEY CHECK (id = 1), token bigint NOT NULL)",
        "INSERT INTO catalogue_version (id, token) "
        "VALUES (1, nextval('catalogue_version_seq')) ON CONFLICT (id) DO NOTHING",
        "CREATE OR REPLACE FUNCTION bump_catalogue_version() RETURNS trigger "
        "LANGUAGE plpgsql AS $$\nBEGIN\n"
        "    IF current_setting('loanmart.catalogue_bumped', true) IS DISTINCT FROM 'yes' THEN\n"
        "        UPDATE catalogue_version SET token = nextval('catalogue_version_seq')"
        " WHERE id = 1;\n"
        "        PERFORM set_config('loanmart.catalogue_bumped', 'yes', true);\n"
        "    END IF;\n"
        "    RETURN NULL;\nEND;\n$$",
        *(
            statement
            for table in tables
            for statement in (
                f"CREATE CONSTRAINT TRIGGER {table}_catalogue_version "
                f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "DEFERRABLE INITIALLY DEFERRED "
                "FOR EACH ROW EXECUTE FUNCTION bump_catalogue_version()",
                f"CREATE TRIGGER {table}_catalogue_truncated AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_catalogue_version()",
            )
        ),
    ]
