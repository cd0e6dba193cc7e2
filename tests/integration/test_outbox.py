"""The transactional outbox: nothing is enqueued for a rolled-back change; a row is done
only once its handler's effect has committed; failures retry with backoff, then park as
dead for an operator; the sweeper re-sends whatever the queue lost."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from marketplace import cache, jobs, outbox
from marketplace.applications import jobs as application_jobs
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.audit.tables import AuditEntry
from marketplace.db import transaction
from marketplace.outbox import services as outbox_services
from marketplace.outbox.services import execute, sweep
from marketplace.outbox.tables import OutboxMessage, OutboxStatus
from tests import factories
from tests.factories import listed_product
from tests.fixtures import login, soup


class Boom(Exception):
    pass


@pytest.fixture
def fast_policy(monkeypatch):
    """Three attempts, millisecond backoff, short leases."""
    policy = replace(outbox_services.POLICY, max_attempts=3, base_seconds=0.001, max_seconds=0.01)
    monkeypatch.setattr(outbox_services, "POLICY", policy)
    return policy


async def _message(job: str = "notifications.deliver") -> OutboxMessage:
    message = await OutboxMessage.objects().where(OutboxMessage.job == job).first()
    assert message is not None
    return message


async def _drive_until_settled(
    job: str = "notifications.deliver", rounds: int = 20
) -> OutboxMessage:
    """What the worker does: sweep due rows, run the queue; until the row settles."""
    for _ in range(rounds):
        await sweep()
        await jobs.run_until_idle()
        message = await _message(job)
        if message.status != OutboxStatus.PENDING:
            return message
        await asyncio.sleep(0.02)
    raise AssertionError(f"still pending after {rounds} rounds")


async def test_rollback_records_and_enqueues_nothing():
    with pytest.raises(Boom):
        async with transaction():
            await outbox.record("notifications.deliver", notification_id=1)
            raise Boom
    assert await OutboxMessage.count() == 0
    assert await jobs.run_until_idle() == 0


async def test_commit_dispatches_under_a_lease_and_the_run_marks_done():
    async with transaction():
        await outbox.record("notifications.deliver", notification_id=1)
    message = await _message()
    assert message.status == OutboxStatus.PENDING and message.runs == 0
    assert await sweep() == 0, "leased to the queue: the sweeper leaves it"
    assert await jobs.run_until_idle() == 1
    message = await _message()
    assert message.status == OutboxStatus.DONE and message.runs == 1
    assert message.done_at is not None


async def test_sweeper_resends_what_redis_lost():
    async with transaction():
        await outbox.record("notifications.deliver", notification_id=7)
    await cache.redis().flushdb()  # the queued job is gone
    assert await jobs.run_until_idle() == 0
    assert (await _message()).status == OutboxStatus.PENDING, "not done: nothing ran"
    await OutboxMessage.raw("UPDATE outbox_message SET next_attempt_at = now()")  # lease ends
    assert await sweep() == 1
    assert await jobs.run_until_idle() == 1
    assert (await _message()).status == OutboxStatus.DONE


async def test_a_refused_enqueue_leaves_the_row_due_for_the_next_sweep(monkeypatch):
    async def refused(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(jobs, "enqueue", refused)
    async with transaction():
        await outbox.record("notifications.deliver", notification_id=11)
    message = await _message()
    assert message.status == OutboxStatus.PENDING and message.runs == 0
    monkeypatch.undo()
    assert await sweep() == 1, "due at once, not when the lease it was written with ends"
    assert await jobs.run_until_idle() == 1
    assert (await _message()).status == OutboxStatus.DONE


async def test_handler_failing_twice_runs_three_times_and_its_effect_happens_once(
    world, fast_policy, monkeypatch
):
    product_id = await listed_product(world.staff, world.operator)
    application_id = await _submitted_application(world, product_id)
    real_handler = application_jobs.deliver_application_job
    calls = []

    async def flaky(ctx: dict, application_id: int, **rest: object) -> bool:
        calls.append(application_id)
        delivered = await real_handler(ctx, application_id, **rest)
        if len(calls) <= 2:
            raise Boom("gateway timed out")  # after the effect: it must roll back
        return delivered

    monkeypatch.setattr(application_jobs, "deliver_application_job", flaky)
    message = await _drive_until_settled("applications.deliver")
    assert len(calls) == 3
    assert message.status == OutboxStatus.DONE
    assert (message.attempts, message.runs) == (3, 3)
    assert message.last_error == "Boom: gateway timed out"
    assert (await Application.objects().get(Application.id == application_id)).status == (
        "delivered"
    )
    delivered = await ApplicationEvent.count().where(
        (ApplicationEvent.application == application_id) & (ApplicationEvent.status == "delivered")
    )
    assert delivered == 1


async def test_always_failing_handler_ends_dead_after_max_attempts(fast_policy, monkeypatch):
    calls = []

    async def broken(ctx: dict, notification_id: int, **_: object) -> None:
        calls.append(notification_id)
        raise Boom("no gateway")

    monkeypatch.setattr("marketplace.notifications.jobs.deliver_notification_job", broken)
    async with transaction():
        await outbox.record("notifications.deliver", notification_id=3)
    message = await _drive_until_settled()
    assert message.status == OutboxStatus.DEAD
    assert len(calls) == fast_policy.max_attempts == message.runs
    assert "Boom: no gateway" in message.last_error
    await OutboxMessage.raw("UPDATE outbox_message SET next_attempt_at = now() - interval '1h'")
    assert await sweep() == 0, "dead rows wait for an operator"
    assert len(calls) == fast_policy.max_attempts


async def test_a_second_delivery_of_a_done_row_is_skipped(monkeypatch):
    calls = []

    async def counting(ctx: dict, notification_id: int, **_: object) -> None:
        calls.append(notification_id)

    async with transaction():
        await outbox.record("notifications.deliver", notification_id=5)
    message = await _message()
    assert await execute(counting, {}, message.id, 0) == OutboxStatus.DONE
    assert await execute(counting, {}, message.id, 0) is None, "double delivery"
    assert await execute(counting, {}, message.id, 1) is None, "done is final"
    assert calls == [5]
    # The same holds through the queue: a duplicate job for the same run changes nothing.
    monkeypatch.setattr("marketplace.notifications.jobs.deliver_notification_job", counting)
    await jobs.enqueue("notifications.deliver", job_id="duplicate", message_id=message.id, run=0)
    await jobs.run_until_idle()
    assert calls == [5]


async def test_failure_messages_are_masked():
    async def leaky(ctx: dict, notification_id: int, **_: object) -> None:
        raise Boom("mobile 13912345678 refused")

    async with transaction():
        await outbox.record("notifications.deliver", notification_id=9)
    message = await _message()
    await execute(leaky, {}, message.id, 0)
    assert "13912345678" not in (await _message()).last_error


async def _submitted_application(world, product_id: int) -> int:
    from marketplace.applications.services import parse_application_input, submit_application
    from marketplace.consents.notices import build_notice
    from marketplace.products.tables import Product

    product = await Product.objects().get(Product.id == product_id)
    notice = build_notice("测试银行", "400-000-0000", product.name)
    form = factories.application_form(
        notice_digest=notice.digest, submission_key=f"outbox-test-{product_id:08d}", consent="yes"
    )
    await submit_application(world.borrower, parse_application_input(product_id, form))
    application = await Application.objects().first()
    return application.id


# -- operators: /admin/jobs ---------------------------------------------------------------


async def _dead_rows(count: int) -> list[int]:
    ids = []
    for number in range(count):
        rows = await OutboxMessage.insert(
            OutboxMessage(
                job="notifications.deliver",
                payload={"notification_id": number},
                status=OutboxStatus.DEAD.value,
                attempts=3,
                runs=3,
                last_error="Boom: no gateway",
            )
        ).returning(OutboxMessage.id)
        ids.append(rows[0]["id"])
    return ids


async def test_super_admin_sees_and_retries_dead_jobs_audited(client, world):
    await factories.user("operator", "root@loanmart.example", "super_admin", None, "管理员")
    dead = await _dead_rows(3)
    await login(client, "/admin/login", "root@loanmart.example")

    page = await client.get("/admin/jobs", params={"status": "dead"})
    assert page.status_code == 200
    rows = soup(page).select("tbody tr")
    assert len(rows) == 3 and "Boom: no gateway" in page.text
    assert "/admin/jobs" in {a["href"].split("?")[0] for a in soup(page).select("nav a")}

    response = await client.submit(f"/admin/jobs/{dead[0]}/retry", {"status": "dead"})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/jobs?status=dead&page=1"
    retried = await OutboxMessage.objects().get(OutboxMessage.id == dead[0])
    assert (retried.status, retried.attempts, retried.runs) == (OutboxStatus.PENDING, 0, 3)
    assert await jobs.run_until_idle() == 1
    assert (await OutboxMessage.objects().get(OutboxMessage.id == dead[0])).status == "done"

    response = await client.submit("/admin/jobs/retry-dead", {"job": "notifications.deliver"})
    assert response.status_code == 303
    assert await OutboxMessage.count().where(OutboxMessage.status == "dead") == 0
    entries = await AuditEntry.select(AuditEntry.action, AuditEntry.object_id).where(
        AuditEntry.action.like("job.%")
    )
    assert sorted((e["action"], e["object_id"]) for e in entries) == [
        ("job.retry", str(dead[0])),
        ("job.retry_dead", "notifications.deliver"),
    ]


@pytest.mark.parametrize(
    ("path", "login_path", "login_name"),
    [
        ("/admin/jobs", "/admin/login", "reviewer@loanmart.example"),
        ("/admin/jobs/1/retry", "/admin/login", "auditor@loanmart.example"),
        ("/admin/jobs/retry-dead", "/admin/login", "reviewer@loanmart.example"),
    ],
)
async def test_other_operator_roles_are_refused(client, world, path, login_path, login_name):
    await _dead_rows(1)
    await login(client, login_path, login_name)
    if path == "/admin/jobs":
        response = await client.get(path)
    else:
        response = await client.submit(path)
    assert response.status_code == 403
    assert await OutboxMessage.count().where(OutboxMessage.status == "dead") == 1
    assert await AuditEntry.count().where(AuditEntry.action.like("job.%")) == 0


async def test_auditor_reads_the_list_without_retry_buttons(client, world):
    await _dead_rows(1)
    await login(client, "/admin/login", "auditor@loanmart.example")
    page = await client.get("/admin/jobs")
    assert page.status_code == 200
    assert len(soup(page).select("tbody tr")) == 1
    assert not soup(page).select("form[method=post][action*='retry']")


async def test_staff_cannot_reach_the_jobs_page(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.get("/admin/jobs", follow_redirects=False)
    assert response.status_code in (303, 403)
    assert "Boom" not in response.text


async def test_hostile_filters_and_pages_never_fail(client, world):
    await factories.user("operator", "root@loanmart.example", "super_admin", None, "管理员")
    await _dead_rows(2)
    await login(client, "/admin/login", "root@loanmart.example")
    for params in (
        {"page": "²"},
        {"page": "9" * 40},
        {"page": "999"},
        {"status": "<script>", "job": "x" * 5000},
        {"status": "dead", "job": "notifications.deliver", "page": "-3"},
    ):
        response = await client.get("/admin/jobs", params=params)
        assert response.status_code == 200, params
        assert len(soup(response).select("tbody tr")) == 2, params
