"""The audit log is append-only at the database level."""

from __future__ import annotations

import asyncpg
import pytest

from marketplace.audit.services import record
from marketplace.audit.tables import AuditEntry
from marketplace.db import transaction


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
