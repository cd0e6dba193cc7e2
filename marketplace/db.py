"""Database engine and the transaction helper every service uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from marketplace.dburl import engine_config
from marketplace.settings import settings

AfterCommit = Callable[[], Awaitable[None]]
_after_commit: ContextVar[list[AfterCommit] | None] = ContextVar("after_commit", default=None)
_after_rollback: ContextVar[list[AfterCommit] | None] = ContextVar("after_rollback", default=None)
_before_commit: ContextVar[list[_Collected] | None] = ContextVar("before_commit", default=None)


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
    pending: list[_Collected] = []
    token = _after_commit.set(callbacks)
    undo_token = _after_rollback.set(undo)
    pending_token = _before_commit.set(pending)
    try:
        async with db.transaction():
            yield
            for write in pending:
                await write()
    except BaseException:
        for callback in undo:
            await callback()
        raise
    finally:
        _after_commit.reset(token)
        _after_rollback.reset(undo_token)
        _before_commit.reset(pending_token)
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


class _Collected:
    """One after-commit call of `send` with every item the transaction collected for it."""

    def __init__(self, send: Callable[[list[Any]], Awaitable[None]]) -> None:
        self.send = send
        self.items: list[Any] = []

    async def __call__(self) -> None:
        await self.send(self.items)


def on_commit_collect(send: Callable[[list[Any]], Awaitable[None]], item: Any) -> None:
    """Like `on_commit`, but `send` runs once after the commit, with every item collected
    for it during the transaction, in order."""
    callbacks = _after_commit.get()
    if callbacks is None:
        raise RuntimeError("on_commit_collect() needs an open transaction()")
    _collect(callbacks, send, item)


def _collect(callbacks: list[Any], send: Callable[[list[Any]], Awaitable[None]], item: Any) -> None:
    """Add `item` to the `_Collected` call of `send` among `callbacks`, adding that call
    the first time."""
    collected = next((c for c in callbacks if isinstance(c, _Collected) and c.send is send), None)
    if collected is None:
        collected = _Collected(send)
        callbacks.append(collected)
    collected.items.append(item)


def before_commit_collect(write: Callable[[list[Any]], Awaitable[None]], item: Any) -> bool:
    """Collect `item` for one call of `write` inside the open transaction, just before it
    commits, with every item collected for it, in order: rows that nothing reads before
    the commit go in one statement instead of one each. Items collected in a savepoint
    that fails go with it. False outside a `transaction()` (nothing collected: the
    caller writes the item itself)."""
    pending = _before_commit.get()
    if pending is None:
        return False
    _collect(pending, write, item)
    return True


@asynccontextmanager
async def savepoint() -> AsyncIterator[None]:
    """A part of the open transaction that may fail alone: on an error its writes and the
    `on_commit` callbacks it registered are undone, its `on_rollback` ones run (a file it
    stored goes again), and the error propagates; the transaction goes on. (A
    cancellation aborts the whole transaction instead.) A part that succeeds is not
    released: it ends with the transaction, one round trip less."""
    current = engine().current_transaction.get()
    callbacks = _after_commit.get()
    undo = _after_rollback.get()
    pending = _before_commit.get()
    if current is None or callbacks is None or undo is None or pending is None:
        raise RuntimeError("savepoint() needs an open transaction()")
    registered = len(callbacks)
    undo_registered = len(undo)
    pending_registered = len(pending)
    collected = [(c, len(c.items)) for c in [*callbacks, *pending] if isinstance(c, _Collected)]
    point = await current.savepoint()
    try:
        yield
    except Exception:
        await point.rollback_to()
        del callbacks[registered:]
        del pending[pending_registered:]
        for collector, count in collected:
            del collector.items[count:]
        undone, undo[undo_registered:] = undo[undo_registered:], []
        for callback in undone:
            await callback()
        raise
