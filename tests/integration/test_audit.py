"""The audit log is append-only at the database level."""

from __future__ import annotations

import json

import asyncpg
import pytest

from marketplace import jobs
from marketplace.audit.services import record
from marketplace.audit.tables import AuditEntry
from marketplace.db import savepoint, transaction
from tests.factories import application_form, listed_product
from tests.fixtures import apply_form_secrets, login


async def test_audit_log_is_append_only(world):
    async with transaction():
        await record(world.operator, "product.approve", "product", 1)
    with pytest.raises(asyncpg.exceptions.RaiseError):
        await AuditEntry.update({AuditEntry.action: "forged"}).where(AuditEntry.id > 0)
    with pytest.raises(asyncpg.exceptions.RaiseError):
        await AuditEntry.delete().where(AuditEntry.id > 0)
    assert (await AuditEntry.objects().first()).action == "product.approve"


async def test_record_refuses_to_run_outside_a_transaction(world):
    with pytest.raises(RuntimeError):
        await record(world.operator, "product.approve", "product", 1)
    assert await AuditEntry.count() == 0


async def test_a_borrowers_application_leaves_its_audit_rows(client, world):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    response = await client.submit(f"/products/{product_id}/apply", application_form(**hidden))
    assert response.status_code == 303
    rows = (
        await AuditEntry.objects()
        .where(AuditEntry.actor_kind == "borrower")
        .order_by(AuditEntry.id)
    )
    assert [row.action for row in rows] == ["auth.login", "consent.granted", "application.submit"]
    assert {row.actor_id for row in rows} == {rows[0].actor_id}
    assert all(row.ip == "198.51.100.7" for row in rows)
    # The system's delivery to the institution is a state change too: audited as the system.
    await jobs.run_until_idle()
    delivered = await AuditEntry.objects().where(AuditEntry.action == "application.delivered")
    assert [(row.actor_kind, row.object_type) for row in delivered] == [("system", "application")]


async def test_a_transactions_rows_are_written_before_its_commit_in_order(world):
    """Collected and written in one statement just before the commit: all of them, in the
    order recorded, and none of a transaction that rolls back."""
    async with transaction():
        for n in range(3):
            await record(world.operator, "product.approve", "product", n, n=n)
        assert await AuditEntry.count() == 0, "nothing is written before the commit"
    with pytest.raises(ZeroDivisionError):
        async with transaction():
            await record(world.operator, "product.reject", "product", 9)
            _ = 1 / 0
    rows = await AuditEntry.objects().order_by(AuditEntry.id)
    assert [(row.action, row.object_id, json.loads(row.detail)) for row in rows] == [
        ("product.approve", str(n), {"n": n}) for n in range(3)
    ]
    assert all(row.actor_id == world.operator.user_id for row in rows)


async def test_a_savepoint_that_fails_takes_back_its_audit_rows(world):
    async with transaction():
        with pytest.raises(ValueError, match="refused"):
            async with savepoint():  # the transaction's first row, in a part that fails
                await record(world.operator, "product.reject", "product", 0)
                raise ValueError("refused")
        await record(world.operator, "product.approve", "product", 1)
        with pytest.raises(ValueError, match="refused"):
            async with savepoint():
                await record(world.operator, "product.reject", "product", 2)
                raise ValueError("refused")
        async with savepoint():
            await record(world.operator, "product.delist", "product", 3)
    rows = await AuditEntry.objects().order_by(AuditEntry.id)
    assert [(row.action, row.object_id) for row in rows] == [
        ("product.approve", "1"),
        ("product.delist", "3"),
    ]


async def test_thousands_of_rows_in_one_transaction_are_all_written(world):
    """One array per column: no limit of the protocol's 32,767 parameters per statement."""
    async with transaction():
        for n in range(4000):
            await record(world.operator, "product.approve", "product", n)
    assert await AuditEntry.count() == 4000
