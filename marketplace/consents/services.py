"""Per-institution consent (PRODUCT.md §6.2): the only writer of the consent table."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from marketplace import outbox
from marketplace.accounts.tables import User
from marketplace.actors import SYSTEM, Actor
from marketplace.audit.services import record as audit
from marketplace.consents.notices import NOTICE_VERSION, SHARED_ITEMS, Notice
from marketplace.consents.tables import Consent, ConsentWithdrawal, DataExport
from marketplace.db import fetch, transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.inbox.services import notify_borrower, notify_institution
from marketplace.loancalc import SHANGHAI
from marketplace.parameters.services import get_parameters
from marketplace.security import decrypt_bytes, encrypt_bytes
from marketplace.webhooks.services import publish

EXPORT_CONTEXT = "consents.data_export"


async def grant_consent(actor: Actor, institution_id: int, notice: Notice) -> int:
    """Record the borrower's separate consent to share SHARED_ITEMS with one institution,
    bound to the exact notice text shown (its digest). Call inside the caller's
    transaction; returns the consent id."""
    # Plain SQL: it runs on every application submitted, and building the ORM's INSERT
    # cost more CPU than running it.
    [row] = await fetch(
        "INSERT INTO consent (borrower, institution, notice_version, notice_hash, purpose,"
        " data_items, retention, granted_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {})"
        " RETURNING id",
        actor.user_id,
        institution_id,
        NOTICE_VERSION,
        notice.digest,
        notice.purpose,
        list(SHARED_ITEMS),
        notice.retention,
        datetime.now(UTC),
    )
    consent_id = row["id"]
    await audit(
        actor,
        "consent.granted",
        "consent",
        consent_id,
        institution_id=institution_id,
        notice_version=NOTICE_VERSION,
    )
    return consent_id


async def withdraw_consent(actor: Actor, consent_id: int) -> bool:
    """The borrower withdraws one consent (withdrawing or declining an application, or the
    ledger): the institution sees no more of that data, and owes a deletion confirmation
    once no consent naming it stands. Call inside the caller's transaction, after locking
    the offers and applications concerned; False when it was withdrawn already."""
    row = (
        await Consent.select(Consent.institution)
        .where((Consent.id == consent_id) & (Consent.borrower == actor.user_id))
        .first()
    )
    if row is None:
        return False
    institution_id = row["institution"]
    # Every standing consent naming the institution, locked: of two withdrawals ending at
    # once, the second waits and then sees the first, so exactly one owes the deletion.
    if consent_id not in await lock_active_consents(actor, institution_id):
        return False
    await Consent.update({Consent.withdrawn_at: datetime.now(UTC)}).where(Consent.id == consent_id)
    await audit(actor, "consent.withdrawn", "consent", consent_id, institution_id=institution_id)
    await publish(institution_id, "consent.withdrawn", consent_id=consent_id)
    await _owe_deletion(actor, institution_id)
    return True


async def lock_active_consents(actor: Actor, institution_id: int) -> list[int]:
    """The borrower's consents naming the institution that still stand, row-locked (in id
    order) so two withdrawals of the same institution run one after the other. Call inside
    a transaction; every path that ends a consent locks offers, then applications, then
    these."""
    rows = (
        await Consent.select(Consent.id)
        .where(
            (Consent.borrower == actor.user_id)
            & (Consent.institution == institution_id)
            & Consent.withdrawn_at.is_null()
        )
        .order_by(Consent.id)
        .lock_rows()
    )
    return [row["id"] for row in rows]


async def withdraw_for_institution(actor: Actor, institution_id: int) -> int | None:
    """Every consent of the borrower naming the institution ends (the consent ledger). Call
    inside the transaction of offers.services.withdraw_consents_to, which ends open
    applications first; returns the deletion confirmation the institution owes."""
    for consent_id in await lock_active_consents(actor, institution_id):
        await withdraw_consent(actor, consent_id)
    row = (
        await ConsentWithdrawal.select(ConsentWithdrawal.id)
        .where(
            (ConsentWithdrawal.borrower == actor.user_id)
            & (ConsentWithdrawal.institution == institution_id)
            & ConsentWithdrawal.confirmed_at.is_null()
        )
        .first()
    )
    return row["id"] if row else None


async def _owe_deletion(actor: Actor, institution_id: int) -> None:
    """Once no consent of the borrower naming the institution stands, the institution owes a
    confirmation that it deleted what it holds, by `consent_deletion_days`. An unconfirmed
    one already owed covers it (a partial unique index makes that race-free)."""
    if await Consent.exists().where(
        (Consent.borrower == actor.user_id)
        & (Consent.institution == institution_id)
        & Consent.withdrawn_at.is_null()
    ):
        return
    days = int((await get_parameters("consent_deletion_days"))["consent_deletion_days"])
    now = datetime.now(UTC)
    delete_by = now + timedelta(days=days)
    rows = await ConsentWithdrawal.raw(
        "INSERT INTO consent_withdrawal (borrower, institution, withdrawn_at, delete_by) "
        "VALUES ({}, {}, {}, {}) ON CONFLICT (borrower, institution) "
        "WHERE confirmed_at IS NULL DO NOTHING RETURNING id",
        actor.user_id,
        institution_id,
        now,
        delete_by,
    )
    if not rows:
        return
    await audit(
        actor,
        "consent.deletion_requested",
        "consent_withdrawal",
        rows[0]["id"],
        institution_id=institution_id,
        days=days,
    )
    # The institution's systems heard of each consent by webhook (withdraw_consent); its
    # staff hear here, with the deadline.
    await notify_institution(
        institution_id,
        "consent.withdrawn",
        _(
            "一位借款人撤回了授权，请于{date}前删除所持有的其个人信息并确认",
            date=delete_by.astimezone(SHANGHAI).strftime("%Y-%m-%d"),
        ),
        "/console/consents",
        permission="consent.confirm_deletion",
    )


async def confirm_deletion(actor: Actor, withdrawal_id: int) -> None:
    """The institution confirms it deleted what it held on a borrower who withdrew consent;
    who and when are kept. Another institution's withdrawal is NotFound."""
    if not actor.can("consent.confirm_deletion"):
        raise PermissionDenied()
    async with transaction():
        row = (
            await ConsentWithdrawal.select(ConsentWithdrawal.id, ConsentWithdrawal.confirmed_at)
            .where(
                (ConsentWithdrawal.id == withdrawal_id)
                & (ConsentWithdrawal.institution == actor.institution_id)
            )
            .lock_rows()
            .first()
        )
        if row is None:
            raise NotFound(_("找不到该撤回记录"))
        if row["confirmed_at"] is not None:
            raise DomainError(_("该撤回已确认删除，无需重复确认"))
        await ConsentWithdrawal.update(
            {
                ConsentWithdrawal.confirmed_at: datetime.now(UTC),
                ConsentWithdrawal.confirmed_by: actor.user_id,
            }
        ).where(ConsentWithdrawal.id == withdrawal_id)
        await audit(actor, "consent.deletion_confirmed", "consent_withdrawal", withdrawal_id)


