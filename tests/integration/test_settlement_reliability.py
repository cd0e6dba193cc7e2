"""Billing survives the worker and Redis dying mid-way, tried with real processes (the
approach of test_job_reliability): the bill job's worker is SIGKILLed while the job is in
its transaction and Redis is flushed; the outbox row is run again by the next worker and
the lead is billed exactly once. In-process: a run that fails after its effect rolls the
effect back, and the retry bills once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from marketplace import outbox
from marketplace.db import transaction
from marketplace.dburl import engine_config
from marketplace.outbox import services as outbox_services
from marketplace.outbox.tables import OutboxMessage, OutboxStatus
from marketplace.settings import settings
from marketplace.settlement import jobs as settlement_jobs
from marketplace.settlement.periods import LOCK_SPACE
from marketplace.settlement.tables import BillingEvent
from tests.integration.test_job_reliability import (  # noqa: F401 - fixtures
    _wait_for,
    _worker_ready,
    queue,
    redis_server,
    workers,
)
from tests.integration.test_outbox import _drive_until_settled
from tests.settlement_factories import lead, terms


class Boom(Exception):
    pass


async def _bill_row() -> OutboxMessage:
    message = await OutboxMessage.objects().where(OutboxMessage.job == "settlement.bill").first()
    assert message is not None
    return message


async def _waiting_for_the_settlement_lock() -> bool:
    rows = await BillingEvent.raw(
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid = {}",
        LOCK_SPACE,
    )
    return rows[0]["n"] > 0


async def test_a_killed_worker_and_a_flushed_redis_still_bill_the_lead_once(
    world,
    queue,  # noqa: F811 - the fixture imported above
    workers,  # noqa: F811
):
    await terms(world.bank_id, "cpl", "30")
    application_id = await lead(world, datetime.now(UTC) - timedelta(hours=1))
    # Held by "someone issuing a statement": the bill job will wait inside its transaction.
    blocker = await asyncpg.connect(**engine_config(settings.database_url))
    try:
        await blocker.execute("BEGIN")
        await blocker.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_SPACE, world.bank_id)
        async with transaction():
            await outbox.record("settlement.bill", kind="cpl", application_id=application_id)
        first = workers(queue.url)
        await _worker_ready(queue, first)
        await _wait_for(_waiting_for_the_settlement_lock, 30, "the bill job never started")
        first.kill()  # SIGKILL mid-job: its transaction can never commit
        assert await queue.run("FLUSHALL")  # and the queue forgets everything
    finally:
        await blocker.execute("ROLLBACK")
        await blocker.close()
    assert await BillingEvent.count() == 0
    assert (await _bill_row()).status == OutboxStatus.PENDING

    second = workers(queue.url)
    await _worker_ready(queue, second)

    async def billed() -> bool:
        return (await _bill_row()).status == OutboxStatus.DONE

    await _wait_for(billed, 45, "the outbox row was not run again")
    events = await BillingEvent.select().where(BillingEvent.application == application_id)
    assert len(events) == 1
    assert (await _bill_row()).runs >= 1
    assert second.alive(), second.output()


@pytest.fixture
def fast_policy(monkeypatch):
    policy = replace(outbox_services.POLICY, max_attempts=4, base_seconds=0.001, max_seconds=0.01)
    monkeypatch.setattr(outbox_services, "POLICY", policy)
    return policy


async def test_a_run_failing_after_its_effect_is_retried_and_bills_once(
    world, fast_policy, monkeypatch
):
    await terms(world.bank_id, "cpl", "30")
    application_id = await lead(world, datetime.now(UTC) - timedelta(hours=1))
    real = settlement_jobs.bill
    calls = []

    async def dying(ctx: dict, **payload: object) -> None:
        calls.append(payload)
        await real(ctx, **payload)  # type: ignore[arg-type]
        if len(calls) <= 2:
            raise Boom("worker lost its connection")  # after the effect: rolled back

    monkeypatch.setattr(settlement_jobs, "bill", dying)
    async with transaction():
        await outbox.record("settlement.bill", kind="cpl", application_id=application_id)
    message = await _drive_until_settled("settlement.bill")
    assert message.status == OutboxStatus.DONE and len(calls) == 3
    assert await BillingEvent.count().where(BillingEvent.application == application_id) == 1
    # A duplicate delivery of the finished row, and the handler run by hand: still one.
    await asyncio.gather(*(real({}, kind="cpl", application_id=application_id) for _ in range(3)))
    assert await BillingEvent.count().where(BillingEvent.application == application_id) == 1
