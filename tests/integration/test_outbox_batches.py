"""The outbox in batches: the rows a transaction records go to the queue as one job and run
in one worker transaction, each handler in a savepoint of its own. One failing row rolls
back alone and is retried; a batch killed mid-way commits nothing and the sweeper sends it
again; a worker merges the one-row jobs it holds at once into shared transactions."""

from __future__ import annotations

import asyncio
import json

import pytest

from marketplace import cache, jobs, outbox
from marketplace.applications import jobs as application_jobs
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.db import savepoint, transaction
from marketplace.errors import NotFound
from marketplace.outbox import services as outbox_services
from marketplace.outbox.services import execute_batch, sweep
from marketplace.outbox.tables import OutboxMessage, OutboxStatus
from tests import factories
from tests.integration.test_outbox import Boom, fast_policy  # noqa: F401 - a fixture


async def _submitted(world, count: int) -> list[int]:
    """Submitted applications, with the jobs their setup recorded already run."""
    application_ids = [
        await factories.application_in(world, status="submitted") for _ in range(count)
    ]
    await jobs.run_until_idle()
    return application_ids


async def _queued_jobs() -> int:
    return int(await cache.redis().zcard("arq:queue"))


async def _deliveries_recorded(application_ids: list[int]) -> list[int]:
    async with transaction():
        return [
            await outbox.record_now("applications.deliver", application_id=application_id)
            for application_id in application_ids
        ]


async def _status(application_id: int) -> str:
    return (await Application.objects().get(Application.id == application_id)).status


async def _delivered_events(application_id: int) -> int:
    return await ApplicationEvent.count().where(
        (ApplicationEvent.application == application_id) & (ApplicationEvent.status == "delivered")
    )


async def _follow_ups_of(application_id: int) -> int:
    """Rows the delivery recorded for this lead (pre-screen, billing)."""
    rows = await OutboxMessage.raw(
        "SELECT count(*) AS n FROM outbox_message WHERE job <> 'applications.deliver' "
        "AND (payload->>'application_id')::int = {}",
        application_id,
    )
    return int(rows[0]["n"])


async def _transactions_that_finished(message_ids: list[int]) -> int:
    """Rows marked done by one transaction share its start time (`now()`)."""
    rows = await OutboxMessage.raw(
        "SELECT count(DISTINCT done_at) AS n FROM outbox_message WHERE id = ANY({})",
        message_ids,
    )
    return int(rows[0]["n"])


async def test_a_transactions_rows_are_one_queue_job_and_one_worker_transaction(world):
    application_ids = await _submitted(world, 3)
    message_ids = await _deliveries_recorded(application_ids)
    assert await _queued_jobs() == 1, "three rows, one queue job"
    await jobs.run_until_idle()
    assert [await _status(a) for a in application_ids] == ["delivered"] * 3
    done = await OutboxMessage.count().where(
        OutboxMessage.id.is_in(message_ids) & (OutboxMessage.status == OutboxStatus.DONE)
    )
    assert done == 3
    assert await _transactions_that_finished(message_ids) == 1


@pytest.mark.usefixtures("fast_policy")
async def test_one_failing_lead_in_a_batch_neither_blocks_nor_loses_the_others(world, monkeypatch):
    first, failing, last = await _submitted(world, 3)
    real_handler = application_jobs.deliver_application_job
    calls: list[int] = []

    async def failing_after_its_effect(ctx: dict, application_id: int, **rest: object) -> bool:
        calls.append(application_id)
        delivered = await real_handler(ctx, application_id, **rest)
        if application_id == failing and calls.count(failing) == 1:
            raise Boom("institution gateway timed out")
        return delivered

    monkeypatch.setattr(application_jobs, "deliver_application_job", failing_after_its_effect)
    first_id, failing_id, last_id = await _deliveries_recorded([first, failing, last])
    await jobs.run_until_idle()

    assert await _status(first) == await _status(last) == "delivered"
    assert await _status(failing) == "submitted", "its effect rolled back with its savepoint"
    assert await _delivered_events(failing) == 0
    assert await _follow_ups_of(failing) == 0, "nothing it recorded survives"
    assert await _follow_ups_of(first) > 0 and await _follow_ups_of(last) > 0
    row = await OutboxMessage.objects().get(OutboxMessage.id == failing_id)
    assert (row.status, row.attempts, row.runs) == (OutboxStatus.PENDING, 1, 1)
    assert row.last_error == "Boom: institution gateway timed out"
    assert await _transactions_that_finished([first_id, last_id]) == 1

    for _ in range(20):  # its retry, after the backoff
        await sweep()
        await jobs.run_until_idle()
        if await _status(failing) == "delivered":
            break
        await asyncio.sleep(0.02)
    assert await _status(failing) == "delivered"
    assert [await _delivered_events(a) for a in (first, failing, last)] == [1, 1, 1]
    assert calls.count(first) == calls.count(last) == 1


