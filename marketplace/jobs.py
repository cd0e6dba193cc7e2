"""The arq seam: the only module that imports arq (it is in maintenance mode upstream,
so swapping the queue means rewriting this file alone)."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.cron import cron
from arq.worker import func

from marketplace.settings import settings

log = logging.getLogger(__name__)

# job name -> "module:function"; handlers take ids and are idempotent (at-least-once).
JOBS: dict[str, str] = {
    "search.index_product": "search.sync:index_product_job",
    "applications.deliver": "marketplace.applications.jobs:deliver_application_job",
    "notifications.deliver": "marketplace.notifications.jobs:deliver_notification_job",
}
JOB_NAMES = frozenset(JOBS)

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


async def _sweep_outbox(ctx: dict) -> int:
    from marketplace.outbox.services import sweep

    return await sweep()


async def _startup(ctx: dict) -> None:
    from server.lifecycle import start_services

    await start_services()


async def _shutdown(ctx: dict) -> None:
    from server.lifecycle import stop_services

    await stop_services()


def worker_settings() -> dict[str, Any]:
    return {
        "functions": [func(_resolve(target), name=name) for name, target in JOBS.items()],
        "cron_jobs": [cron(_sweep_outbox, second=set(range(0, 60, 5)), run_at_startup=True)],
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "redis_settings": redis_settings(),
        "max_tries": 8,
        "keep_result": 3600,
        "health_check_interval": 30,
    }


def run_worker() -> None:
    from arq.worker import run_worker as arq_run_worker

    arq_run_worker(worker_settings())  # type: ignore[arg-type]


async def run_until_idle(*, with_lifecycle: bool = False) -> int:
    """Run queued jobs in this process until the queue is empty (arq burst mode).

    Used by `loanmart` maintenance and the tests; returns the number of jobs completed."""
    from arq.worker import create_worker

    options = worker_settings()
    if not with_lifecycle:
        options.pop("on_startup")
        options.pop("on_shutdown")
    options["cron_jobs"] = []
    worker = create_worker(options, burst=True, poll_delay=0.05)
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker.jobs_complete
