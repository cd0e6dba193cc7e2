"""Keys and indexes the migrations promise: SMS choices belong to an existing account, and
the lead desk's order (institution, delivery time, id) is one index."""

from __future__ import annotations

import asyncpg
import pytest

from marketplace.notifications.tables import SmsPreference
from tests import factories


async def test_sms_choices_need_an_existing_account_and_go_with_it(world):
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await SmsPreference.insert(SmsPreference(user_id=2_000_000_000))
    member = await factories.user("staff", "keys@test-bank.example", "finance", world.bank_id)
    await SmsPreference.insert(SmsPreference(user_id=member.user_id))
    assert await SmsPreference.count().where(SmsPreference.user_id == member.user_id) == 1


async def test_the_lead_desk_index_covers_its_order():
    [row] = await SmsPreference.raw(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'application_desk'"
    )
    assert row["indexdef"].endswith("(institution, delivered_at, id)")
