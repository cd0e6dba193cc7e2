"""Daily purges (one per context that owns the rows): anti-fraud observations and decided
holds' masked phones, data exports never downloaded, old in-site notices — each past its
retention parameter, nothing younger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marketplace.consents.services import purge_exports
from marketplace.consents.tables import DataExport
from marketplace.contexts import cron_table
from marketplace.inbox.services import notify_users, purge_old
from marketplace.inbox.tables import InboxItem
from marketplace.risk.services import purge_expired
from marketplace.risk.tables import RiskHold, RiskObservation

NOW = datetime.now(UTC)


def _days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_each_purge_runs_daily_in_its_context():
    crons = {cron.name: cron for cron in cron_table()}
    for name in ("risk.purge", "consents.purge_exports", "inbox.purge"):
        assert crons[name].every_seconds == 86400, name


async def test_anti_fraud_data_past_retention_is_purged(world):
    for days in (46, 44):
        await RiskObservation.insert(
            RiskObservation(at=_days_ago(days), stage="application", key_kind="phone", key_ref="x")
        )
    for status, decided in (("released", 46), ("rejected", 10), ("held", None)):
        await RiskHold.insert(
            RiskHold(
                application_id=hash(status) % 100000,
                reference=status,
                institution_id=world.bank_id,
                mobile_masked="139****5678",
                score=60,
                status=status,
                decided_at=_days_ago(decided) if decided else None,
            )
        )
    assert await purge_expired() == 2
    assert [r["at"] > _days_ago(45) for r in await RiskObservation.select()] == [True]
    masked = {r["reference"]: r["mobile_masked"] for r in await RiskHold.select()}
    assert masked == {"released": "", "rejected": "139****5678", "held": "139****5678"}
    assert await purge_expired() == 0  # a second run finds nothing


async def test_an_export_never_downloaded_is_erased_after_its_retention(world):
    borrower = world.borrower.user_id
    for days in (8, 6):
        await DataExport.insert(
            DataExport(
                borrower=borrower,
                status="ready",
                ready_at=_days_ago(days),
                content_encrypted=b"sealed",
                token_hash="h" * 64 if days == 8 else None,
            )
        )
    assert await purge_exports() == 1
    rows = await DataExport.select().order_by(DataExport.ready_at)
    assert [(r["status"], r["content_encrypted"], r["token_hash"]) for r in rows] == [
        ("expired", None, None),
        ("ready", b"sealed", None),
    ]


async def test_old_notices_are_deleted(world):
    await notify_users([world.borrower.user_id, world.staff.user_id], "test", "通知")
    await InboxItem.update({InboxItem.created_at: _days_ago(181)}).where(
        InboxItem.recipient == world.staff.user_id
    )
    assert await purge_old() == 1
    assert [r["recipient"] for r in await InboxItem.select()] == [world.borrower.user_id]
