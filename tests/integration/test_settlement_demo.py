"""The demo shows settlement in every state: two ended months of billing events and
statements draft, issued, disputed, adjusted, confirmed and settled; 瀚海's admin has last
month's statement issued with charges to confirm or dispute (the browser test's journey)."""

from __future__ import annotations

from marketplace.accounts.tables import User
from marketplace.demo.seed import seed_demo
from marketplace.settlement.periods import current_month, previous_month
from marketplace.settlement.statuses import StatementStatus
from marketplace.settlement.tables import (
    BillingCredit,
    BillingEvent,
    Statement,
    StatementDispute,
)


async def test_the_demo_has_statements_in_every_state():
    await seed_demo()
    statements = await Statement.select(Statement.status, Statement.period, Statement.institution)
    assert {s["status"] for s in statements} == set(StatementStatus)
    last = previous_month(current_month())
    assert {s["period"] for s in statements} == {previous_month(last), last}
    assert {c["reason"] for c in await BillingCredit.select(BillingCredit.reason)} >= {
        "duplicate",
        "withdrawn",
    }
    assert await StatementDispute.exists().where(StatementDispute.status == "open")
    assert await StatementDispute.exists().where(StatementDispute.status == "accepted")
    admin = (
        await User.select(User.institution)
        .where(User.login_key == "admin@hanhai-bank.example")
        .first()
    )
    issued = (
        await Statement.select()
        .where((Statement.institution == admin["institution"]) & (Statement.period == last))
        .first()
    )
    assert issued["status"] == StatementStatus.ISSUED
    assert issued["event_count"] >= 2
    assert not await StatementDispute.exists().where(StatementDispute.statement == issued["id"])
    assert {e["kind"] for e in await BillingEvent.select(BillingEvent.kind)} == {"cpl", "cps"}
    assert await seed_demo() is False, "seeding twice changes nothing"
