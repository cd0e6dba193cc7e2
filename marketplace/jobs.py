"""The arq seam: the only module that imports arq (it is in maintenance mode upstream,
so swapping the queue means rewriting this file alone)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.cron import cron
from arq.worker import Worker, create_worker, func
from redis.exceptions import RedisError

from marketplace.contexts import Cron, cron_table, job_table
from marketplace.settings import settings
from marketplace.tracing import current_request_id

log = logging.getLogger(__name__)

# job name -> "module:function", declared by each context (marketplace/contexts.py);
# handlers take ids and are idempotent (at-least-once).
JOBS: dict[str, str] = job_table()
JOB_NAMES = frozenset(JOBS)
# The queue job that runs several outbox rows (of any of the jobs above) at once.
BATCH_JOB = "outbox.batch"

_pool: ArqRedis | None = None


def redis_settings() -> RedisSettings:
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set")
    return RedisSettings.from_dsn(settings.redis_url)


async def enqueue(job: str, *, job_id: str, **kwargs: Any) -> None:
    global _pool
    if _pool is None:
        _pool = await create_pool(redis_settings())
    await _pool.enqueue_job(job, _job_id=job_id, **kwargs)


async def close() -> None:
    global _pool
    if _pool is not None:
        await _pool.aclose()
        _pool = None


def _resolve(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


# Before every job and cron: handlers pick recipients by permission, so a worker sees the
# role matrix as the super admin last left it (one Redis GET). Resolved by name: accounts
# imports this module through the outbox.
REFRESH_PERMISSIONS = "marketplace.accounts.role_matrix:ensure_fresh"


def _cron_job(entry: Cron) -> Any:
    target = _resolve(entry.target)
    refresh_permissions = _resolve(REFRESH_PERMISSIONS)

    async def run(ctx: dict) -> Any:
        current_request_id.set(f"cron:{entry.name}")
        await refresh_permissions()
        return await target()

    run.__qualname__ = run.__name__ = entry.name.replace(".", "_")
    schedule = _schedule(entry)
    return cron(
        run,
        name=entry.name,
        run_at_startup=entry.run_at_startup,
        second=schedule["second"],
        minute=schedule.get("minute"),
        hour=schedule.get("hour"),
    )


def _schedule(entry: Cron) -> dict[str, set[int]]:
    """arq's calendar fields for "every N seconds" (N divides a minute, hour or day)."""
    every = entry.every_seconds
    if every < 60:
        return {"second": set(range(0, 60, every))}
    if every < 3600:
        return {"second": {0}, "minute": set(range(0, 60, every // 60))}
    return {"second": {0}, "minute": {0}, "hour": set(range(0, 24, max(1, every // 3600)))}


Lifecycle = Callable[[], Awaitable[None]]

# How long the worker waits before reconnecting to Redis: doubling up to the cap.
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 30.0
# Jobs still running when the worker stops or loses Redis get this long to finish.
DRAIN_SECONDS = 10.0


# Every job runs through the outbox's delivery step. Named like the handlers and resolved
# when the worker is built: the outbox imports this module to enqueue.
DELIVERY = "marketplace.outbox.services:execute"
BATCH_RUNNER = "marketplace.outbox.services:BatchRunner"
BATCH_SIZE = "marketplace.outbox.services:BATCH_SIZE"


def _outbox_job(name: str, target: str) -> Any:
    """The queue carries only an outbox row id and its run number; the row holds the
    payload, and the delivery step commits the handler's effect with the row's `done`."""
    deliver = _resolve(DELIVERY)
    refresh_permissions = _resolve(REFRESH_PERMISSIONS)
    handler = _resolve(target)

    async def run(ctx: dict, message_id: int, run: int) -> str:
        # arq runs each job in its own task: the id stays with this run's log lines.
        current_request_id.set(f"job:{name}:{message_id}:{run}")
        await refresh_permissions()
        status = await deliver(handler, ctx, message_id, run)
        return str(status) if status else "skipped"

    run.__qualname__ = run.__name__ = name.replace(".", "_")
    # arq's own timeout only backs up the outbox's, which records the failure.
    return func(run, name=name, timeout=settings.outbox_job_timeout_seconds + 30, max_tries=1)


def _outbox_batch_job() -> Any:
    """The queue carries [row id, run] pairs; the rows run in one transaction, with the
    rows of other batch jobs this worker runs at the same time."""
    runner = _resolve(BATCH_RUNNER)({name: _resolve(target) for name, target in JOBS.items()})
    refresh_permissions = _resolve(REFRESH_PERMISSIONS)

    async def run(ctx: dict, messages: list[list[int]]) -> str:
        current_request_id.set(f"job:{BATCH_JOB}:{messages[0][0]}:{messages[0][1]}")
        await refresh_permissions()
        statuses = await runner.run(ctx, messages)
        return f"{len(statuses)} of {len(messages)} ran"

    run.__qualname__ = run.__name__ = BATCH_JOB.replace(".", "_")
    # Each row of a batch (the outbox sends at most BATCH_SIZE) may take its own timeout.
    timeout = settings.outbox_job_timeout_seconds * _resolve(BATCH_SIZE) + 30
    return func(run, name=BATCH_JOB, timeout=timeout, max_tries=1)


def worker_settings() -> dict[str, Any]:
    return {
        "functions": [
            _outbox_batch_job(),
            *(_outbox_job(name, target) for name, target in JOBS.items()),
        ],
        "cron_jobs": [_cron_job(entry) for entry in cron_table()],
        "redis_settings": redis_settings(),
        # The outbox retries with backoff; arq only delivers (and never retries itself).
        "max_tries": 1,
        # Enough batch jobs in hand for the runner to merge a backlog of one-row jobs.
        "max_jobs": 32,
        # No result is kept (one Redis write less per job): the outbox row is the record,
        # and every enqueue has a job id of its own, so nothing relies on arq refusing a
        # job id it remembers from a finished job.
        "keep_result": 0,
        "health_check_interval": 30,
    }


def run_worker(on_startup: Lifecycle, on_shutdown: Lifecycle) -> None:
    """Run until SIGINT/SIGTERM. `on_startup`/`on_shutdown` come from the composition
    root (server/), which wires the adapters a worker needs; the domain does not import it.

    A lost Redis does not end the process: the worker reconnects with backoff, and the
    outbox re-sends whatever the queue lost meanwhile.

    On uvloop, the web workers' event loop (uvicorn's): a delivery is mostly round trips to
    PostgreSQL and Redis, each about half the CPU of asyncio's own loop there."""
    uvloop.run(_serve(on_startup, on_shutdown))


async def _serve(on_startup: Lifecycle, on_shutdown: Lifecycle) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await on_startup()
    try:
        delay = RECONNECT_FIRST_SECONDS
        while not stopping.is_set():
            started = time.monotonic()
            outage = await _run_until_stopped_or_lost(stopping)
            if outage is None:
                break
            if time.monotonic() - started > RECONNECT_MAX_SECONDS:
                delay = RECONNECT_FIRST_SECONDS  # it had been working: start over
            log.warning("worker lost Redis (%s); reconnecting in %.1fs", outage, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)
    finally:
        await on_shutdown()


async def _run_until_stopped_or_lost(stopping: asyncio.Event) -> str | None:
    """One arq worker's life: returns the error class name if Redis was lost, None if
    asked to stop."""
    worker = create_worker(worker_settings(), handle_signals=False)
    main = asyncio.create_task(worker.main())
    stop = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({main, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not main.done():
            return None
        error = main.exception()
        if isinstance(error, RedisError | OSError):
            return type(error).__name__
        if error is not None:
            raise error
        return None
    finally:
        stop.cancel()
        await _drain(worker, main)


async def _drain(worker: Worker, main: asyncio.Task) -> None:
    main.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):  # already reported
        await main
    running = [task for task in worker.tasks.values() if not task.done()]
    if running:
        _, late = await asyncio.wait(running, timeout=DRAIN_SECONDS)
        for task in late:
            task.cancel()  # its transaction rolls back; the lease brings the row back
        await asyncio.gather(*running, return_exceptions=True)
    if worker._pool is not None:  # noqa: SLF001 - arq's close() needs a live Redis
        with contextlib.suppress(RedisError, OSError):
            await worker._pool.aclose()  # noqa: SLF001


async def run_until_idle() -> int:
    """Run queued jobs in this process until the queue is empty (arq burst mode).

    Used by `loanmart` maintenance and the tests; returns the number of jobs completed."""
    options = worker_settings()
    options["cron_jobs"] = []
    worker = create_worker(options, burst=True, poll_delay=0.05)
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker.jobs_complete