async def request_export(actor: Actor) -> int:
    """The borrower asks for a copy of everything the platform holds on them (PIPL art. 45);
    a job builds it. While one is being built, asking again returns that one."""
    if not actor.can("data.export"):
        raise PermissionDenied()
    async with transaction():
        # Serialise one borrower's requests, so two at once still make one export.
        await User.raw("SELECT id FROM app_user WHERE id = {} FOR UPDATE", actor.user_id)
        pending = (
            await DataExport.select(DataExport.id)
            .where((DataExport.borrower == actor.user_id) & (DataExport.status == "pending"))
            .first()
        )
        if pending:
            return int(pending["id"])
        rows = await DataExport.insert(DataExport(borrower=actor.user_id)).returning(DataExport.id)
        export_id: int = rows[0]["id"]
        await outbox.record("consents.export", export_id=export_id)
        await audit(actor, "data_export.requested", "data_export", export_id)
    return export_id


async def store_export(export_id: int, content: bytes) -> bool:
    """The job's result, encrypted at rest; the borrower is told in-site. False when the
    export was stored already (the job ran twice)."""
    async with transaction():
        row = (
            await DataExport.select(DataExport.borrower, DataExport.status)
            .where(DataExport.id == export_id)
            .lock_rows()
            .first()
        )
        if row is None or row["status"] != "pending":
            return False
        await DataExport.update(
            {
                DataExport.status: "ready",
                DataExport.ready_at: datetime.now(UTC),
                DataExport.content_encrypted: encrypt_bytes(content, context=EXPORT_CONTEXT),
            }
        ).where(DataExport.id == export_id)
        await audit(SYSTEM, "data_export.ready", "data_export", export_id)
        await notify_borrower(
            row["borrower"],
            "data_export.ready",
            _("您的个人信息副本已生成，请在“我的授权”中获取下载链接"),
            "/me/consents#data-export",
        )
    return True


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def issue_export_link(actor: Actor, export_id: int) -> str:
    """A fresh one-time token for a ready export of the borrower's (the previous one stops
    working); only its hash is kept. Returns the token."""
    if not actor.can("data.export"):
        raise PermissionDenied()
    minutes = int((await get_parameters("data_export_link_minutes"))["data_export_link_minutes"])
    token = secrets.token_urlsafe(32)
    async with transaction():
        rows = (
            await DataExport.update(
                {
                    DataExport.token_hash: _token_hash(token),
                    DataExport.expires_at: datetime.now(UTC) + timedelta(minutes=minutes),
                }
            )
            .where(
                (DataExport.id == export_id)
                & (DataExport.borrower == actor.user_id)
                & (DataExport.status == "ready")
            )
            .returning(DataExport.id)
        )
        if not rows:
            raise NotFound(_("找不到可下载的个人信息副本"))
        await audit(actor, "data_export.link_issued", "data_export", export_id, minutes=minutes)
    return token


