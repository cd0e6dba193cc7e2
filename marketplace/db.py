"""Database engine and the transaction helper every service uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

from piccolo.engine.postgres import PostgresEngine

from marketplace.dburl import engine_config
from marketplace.settings import settings

AfterCommit = Callable[[], Awaitable[None]]
_after_commit: ContextVar[list[AfterCommit] | None] = ContextVar("after_commit", default=None)
_after_rollback: ContextVar[list[AfterCommit] | None] = ContextVar("after_rollback", default=None)


def make_engine(database_url: str) -> PostgresEngine:
    return PostgresEngine(config=engine_config(database_url), log_queries=False)


DB = make_engine(settings.database_url) if settings.database_url else None


async def _keep_session(_connection: object) -> None:
    """Nothing to undo when a connection goes back to the pool: no code here keeps session
    state (advisory locks are transaction-scoped; no SET, LISTEN or cursors outside a
    transaction — tests/unit/test_db_session_state.py). asyncpg still rolls back an open
    transaction first; its default reset would cost one more round trip per query."""


async def start_pool(*, max_size: int) -> None:
    await engine().start_connection_pool(min_size=1, max_size=max_size, reset=_keep_session)


def engine() -> PostgresEngine:
    if DB is None:
        raise RuntimeError(
            "DATABASE_URL is not set; run through `loanmart demo` or the test suite, "
            "which start the embedded PostgreSQL"
        )
    return DB


@asynccontextmanager
async def transaction() -> AsyncIterator[None]:
    """One unit of work. Nested calls join the outer one; `on_commit` callbacks run
    only after the outermost transaction has committed, `on_rollback` ones only after it
    has rolled back (before the error goes on)."""
    db = engine()
    if db.current_transaction.get() is not None:
        yield
        return
    callbacks: list[AfterCommit] = []
    undo: list[AfterCommit] = []
    token = _after_commit.set(callbacks)
    undo_token = _after_rollback.set(undo)
    try:
        async with db.transaction():
            yield
    except BaseException:
        for callback in undo:
            await callback()
        raise
    finally:
        _after_commit.reset(token)
        _after_rollback.reset(undo_token)
    for callback in callbacks:
        await callback()


def on_rollback(callback: AfterCommit) -> None:
    """Undo an effect outside the database (a stored file) if the open transaction rolls
    back; outside a transaction there is nothing to roll back, so nothing to do."""
    callbacks = _after_rollback.get()
    if callbacks is not None:
        callbacks.append(callback)


def on_commit(callback: AfterCommit) -> None:
    callbacks = _after_commit.get()
    if callbacks is None:
        raise RuntimeError("on_commit() needs an open transaction()")
    callbacks.append(callback)
