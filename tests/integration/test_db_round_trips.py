"""Fewer round trips, same answers: `marketplace.db.fetch` (the busiest paths' statements
without Piccolo's per-call parsing) answers what `Table.raw` answers, on the transaction's
connection when one is open; `write_before_commit` sends a transaction's last writes (its
audit rows, the borrower's profile, its outbox rows) as one statement just before the
commit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from marketplace import cache, db, jobs, outbox
from marketplace.accounts.profiles import ProfileFacts, save_borrower_profile
from marketplace.accounts.tables import BorrowerProfile, User
from marketplace.audit.services import record as audit
from marketplace.audit.tables import AuditEntry
from marketplace.db import _numbered, fetch, transaction
from marketplace.inbox.services import notify_users
from marketplace.inbox.tables import InboxItem
from marketplace.outbox.tables import OutboxMessage, OutboxStatus
from tests import factories

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COLUMNS = (
    "SELECT id, display_name, status, {}::numeric AS amount, {}::text[] AS tags"
    " FROM app_user WHERE id = {}"
)


async def test_it_answers_what_piccolo_raw_answers():
    user = await factories.user("borrower", "13700003333", "borrower", None, "取数人")
    args = (Decimal("12.50"), ["a", "b"], user.user_id)
    assert await fetch(COLUMNS, *args) == await User.raw(COLUMNS, *args)
    [row] = await fetch(COLUMNS, *args)
    assert row == {
        "id": user.user_id,
        "display_name": "取数人",
        "status": "active",
        "amount": Decimal("12.50"),
        "tags": ["a", "b"],
    }
    # Doubled braces are literal ones (Piccolo's own compiler gets them wrong).
    assert await fetch("SELECT '{{}}'::jsonb AS empty, {}::int AS one", 1) == [
        {"empty": "{}", "one": 1}
    ]
    assert await fetch("SELECT id FROM app_user WHERE id = {}", -1) == []


async def test_inside_a_transaction_it_sees_and_loses_the_transactions_writes():
    user = await factories.user("borrower", "13700003333", "borrower", None, "取数人")
    rename = "UPDATE app_user SET display_name = {} WHERE id = {} RETURNING display_name"
    with pytest.raises(RuntimeError):
        async with transaction():
            assert await fetch(rename, "改名中", user.user_id) == [{"display_name": "改名中"}]
            [row] = await fetch("SELECT display_name FROM app_user WHERE id = {}", user.user_id)
            assert row["display_name"] == "改名中"
            raise RuntimeError("roll back")
    [row] = await fetch("SELECT display_name FROM app_user WHERE id = {}", user.user_id)
    assert row["display_name"] == "取数人"


def test_placeholders_are_numbered_in_order_and_doubled_braces_stay_literal():
    assert _numbered("a = {} AND b = ANY({}::int[]) AND c = '{{}}'") == (
        "a = $1 AND b = ANY($2::int[]) AND c = '{}'"
    )
    assert _numbered("SELECT 1") == "SELECT 1"
    with pytest.raises(ValueError, match="placeholders"):
        _numbered("SELECT {name}")


def _facts(city: str) -> ProfileFacts:
    return ProfileFacts(
        real_name="张伟",
        id_number=factories.valid_id_number(),
        city=city,
        monthly_income=Decimal("12000"),
        employment_type="employee",
    )


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """The templates `db.fetch` is asked to run from here on, in order."""
    sent: list[str] = []

    async def counted_fetch(template: str, *args: object) -> list[dict]:
        sent.append(template)
        return await fetch(template, *args)

    monkeypatch.setattr(db, "fetch", counted_fetch)
    return sent


async def test_a_transactions_last_writes_go_in_one_statement_just_before_its_commit(
    world, statements
):
    borrower = world.borrower.user_id
    async with transaction():
        await save_borrower_profile(borrower, _facts("北京"))
        await audit(world.borrower, "profile.update", "borrower_profile", borrower)
        await save_borrower_profile(borrower, _facts("上海"))  # twice: the last one
        assert statements == [], "nothing is written before the commit"
    [write] = statements
    assert "INSERT INTO borrower_profile" in write
    assert "INSERT INTO audit_entry" in write
    [profile] = await BorrowerProfile.select(BorrowerProfile.city)
    assert profile["city"] == "上海"
    assert [row.action for row in await AuditEntry.objects()] == ["profile.update"]


async def test_a_transaction_that_fails_leaves_none_of_its_last_writes(world):
    borrower = world.borrower.user_id
    with pytest.raises(ZeroDivisionError):
        async with transaction():
            await save_borrower_profile(borrower, _facts("北京"))
            await audit(world.borrower, "profile.update", "borrower_profile", borrower)
            _ = 1 / 0
    assert await BorrowerProfile.count() == 0
    assert await AuditEntry.count() == 0


async def test_a_last_write_that_fails_rolls_the_whole_transaction_back(world):
    """The collected writes fail at the commit, not where they were asked for: everything
    the transaction did goes with them, and the caller gets the error."""
    borrower = world.borrower.user_id
    with pytest.raises(asyncpg.exceptions.ForeignKeyViolationError):
        async with transaction():
            await fetch("UPDATE app_user SET display_name = {} WHERE id = {}", "改名", borrower)
            await audit(world.borrower, "profile.update", "borrower_profile", borrower)
            await save_borrower_profile(-1, _facts("北京"))  # no such account
    [row] = await fetch("SELECT display_name FROM app_user WHERE id = {}", borrower)
    assert row["display_name"] == "张伟"
    assert await AuditEntry.count() == 0
    assert await BorrowerProfile.count() == 0


async def test_outside_a_transaction_the_write_goes_at_once(world):
    await save_borrower_profile(world.borrower.user_id, _facts("广州"))
    [profile] = await BorrowerProfile.select(BorrowerProfile.city)
    assert profile["city"] == "广州"


async def test_outbox_rows_go_with_the_last_writes_and_to_the_queue_after_the_commit(
    world, statements, monkeypatch
):
    """A transaction's jobs cost no round trip of their own: they are written in its last
    statement, in the order recorded, leased, and queued as one job once it commits."""
    borrower = world.borrower.user_id
    await jobs.run_until_idle()  # what the world's setup queued
    statements.clear()
    queued: list[str] = []
    real_enqueue = jobs.enqueue

    async def watched_enqueue(job: str, *, job_id: str, **kwargs: object) -> None:
        queued.append(job_id)
        await real_enqueue(job, job_id=job_id, **kwargs)

    monkeypatch.setattr(jobs, "enqueue", watched_enqueue)
    async with transaction():
        await audit(world.borrower, "profile.update", "borrower_profile", borrower)
        await outbox.record("notifications.deliver", notification_id=1)
        await outbox.record("notifications.deliver", notification_id=2)
        assert statements == [] and queued == [], "nothing written or queued before the commit"
    [write] = statements
    assert "INSERT INTO audit_entry" in write and "INSERT INTO outbox_message" in write
    rows = await OutboxMessage.select(
        OutboxMessage.id, OutboxMessage.payload, OutboxMessage.runs, OutboxMessage.next_attempt_at
    ).order_by(OutboxMessage.id)
    assert [json.loads(row["payload"]) for row in rows] == [
        {"notification_id": 1},
        {"notification_id": 2},
    ]
    lease = (rows[0]["next_attempt_at"] - EPOCH) // timedelta(milliseconds=1)
    assert queued == [f"outbox-{rows[0]['id']}-0-{lease}"], "one queue job, named by its lease"
    assert await cache.redis().zcard("arq:queue") == 1


async def test_a_job_recorded_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="transaction"):
        await outbox.record("notifications.deliver", notification_id=1)
    with pytest.raises(ValueError, match="unknown job"):
        async with transaction():
            await outbox.record("no.such_job", notification_id=1)
    assert await OutboxMessage.count() == 0


async def test_record_now_gives_the_rows_id_within_the_transaction():
    async with transaction():
        message_id = await outbox.record_now("notifications.deliver", notification_id=4)
        [row] = await fetch("SELECT status FROM outbox_message WHERE id = {}", message_id)
        assert row["status"] == OutboxStatus.PENDING
    assert await jobs.run_until_idle() == 1
    [row] = await OutboxMessage.select(OutboxMessage.status)
    assert row["status"] == OutboxStatus.DONE


async def test_inbox_items_go_with_the_last_writes_and_at_once_outside_a_transaction(
    world, statements
):
    staff = [world.staff.user_id, world.borrower.user_id]
    async with transaction():
        assert await notify_users(staff, "lead.new", "收到新的借款申请", "/console/leads") == 2
        await audit(world.staff, "lead.view", "application", 1)
        assert statements == [], "nothing written before the commit"
    [write] = statements
    assert "INSERT INTO inbox_item" in write and "INSERT INTO audit_entry" in write
    # Outside a transaction: at once, every recipient in one statement.
    assert await notify_users(staff, "lead.new", "又一条", "/console/leads") == 2
    assert len(statements) == 2
    rows = (
        await InboxItem.select(InboxItem.recipient, InboxItem.title)
        .where(InboxItem.title.is_in(["收到新的借款申请", "又一条"]))
        .order_by(InboxItem.id)
    )
    assert [(row["recipient"], row["title"]) for row in rows] == [
        (min(staff), "收到新的借款申请"),
        (max(staff), "收到新的借款申请"),
        (min(staff), "又一条"),
        (max(staff), "又一条"),
    ]
