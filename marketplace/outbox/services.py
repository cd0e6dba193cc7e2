"""Transactional outbox: jobs are rows written with the change that causes them.

The row is the source of truth, not Redis. Dispatching (right after commit, and by the
sweeper) hands the row to the queue under a lease; a row is done only when its handler's
effect has committed in the same transaction that marks it done. A failed run is retried
with exponential backoff and full jitter, then parked as dead for an operator. Whatever
the queue loses (a flushed Redis, a killed worker) is re-sent when its lease runs out."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from marketplace import jobs
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import (
    Statement,
    engine,
    fetch,
    on_commit,
    on_commit_collect,
    savepoint,
    transaction,
    write_before_commit,
)
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.outbox.tables import OutboxMessage, OutboxStatus
from marketplace.security import redact_sensitive
from marketplace.settings import Settings, settings
from marketplace.tracing import current_request_id

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]
ERROR_LENGTH = 300
# Rows per queue job and per transaction of the worker: each handler runs in a savepoint
# of its own, and PostgreSQL keeps up to 64 subtransactions per backend in shared memory.
BATCH_SIZE = 16


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float
    lease_seconds: float
    job_timeout_seconds: float

    @classmethod
    def from_settings(cls, config: Settings) -> RetryPolicy:
        return cls(
            max_attempts=config.outbox_max_attempts,
            base_seconds=config.outbox_retry_base_seconds,
            max_seconds=config.outbox_retry_max_seconds,
            lease_seconds=config.outbox_lease_seconds,
            job_timeout_seconds=config.outbox_job_timeout_seconds,
        )

    def backoff(self, attempts: int) -> float:
        """Full jitter: uniform over [0, min(cap, base·2^(attempts-1))], so a crowd of
        failing rows spreads out instead of retrying in step."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** min(attempts - 1, 30))
        return random.uniform(0, ceiling)  # noqa: S311 - spreading load, not a secret


class RecordedFailure(Exception):
    """A handler failure that leaves a trace of its own (a webhook's failed attempt): the
    handler's transaction rolls back, so `record()` runs in the one that records the
    failed run, and only if that run is still current."""

    async def record(self) -> None:
        raise NotImplementedError


# Module-level so tests can swap in a fast policy.
POLICY = RetryPolicy.from_settings(settings)


async def record(job: str, **payload: int | str) -> None:
    """Payloads carry ids only — never personal data.

    The row is written with the transaction's other last writes, just before its commit
    (`write_before_commit`: no round trip of its own), already leased to the queue, and
    enqueued right after the commit together with the transaction's other rows (one
    queue job for them all): no second transaction per job. Should the enqueue fail, the
    rows are made due at once for the sweeper; should the process die between the commit
    and the enqueue, the sweeper sends them when their lease ends. (A transaction that
    outlives the lease may have its rows sent twice; `execute` skips the second run.)"""
    await write_before_commit(_insert_rows, _message(job, payload), written=_send_committed)


async def record_now(job: str, **payload: int | str) -> int:
    """`record`, written at once: for a caller that keeps the row's id. Returns it."""
    sql, args = _insert_rows([_message(job, payload)])
    [row] = await fetch(sql, *args)
    on_commit_collect(_send_committed, row)
    return int(row["id"])


def _message(job: str, payload: Mapping[str, int | str]) -> tuple[str, str]:
    if job not in jobs.JOB_NAMES:
        raise ValueError(f"unknown job {job!r}")
    if engine().current_transaction.get() is None:
        raise RuntimeError("outbox.record() needs the caller's open transaction()")
    return job, json.dumps(payload)


# What the sender needs of a leased row; the lease (its end, in ms) names the queue job.
_LEASED = (
    "RETURNING id, runs, floor(extract(epoch FROM next_attempt_at) * 1000)::bigint AS lease_ms"
)
_INSERT_ROWS_SQL = (
    "INSERT INTO outbox_message (job, payload, next_attempt_at) "
    "SELECT job, payload::jsonb, clock_timestamp() + make_interval(secs => {{}}) "
    "FROM unnest({{}}::text[], {{}}::text[]) WITH ORDINALITY AS m(job, payload, n) "
    "ORDER BY n {leased}"
)
_INSERT_ROWS = _INSERT_ROWS_SQL.format(leased=_LEASED)


def _insert_rows(messages: list[tuple[str, str]]) -> Statement:
    """Rows in the order recorded (ids ascending: a batch runs them in that order)."""
    return _INSERT_ROWS, [
        POLICY.lease_seconds,
        [job for job, _payload in messages],
        [payload for _job, payload in messages],
    ]


async def _send_committed(rows: list[dict[str, Any]]) -> None:
    await _SENDER.send(rows)