async def test_a_batch_killed_mid_way_commits_nothing_and_the_sweeper_sends_it_again(world):
    application_ids = await _submitted(world, 3)
    before = await OutboxMessage.count()
    message_ids = await _deliveries_recorded(application_ids)
    await cache.redis().flushdb()  # the queue lost the job along with the worker
    real_handler = application_jobs.deliver_application_job
    stuck = asyncio.Event()

    async def hanging_on_the_last(ctx: dict, application_id: int, **rest: object) -> bool:
        delivered = await real_handler(ctx, application_id, **rest)
        if application_id == application_ids[-1]:
            stuck.set()
            await asyncio.Event().wait()  # the worker is killed here
        return delivered

    handlers = {**_handlers(), "applications.deliver": hanging_on_the_last}
    batch = asyncio.create_task(
        execute_batch(handlers, {}, [[message_id, 0] for message_id in message_ids])
    )
    await stuck.wait()
    batch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await batch
    assert [await _status(a) for a in application_ids] == ["submitted"] * 3
    rows = await OutboxMessage.objects().where(OutboxMessage.id.is_in(message_ids))
    assert {(row.status, row.runs) for row in rows} == {(OutboxStatus.PENDING, 0)}
    assert await OutboxMessage.count() == before + 3, "the follow-ups it recorded rolled back"

    assert await sweep() == 0, "still leased"
    await OutboxMessage.raw("UPDATE outbox_message SET next_attempt_at = now()")  # lease ends
    assert await sweep() == 3
    assert await _queued_jobs() == 1, "re-sent as one batch"
    await jobs.run_until_idle()
    assert [await _status(a) for a in application_ids] == ["delivered"] * 3
    assert [await _delivered_events(a) for a in application_ids] == [1, 1, 1]


async def test_the_worker_merges_the_one_row_jobs_it_holds_into_shared_transactions(world):
    application_ids = await _submitted(world, 6)
    message_ids = []
    for application_id in application_ids:  # one transaction each: six queue jobs
        message_ids += await _deliveries_recorded([application_id])
    assert await _queued_jobs() == 6
    await jobs.run_until_idle()
    assert [await _status(a) for a in application_ids] == ["delivered"] * 6
    assert await _transactions_that_finished(message_ids) < 6


async def test_a_savepoint_that_fails_takes_back_what_it_recorded():
    async with transaction():
        await outbox.record("notifications.deliver", notification_id=1)
        with pytest.raises(Boom):
            async with savepoint():
                await outbox.record("notifications.deliver", notification_id=2)
                raise Boom
        async with savepoint():
            await outbox.record("notifications.deliver", notification_id=3)
    rows = await OutboxMessage.select(OutboxMessage.payload).order_by(OutboxMessage.id)
    assert [json.loads(row["payload"])["notification_id"] for row in rows] == [1, 3]
    assert await _queued_jobs() == 1
    await jobs.run_until_idle()
    statuses = await OutboxMessage.select(OutboxMessage.status)
    assert {row["status"] for row in statuses} == {OutboxStatus.DONE}


async def test_a_file_stored_by_a_savepoint_that_fails_goes_again():
    """A batched handler that stores a file and then fails leaves no file behind; files of
    the parts that succeed stay with the committed transaction."""
    from marketplace import storage

    async with transaction():
        with pytest.raises(Boom):
            async with savepoint():
                await storage.put("exports/failed-part.csv", b"a", content_type="text/csv")
                raise Boom
        async with savepoint():
            await storage.put("exports/kept-part.csv", b"b", content_type="text/csv")
    with pytest.raises(NotFound):
        await storage.get("exports/failed-part.csv")
    assert await storage.get("exports/kept-part.csv") == b"b"


def _handlers() -> dict:
    return {name: jobs._resolve(target) for name, target in jobs.JOBS.items()}  # noqa: SLF001


async def test_a_batch_whose_transaction_fails_runs_again_row_by_row():
    recorded_failures = []

    class Refused(outbox_services.RecordedFailure):
        async def record(self) -> None:
            recorded_failures.append(self)
            if len(recorded_failures) == 1:
                raise ConnectionError("lost the database while recording")

    calls: list[int] = []

    async def handler(ctx: dict, notification_id: int, **_: object) -> None:
        calls.append(notification_id)
        if notification_id == 3:
            raise Refused("receiver said no")

    async with transaction():
        message_ids = [
            await outbox.record_now("notifications.deliver", notification_id=number)
            for number in (1, 2, 3)
        ]
    statuses = await execute_batch(
        {"notifications.deliver": handler}, {}, [[message_id, 0] for message_id in message_ids]
    )
    assert calls == [1, 2, 3, 1, 2, 3], "the batch, then each row on its own"
    assert statuses == {
        message_ids[0]: OutboxStatus.DONE,
        message_ids[1]: OutboxStatus.DONE,
        message_ids[2]: OutboxStatus.PENDING,
    }
    rows = await OutboxMessage.objects().order_by(OutboxMessage.id)
    assert [(row.status, row.attempts, row.runs) for row in rows] == [
        (OutboxStatus.DONE, 1, 1),
        (OutboxStatus.DONE, 1, 1),
        (OutboxStatus.PENDING, 1, 1),
    ]
    assert await _transactions_that_finished(message_ids[:2]) == 2
