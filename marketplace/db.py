"""Database engine and the transaction helper every service uses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import lru_cache, partial
from string import Formatter
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

from marketplace.dburl import engine_config
from marketplace.settings import settings

AfterCommit = Callable[[], Awaitable[None]]
_after_commit: ContextVar[list[AfterCommit] | None] = ContextVar("after_commit", default=None)
_after_rollback: ContextVar[list[AfterCommit] | None] = ContextVar("after_rollback", default=None)
_before_commit: ContextVar[list[_Collected] | None] = ContextVar("before_commit", default=None)
_commits: ContextVar[int] = ContextVar("commits", default=0)


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


async def fetch(template: str, *args: Any) -> list[dict[str, Any]]:
    """What `Table.raw(template, *args)` returns, for the statements of the busiest paths
    (a submission, every signed-in request): Piccolo parses the template anew on every
    call, ~20 µs of CPU per statement; here it is numbered once per template. Same `{}`
    placeholders, plain values only (no Piccolo columns or query strings); the open
    transaction's connection when there is one, else the pool."""
    db = engine()
    current = db.current_transaction.get()
    if current is not None:
        records = await current.connection.fetch(_numbered(template), *args)
    elif db.pool is not None:
        records = await db.pool.fetch(_numbered(template), *args)
    else:  # a process that started no pool (a script): Piccolo opens a connection
        records = await db.run_querystring(QueryString(template, *args))
    return [dict(record) for record in records]


@lru_cache(maxsize=256)
def _numbered(template: str) -> str:
    """`template`'s `{}` placeholders as PostgreSQL's `$1`…`$n`, in order (`{{` and `}}`
    are literal braces), as Piccolo's QueryString compiles them."""
    parts: list[str] = []
    fields = 0
    for literal, field, _spec, _conversion in Formatter().parse(template):
        parts.append(literal)
        if field is not None:
            if field:
                raise ValueError(f"only empty {{}} placeholders, not {{{field}}}")
            fields += 1
            parts.append(f"${fields}")
    return "".join(parts)


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
            if pending:
                await _write_pending(pending, callbacks)
    except BaseException:
        for callback in undo:
            await callback()
        raise
    finally:
        _after_commit.reset(token)
        _after_rollback.reset(undo_token)
        _before_commit.reset(pending_token)
    _commits.set(_commits.get() + 1)
    for callback in callbacks:
        await callback()


def commits() -> int:
    """How many transactions this request (this task) has committed so far: what it read
    before a commit may be older than its own writes."""
    return _commits.get()


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
    """One call of `send` with every item the transaction collected for it: after the
    commit (`on_commit_collect`), or as one of the writes just before it
    (`write_before_commit`, whose `written` callback then gets the rows it returned)."""

    def __init__(self, send: Callable[[list[Any]], Any], written: Written | None = None) -> None:
        self.send = send
        self.written = written
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


def _collect(
    callbacks: list[Any],
    send: Callable[[list[Any]], Any],
    item: Any,
    written: Written | None = None,
) -> None:
    """Add `item` to the `_Collected` call of `send` among `callbacks`, adding that call
    the first time."""
    collected = next((c for c in callbacks if isinstance(c, _Collected) and c.send is send), None)
    if collected is None:
        collected = _Collected(send, written)
        callbacks.append(collected)
    collected.items.append(item)


Statement = tuple[str, Sequence[Any]]  # a `fetch` template and its arguments
# What a write's `RETURNING` gave, as JSON values (numbers, strings, lists, objects).
Written = Callable[[list[dict[str, Any]]], Awaitable[None]]


async def write_before_commit(
    statement: Callable[[list[Any]], Statement], *items: Any, written: Written | None = None
) -> None:
    """Write `items` just before the open transaction commits, for rows nothing reads
    earlier: `statement(items)` writes every item collected for it, in order, and all the
    transaction's such writes go in one statement (one round trip: a submission's audit
    rows, the borrower's profile and its outbox row). Items collected in a savepoint that
    fails go with it. With `written`, the statement ends in `RETURNING`, and `written`
    gets those rows after the commit (one `written` per `statement`: the first given).
    Outside a `transaction()` the items are written at once (and `written` runs then)."""
    pending = _before_commit.get()
    if not items:
        return
    if pending is None:
        write = _Collected(statement, written)
        write.items.extend(items)
        [rows] = await _write_together([write])
        if written is not None:
            await written(rows)
    else:
        for item in items:
            _collect(pending, statement, item, written)


def by_column(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Rows as one array per column: any number of rows as one `unnest(...)` statement
    with a fixed number of parameters (building the ORM's INSERT costs more CPU than
    running it)."""
    return [list(column) for column in zip(*rows, strict=True)]


async def _write_pending(pending: list[_Collected], after_commit: list[AfterCommit]) -> None:
    """The transaction's collected writes, as its last statement; the rows of those that
    asked for them go to their `written` callbacks after the commit."""
    returned = await _write_together(pending)
    for write, rows in zip(pending, returned, strict=True):
        if write.written is not None:
            after_commit.append(partial(write.written, rows))


# Each write one data-modifying CTE: they all see the same snapshot, so none may touch a
# row another one writes (each `statement` writes its own table). A write whose rows are
# wanted is read back as one JSON array.
_WRITE_PART = "write_{number} AS ({sql})"
_WRITES = "WITH {parts} SELECT {results}"
_RESULT = "(SELECT coalesce(json_agg(w), '[]') FROM write_{number} AS w) AS write_{number}"


async def _write_together(writes: list[_Collected]) -> list[list[dict[str, Any]]]:
    """Send `writes`, each with its items, in one statement; the rows each returned, as
    JSON values ([] for those without `written`)."""
    statements = [write.send(write.items) for write in writes]
    wanted = [number for number, write in enumerate(writes, 1) if write.written is not None]
    if len(statements) == 1 and not wanted:
        [(sql, args)] = statements
        await fetch(sql, *args)
        return [[]]
    parts = ", ".join(
        _WRITE_PART.format(number=number, sql=sql)
        for number, (sql, _args) in enumerate(statements, 1)
    )
    results = ", ".join(_RESULT.format(number=number) for number in wanted) or "1"
    [row] = await fetch(
        _WRITES.format(parts=parts, results=results),
        *(arg for _sql, args in statements for arg in args),
    )
    return [
        _json(row[f"write_{number}"]) if number in wanted else []
        for number in range(1, len(statements) + 1)
    ]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


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
