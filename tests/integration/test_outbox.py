"""The transactional outbox: nothing is enqueued for a rolled-back change, and the
sweeper delivers what a lost post-commit enqueue left behind."""

from __future__ import annotations

import pytest

from marketplace import jobs, outbox
from marketplace.db import transaction
from marketplace.outbox.services import sweep
from marketplace.outbox.tables import OutboxMessage


class Boom(Exception):
    pass


async def test_rollback_records_and_enqueues_nothing():
    with pytest.raises(Boom):
        async with transaction():
            await outbox.record("notifications.deliver", notification_id=1)
            raise Boom
    assert await OutboxMessage.count() == 0
    assert await jobs.run_until_idle() == 0


async def test_commit_enqueues_once_and_marks_dispatched():
    async with transaction():
        await outbox.record("notifications.deliver", notification_id=1)
    message = await OutboxMessage.objects().first()
    assert message.dispatched_at is not None and message.attempts == 1
    assert await sweep(min_age_seconds=0) == 0, "already dispatched: the sweeper leaves it"
    assert await jobs.run_until_idle() == 1


async def test_sweeper_delivers_undispatched_messages():
    await OutboxMessage.insert(
        OutboxMessage(job="notifications.deliver", payload={"notification_id": 7})
    )
    assert await sweep(min_age_seconds=0) == 1
    assert (await OutboxMessage.objects().first()).dispatched_at is not None
    assert await jobs.run_until_idle() == 1


async def test_payloads_carry_ids_only():
    with pytest.raises(ValueError):
        async with transaction():
            await outbox.record("no.such.job", product_id=1)
