"""Demo data for the borrower's security pages (issue #10): the demo borrower's consent
ledger holds every state — standing, withdrawn with the deletion still owed (瀚海银行, from
demo/consents.py), withdrawn and confirmed, and one whose deadline has passed so operators
see it overdue — plus notices read and unread, a finished data export and SMS choices. A
second demo borrower has asked to delete their account and is inside the cooling period.

Everything goes through the owning verbs; only the dates are moved back afterwards, so the
withdrawals look weeks old (the overdue one must be past its deadline) and the demo
borrower's applications of today stay under the daily limits. The signed-in devices live in
Redis and are seeded by server/demo_devices.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.consents.jobs import build_export
from marketplace.consents.services import confirm_deletion, request_export
from marketplace.consents.tables import Consent, ConsentWithdrawal, DataExport
from marketplace.demo.catalogue import DEMO_ACCOUNTS, DEMO_PASSWORD, INSTITUTIONS
from marketplace.demo.decisions import _actor, _apply, _borrower_mobile
from marketplace.erasure.services import request_deletion
from marketplace.erasure.tables import DeletionRequest
from marketplace.errors import DomainError
from marketplace.inbox.services import open_item
from marketplace.inbox.tables import InboxItem
from marketplace.institutions.tables import Institution
from marketplace.notifications.services import set_sms_preferences
from marketplace.offers.services import withdraw_consents_to
from marketplace.security import encrypt_field, hash_password, mask_mobile

# The institution tried first for the confirmed deletion; its compliance officer (a demo
# login, compliance@<code>.example) confirms it.
CONFIRMING_INSTITUTION = "canglan-bank"
# The second demo borrower, whose account deletion is pending.
LEAVING_MOBILE = "13800138001"
LEAVING_NAME = "李娜"
# SMS by choice: decisions and repayment reminders on, institutions' messages and
# marketing off (the demo's SMS settings page shows a choice already made).
SMS_WANTED = ("decisions", "reminders")


async def seed_account_security() -> bool:
    """Once (nothing when the demo borrower is missing or it has run); True when written."""
    borrower = await _actor(mobile_login_key(_borrower_mobile()))
    if borrower is None or await User.exists().where(
        User.login_key == mobile_login_key(LEAVING_MOBILE)
    ):
        return False
    await _ledger_states(borrower)
    await _read_some_notices(borrower)
    export_id = await request_export(borrower)
    await build_export({}, export_id)
    await DataExport.update(
        {DataExport.requested_at: _ago(days=2, hours=1), DataExport.ready_at: _ago(days=2)}
    ).where(DataExport.id == export_id)
    await set_sms_preferences(borrower, SMS_WANTED)
    await _leaving_borrower()
    return True


def _ago(*, days: int, hours: int = 0) -> datetime:
    return datetime.now(UTC) - timedelta(days=days, hours=hours)


async def _ledger_states(borrower: Actor) -> None:
    """Two more institutions the borrower applied to weeks ago and then withdrew from: one
    confirmed the deletion in time, the other let its deadline pass."""
    reached = {
        row["institution"]
        for row in await Consent.select(Consent.institution).where(
            Consent.borrower == borrower.user_id
        )
    }
    codes = [CONFIRMING_INSTITUTION] + [
        i["code"] for i in INSTITUTIONS if i["code"] != CONFIRMING_INSTITUTION
    ]
    withdrawn: list[tuple[int, str]] = []
    for code in codes:
        institution = await Institution.select(Institution.id).where(Institution.code == code)
        if not institution or institution[0]["id"] in reached:
            continue
        institution_id = institution[0]["id"]
        try:
            application_id = await _apply(borrower, institution_id)
        except DomainError:
            continue  # the borrower does not fit its first product: the next institution
        if application_id is None:
            continue
        await withdraw_consents_to(borrower, institution_id)
        withdrawn.append((application_id, code))
        if len(withdrawn) == 2:
            break
    if not withdrawn:
        return
    (confirmed, code), *overdue = withdrawn
    withdrawal_id = await _backdate(confirmed, applied_days=30, withdrawn_days=20)
    officer = await _compliance_officer(code)
    if officer is not None and withdrawal_id is not None:
        await confirm_deletion(officer, withdrawal_id)
        await ConsentWithdrawal.update({ConsentWithdrawal.confirmed_at: _ago(days=17)}).where(
            ConsentWithdrawal.id == withdrawal_id
        )
    for application_id, _code in overdue:
        await _backdate(application_id, applied_days=45, withdrawn_days=40)


async def _backdate(application_id: int, *, applied_days: int, withdrawn_days: int) -> int | None:
    """Move an application, its consent and the withdrawal back in time, keeping the
    deadline the same number of days after the withdrawal. Returns the withdrawal's id."""
    row = (
        await Application.select(Application.consent, Application.institution, Application.borrower)
        .where(Application.id == application_id)
        .first()
    )
    if row is None:
        return None
    applied, withdrawn = _ago(days=applied_days), _ago(days=withdrawn_days)
    await Application.update(
        {
            Application.submitted_at: applied,
            Application.delivered_at: applied + timedelta(minutes=1),
            Application.updated_at: withdrawn,
        }
    ).where(Application.id == application_id)
    for event in await ApplicationEvent.select(ApplicationEvent.id, ApplicationEvent.status).where(
        ApplicationEvent.application == application_id
    ):
        at = withdrawn if event["status"] == "withdrawn" else applied
        await ApplicationEvent.update({ApplicationEvent.at: at}).where(
            ApplicationEvent.id == event["id"]
        )
    await Consent.update({Consent.granted_at: applied, Consent.withdrawn_at: withdrawn}).where(
        Consent.id == row["consent"]
    )
    withdrawal = (
        await ConsentWithdrawal.select(
            ConsentWithdrawal.id, ConsentWithdrawal.withdrawn_at, ConsentWithdrawal.delete_by
        )
        .where(
            (ConsentWithdrawal.institution == row["institution"])
            & (ConsentWithdrawal.borrower == row["borrower"])
        )
        .first()
    )
    if withdrawal is None:
        return None
    allowed = withdrawal["delete_by"] - withdrawal["withdrawn_at"]
    await ConsentWithdrawal.update(
        {
            ConsentWithdrawal.withdrawn_at: withdrawn,
            ConsentWithdrawal.delete_by: withdrawn + allowed,
        }
    ).where(ConsentWithdrawal.id == withdrawal["id"])
    return int(withdrawal["id"])