class _Sender:
    """Enqueues committed rows in batches, like a group commit: while one enqueue is in
    flight, the rows that other transactions of this process commit meanwhile wait for
    the next, so under load one Redis round trip carries many rows, and when idle none
    waits for another. Each caller returns once its rows have been handed over (or
    released for the sweeper)."""

    def __init__(self) -> None:
        self._waiting: list[dict[str, Any]] = []
        self._round: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def send(self, rows: list[dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and self._task.get_loop() is not loop:
            # Left by an event loop that has ended (one per test): its rows are leased, so
            # the sweeper sends them.
            self._waiting, self._round, self._task = [], None, None
        self._waiting.extend(rows)
        if self._round is None:
            self._round = loop.create_future()
        handed_over = self._round
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        await asyncio.shield(handed_over)

    async def _run(self) -> None:
        while self._waiting:
            rows, self._waiting = self._waiting, []
            handed_over, self._round = self._round, None
            try:
                for start in range(0, len(rows), BATCH_SIZE):
                    await _enqueue_or_release(rows[start : start + BATCH_SIZE])
            finally:
                if handed_over is not None and not handed_over.done():
                    handed_over.set_result(None)


_SENDER = _Sender()


async def _enqueue_or_release(rows: list[dict[str, Any]]) -> None:
    try:
        await _enqueue(rows)
    except Exception as exc:  # noqa: BLE001 - the sweeper sends them once they are due
        log.warning(
            "outbox enqueue of %s rows from %s failed (%s); left for the sweeper",
            len(rows),
            rows[0]["id"],
            type(exc).__name__,
        )
        await _release([row["id"] for row in rows])


async def _enqueue(rows: list[dict[str, Any]]) -> None:
    """Hand leased rows to the queue as one job. One queue id per delivery (the first
    row's id, run and lease): arq silently drops a job id it still remembers."""
    first = rows[0]
    await jobs.enqueue(
        jobs.BATCH_JOB,
        job_id=f"outbox-{first['id']}-{first['runs']}-{first['lease_ms']}",
        messages=[[row["id"], row["runs"]] for row in rows],
    )


async def _release(ids: list[int]) -> None:
    """Rows whose enqueue failed are due now, for the sweeper's next round."""
    try:
        await OutboxMessage.raw(
            "UPDATE outbox_message SET next_attempt_at = now() "
            "WHERE id = ANY({}) AND status = 'pending' AND runs = 0",
            ids,
        )
    except Exception as exc:  # noqa: BLE001 - the lease ends anyway
        log.warning("outbox release failed (%s); due when the lease ends", type(exc).__name__)


async def dispatch(ids: list[int]) -> int:
    """Send the due pending rows among `ids`; safe to race with the sweeper."""
    return await _dispatch_due(ids, len(ids))


async def sweep(batch: int = 500) -> int:
    """Re-send every pending row whose attempt is due or whose lease ran out."""
    return await _dispatch_due(None, batch)


_LEASE_DUE_SQL = (
    "UPDATE outbox_message SET next_attempt_at = now() + make_interval(secs => {{}}) "
    "WHERE id IN (SELECT id FROM outbox_message WHERE status = 'pending' "
    "AND next_attempt_at <= now() AND ({{}} OR id = ANY({{}})) "
    "ORDER BY next_attempt_at LIMIT {{}} FOR UPDATE SKIP LOCKED) {leased}"
)
_LEASE_DUE = _LEASE_DUE_SQL.format(leased=_LEASED)


async def _dispatch_due(ids: list[int] | None, batch: int) -> int:
    # Enqueued inside the transaction that takes the lease: if Redis refuses, the lease
    # rolls back and the row stays due for the next sweep.
    async with transaction():
        rows = await OutboxMessage.raw(
            _LEASE_DUE,
            POLICY.lease_seconds,
            ids is None,
            ids or [],
            batch,
        )
        for start in range(0, len(rows), BATCH_SIZE):
            await _enqueue(rows[start : start + BATCH_SIZE])
    return len(rows)


async def execute(handler: Handler, ctx: dict, message_id: int, run: int) -> OutboxStatus | None:
    """Run one delivery of a row: the handler's effect and `done` commit together.

    A delivery for a row that is no longer pending, or that another run has overtaken
    (`run` differs), is skipped: duplicates from the queue are harmless. Returns the
    row's status after this run, or None when skipped."""
    return await _execute_alone(lambda _job: handler, ctx, message_id, run)


async def _execute_alone(
    handler_of: Callable[[str], Handler], ctx: dict, message_id: int, run: int
) -> OutboxStatus | None:
    try:
        async with transaction():
            rows = await OutboxMessage.raw(
                "SELECT job, payload, status, runs FROM outbox_message WHERE id = {} FOR UPDATE",
                message_id,
            )
            if not rows or rows[0]["status"] != OutboxStatus.PENDING or rows[0]["runs"] != run:
                return None
            async with asyncio.timeout(POLICY.job_timeout_seconds):
                await handler_of(rows[0]["job"])(ctx, **_payload(rows[0]["payload"]))
            await OutboxMessage.raw(
                "UPDATE outbox_message SET status = 'done', done_at = now(), "
                "attempts = attempts + 1, runs = runs + 1 WHERE id = {}",
                message_id,
            )
        return OutboxStatus.DONE
    except Exception as exc:  # noqa: BLE001 - every failure is recorded and retried
        return await _record_failure(message_id, run, exc)


@contextmanager
def _row_run(row: Mapping[str, Any]) -> Iterator[None]:
    """Log lines inside name the row's own run, as a one-row job's do (`jobs.py`)."""
    token = current_request_id.set(f"job:{row['job']}:{row['id']}:{row['runs']}")
    try:
        yield
    finally:
        current_request_id.reset(token)


async def execute_batch(
    handlers: Mapping[str, Handler], ctx: dict, messages: Sequence[Sequence[int]]
) -> dict[int, OutboxStatus]:
    """Run one delivery of several rows ([id, run] pairs) in one transaction: each
    handler in a savepoint of its own, so a failing row rolls back alone and is recorded
    as failed (retried with backoff, or dead) in the same transaction, while the others'
    effects commit with their `done`. Rows no longer pending or overtaken are skipped as
    in `execute`. Should the transaction itself fail (a lost connection, its commit), each
    row runs again on its own. Returns the status of every row that ran."""
    runs = {int(message_id): int(run) for message_id, run in messages}
    statuses: dict[int, OutboxStatus] = {}
    failures: list[tuple[Mapping[str, Any], Exception, OutboxStatus]] = []
    try:
        async with transaction():
            rows = await OutboxMessage.raw(
                "SELECT id, job, payload, status, attempts, runs FROM outbox_message "
                "WHERE id = ANY({}) ORDER BY id FOR UPDATE",
                list(runs),
            )
            done = []
            for row in rows:
                if row["status"] != OutboxStatus.PENDING or row["runs"] != runs[row["id"]]:
                    continue
                try:
                    with _row_run(row):
                        async with savepoint(), asyncio.timeout(POLICY.job_timeout_seconds):
                            await handlers[row["job"]](ctx, **_payload(row["payload"]))
                except Exception as exc:  # noqa: BLE001 - recorded with the batch
                    status = await _fail(row, exc)
                    failures.append((row, exc, status))
                    statuses[row["id"]] = status
                else:
                    done.append(row["id"])
                    statuses[row["id"]] = OutboxStatus.DONE
            if done:
                await OutboxMessage.raw(
                    "UPDATE outbox_message SET status = 'done', done_at = now(), "
                    "attempts = attempts + 1, runs = runs + 1 WHERE id = ANY({})",
                    done,
                )
    except Exception as batch_error:  # noqa: BLE001 - nothing of the batch committed
        log.warning(
            "outbox batch of %s rows from %s failed (%s); running them one by one",
            len(runs),
            min(runs),
            type(batch_error).__name__,
        )
        alone = {
            message_id: await _execute_alone(handlers.__getitem__, ctx, message_id, run)
            for message_id, run in runs.items()
        }
        return {message_id: status for message_id, status in alone.items() if status}
    for row, error, status in failures:
        with _row_run(row):
            _log_failure(row, error, status)
    return statuses


class BatchRunner:
    """One worker's batch jobs, merged: the rows of jobs that arrive while `PARALLEL`
    batches are running wait and then run together, up to BATCH_SIZE rows per
    transaction. A backlog of one-row jobs (a submission each) is thus delivered many to
    a transaction, and an idle worker runs a job at once. Whichever waiting job finds a
    free slot runs the next batch, its rows or others'; a job cancelled mid-batch (the
    worker stopping) puts the unfinished rows back for the others, and what nobody runs
    stays pending for the sweeper."""

    PARALLEL = 2

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self.handlers = handlers
        self._waiting: list[_Waiting] = []
        self._running = 0
        self._changed: asyncio.Future[None] | None = None

    async def run(self, ctx: dict, messages: Sequence[Sequence[int]]) -> dict[int, OutboxStatus]:
        mine = _Waiting([(int(m), int(r)) for m, r in messages])
        self._waiting.append(mine)
        while mine.statuses is None:
            if self._running < self.PARALLEL and self._waiting:
                await self._run_next(ctx)
            else:
                if self._changed is None:
                    self._changed = asyncio.get_running_loop().create_future()
                await asyncio.shield(self._changed)
        return mine.statuses

    async def _run_next(self, ctx: dict) -> None:
        taken = [self._waiting.pop(0)]
        size = len(taken[0].messages)
        while self._waiting and size + len(self._waiting[0].messages) <= BATCH_SIZE:
            size += len(self._waiting[0].messages)
            taken.append(self._waiting.pop(0))
        self._running += 1
        try:
            statuses = await execute_batch(
                self.handlers, ctx, [message for job in taken for message in job.messages]
            )
            for job in taken:
                job.statuses = {m: statuses[m] for m, _run in job.messages if m in statuses}
        finally:
            self._running -= 1
            self._waiting[:0] = [job for job in taken if job.statuses is None]
            if self._changed is not None and not self._changed.done():
                self._changed.set_result(None)
            self._changed = None


@dataclass
class _Waiting:
    messages: list[tuple[int, int]]
    statuses: dict[int, OutboxStatus] | None = None


async def _record_failure(message_id: int, run: int, exc: Exception) -> OutboxStatus | None:
    async with transaction():
        rows = await OutboxMessage.raw(
            "SELECT id, job, status, attempts, runs FROM outbox_message WHERE id = {} FOR UPDATE",
            message_id,
        )
        if not rows or rows[0]["status"] != OutboxStatus.PENDING or rows[0]["runs"] != run:
            return None
        status = await _fail(rows[0], exc)
    _log_failure(rows[0], exc, status)
    return status


async def _fail(row: Mapping[str, Any], exc: Exception) -> OutboxStatus:
    """Record a failed run of a row locked by the caller's transaction."""
    if isinstance(exc, RecordedFailure):
        await exc.record()
    attempts = row["attempts"] + 1
    status = OutboxStatus.DEAD if attempts >= POLICY.max_attempts else OutboxStatus.PENDING
    delay = POLICY.backoff(attempts) if status == OutboxStatus.PENDING else 0.0
    await OutboxMessage.raw(
        "UPDATE outbox_message SET attempts = {}, runs = runs + 1, status = {}, "
        "last_error = {}, next_attempt_at = now() + make_interval(secs => {}) WHERE id = {}",
        attempts,
        status.value,
        redact_sensitive(f"{type(exc).__name__}: {exc}")[:ERROR_LENGTH],
        delay,
        row["id"],
    )
    return status


def _log_failure(row: Mapping[str, Any], exc: Exception, status: OutboxStatus) -> None:
    # The class only: an exception's text may carry what it was handed.
    log.warning(
        "outbox %s (%s) attempt %s failed with %s; now %s",
        row["id"],
        row["job"],
        row["attempts"] + 1,
        type(exc).__name__,
        status.value,
    )


def _payload(raw: Any) -> dict[str, Any]:
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


async def retry_message(actor: Actor, message_id: int) -> None:
    """An operator gives a dead row a new series of attempts, due now."""
    if not actor.can("jobs.manage"):
        raise PermissionDenied()
    async with transaction():
        rows = await OutboxMessage.raw(
            "SELECT status, job FROM outbox_message WHERE id = {} FOR UPDATE", message_id
        )
        if not rows:
            raise NotFound(_("任务不存在"))
        if rows[0]["status"] != OutboxStatus.DEAD:
            return  # already retried (a double click) or never dead: nothing to do
        await _revive([message_id])
        await audit(actor, "job.retry", "outbox_message", message_id, job=rows[0]["job"])
        on_commit(lambda: _dispatch_quietly([message_id]))


async def retry_dead(actor: Actor, job: str | None = None) -> int:
    """Retry every dead row (of one job, if given); returns how many."""
    if not actor.can("jobs.manage"):
        raise PermissionDenied()
    async with transaction():
        rows = await OutboxMessage.raw(
            "SELECT id FROM outbox_message WHERE status = 'dead' AND ({} OR job = {}) "
            "ORDER BY id FOR UPDATE",
            job is None,
            job or "",
        )
        ids = [row["id"] for row in rows]
        if ids:
            await _revive(ids)
            await audit(actor, "job.retry_dead", "outbox_message", job or "*", count=len(ids))
            on_commit(lambda: _dispatch_quietly(ids))
    return len(ids)


async def _revive(ids: list[int]) -> None:
    await OutboxMessage.raw(
        "UPDATE outbox_message SET status = 'pending', attempts = 0, next_attempt_at = now() "
        "WHERE id = ANY({})",
        ids,
    )


async def _dispatch_quietly(ids: list[int]) -> None:
    try:
        await dispatch(ids)
    except Exception as exc:  # noqa: BLE001 - the rows are due: the sweeper sends them
        log.warning("outbox dispatch failed (%s); left for the sweeper", type(exc).__name__)