async def purge_exports() -> int:
    """Daily: a ready export not downloaded within the retention is erased (the borrower
    may ask for a new one). How many."""
    days = int((await get_parameters("data_export_retention_days"))["data_export_retention_days"])
    async with transaction():
        rows = await (
            DataExport.update(
                {
                    DataExport.status: "expired",
                    DataExport.content_encrypted: None,
                    DataExport.token_hash: None,
                }
            )
            .where(
                (DataExport.status == "ready")
                & (DataExport.ready_at < datetime.now(UTC) - timedelta(days=days))
            )
            .returning(DataExport.id)
        )
    return len(rows)


async def take_export(actor: Actor, token: str) -> bytes:
    """The export behind a one-time link, for its own borrower, once and before it expires:
    the stored copy is erased as it is handed over. Anything else is NotFound."""
    if not actor.can("data.export") or not 20 <= len(token) <= 100:
        raise NotFound(_("下载链接无效或已过期"))
    async with transaction():
        row = (
            await DataExport.select(DataExport.id, DataExport.content_encrypted)
            .where(
                (DataExport.token_hash == _token_hash(token))
                & (DataExport.borrower == actor.user_id)
                & (DataExport.status == "ready")
                & (DataExport.expires_at > datetime.now(UTC))
            )
            .lock_rows()
            .first()
        )
        if row is None:
            raise NotFound(_("下载链接无效或已过期"))
        await DataExport.update(
            {
                DataExport.status: "downloaded",
                DataExport.downloaded_at: datetime.now(UTC),
                DataExport.content_encrypted: None,
                DataExport.token_hash: None,
            }
        ).where(DataExport.id == row["id"])
        await audit(actor, "data_export.downloaded", "data_export", row["id"])
    return decrypt_bytes(row["content_encrypted"], context=EXPORT_CONTEXT)