async def _compliance_officer(code: str) -> Actor | None:
    """The institution's compliance officer, compliance@<code>.example (a demo login)."""
    institution = await Institution.select(Institution.id).where(Institution.code == code).first()
    if institution is None:
        return None
    login = f"compliance@{code}.example"
    await User.insert(
        User(
            kind="staff",
            login_key=login,
            display_name="赵倩",
            password_hash=hash_password(DEMO_PASSWORD),
            role="institution_admin",
            institution=institution["id"],
        )
    )
    return await _actor(login)


# The newest notices left unread; every older one read, so the first page of the
# notification centre shows both (the worker adds a few more at startup).
UNREAD_NOTICES = 6


async def _read_some_notices(borrower: Actor) -> None:
    rows = (
        await InboxItem.select(InboxItem.id)
        .where(InboxItem.recipient == borrower.user_id)
        .order_by(InboxItem.id, ascending=False)
        .offset(UNREAD_NOTICES)
    )
    for row in rows:
        await open_item(borrower, row["id"])


async def _leaving_borrower() -> None:
    """李娜 registered a while ago and asked five days ago to delete her account."""
    if any(a.get("mobile") == LEAVING_MOBILE for a in DEMO_ACCOUNTS):
        return
    await User.insert(
        User(
            kind="borrower",
            login_key=mobile_login_key(LEAVING_MOBILE),
            display_name=LEAVING_NAME,
            mobile_encrypted=encrypt_field(LEAVING_MOBILE, context="user.mobile"),
            mobile_masked=mask_mobile(LEAVING_MOBILE),
            password_hash=hash_password(DEMO_PASSWORD),
            role="borrower",
        )
    )
    leaving = await _actor(mobile_login_key(LEAVING_MOBILE))
    if leaving is None:
        return
    pending = await request_deletion(leaving)
    requested = _ago(days=5)
    await DeletionRequest.update(
        {
            DeletionRequest.requested_at: requested,
            DeletionRequest.due_at: requested + (pending.due_at - pending.requested_at),
        }
    ).where(DeletionRequest.user == leaving.user_id)
