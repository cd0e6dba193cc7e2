"""Account deletion (PIPL art. 47): a request, a cooling period the borrower may cancel
in, then a cron job that anonymises the account. Loans, contracts and the audit log are
kept, because the law requires them to be."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from marketplace.accounts.closure import close_borrower_account
from marketplace.actors import SYSTEM, Actor
from marketplace.audit.services import record as audit
from marketplace.credit.services import forget_credit_history
from marketplace.db import transaction
from marketplace.documents.services import forget_library
from marketplace.erasure.tables import DeletionRequest
from marketplace.errors import DomainError
from marketplace.i18n import _
from marketplace.loans.statuses import LoanStatus
from marketplace.loans.tables import Loan
from marketplace.notifications.services import forget_sms_preferences
from marketplace.parameters.services import get_parameters
from marketplace.ratings.services import forget_ratings

PENDING, CANCELLED, DONE = "pending", "cancelled", "done"
COOLING_KEY = "account_deletion_cooling_days"


@dataclass(frozen=True)
class PendingDeletion:
    requested_at: datetime
    due_at: datetime


async def pending_deletion(user_id: int) -> PendingDeletion | None:
    row = (
        await DeletionRequest.select(DeletionRequest.requested_at, DeletionRequest.due_at)
        .where((DeletionRequest.user == user_id) & (DeletionRequest.status == PENDING))
        .first()
    )
    return PendingDeletion(**row) if row else None


async def _has_outstanding_loan(user_id: int) -> bool:
    return await Loan.exists().where(
        (Loan.borrower == user_id) & (Loan.status != LoanStatus.SETTLED.value)
    )


async def request_deletion(actor: Actor) -> PendingDeletion:
    """Start the cooling period; refused while a loan is outstanding or a request is open."""
    user_id = actor.user_id or 0
    days = int((await get_parameters(COOLING_KEY))[COOLING_KEY])
    async with transaction():
        # One open request per borrower, even under parallel submits.
        await DeletionRequest.raw("SELECT pg_advisory_xact_lock(hashtext('erasure'), {})", user_id)
        if await pending_deletion(user_id):
            raise DomainError(_("您已提交注销申请，无需重复提交"))
        if await _has_outstanding_loan(user_id):
            raise DomainError(_("您还有未结清的借款，结清后才能注销账户"))
        now = datetime.now(UTC)
        due = now + timedelta(days=days)
        await DeletionRequest.insert(
            DeletionRequest(user=user_id, status=PENDING, requested_at=now, due_at=due)
        )
        await audit(actor, "account.deletion_requested", "user", user_id, due_at=due.isoformat())
    return PendingDeletion(requested_at=now, due_at=due)


async def cancel_deletion(actor: Actor) -> None:
    user_id = actor.user_id or 0
    async with transaction():
        cancelled = (
            await DeletionRequest.update(
                {DeletionRequest.status: CANCELLED, DeletionRequest.closed_at: datetime.now(UTC)}
            )
            .where((DeletionRequest.user == user_id) & (DeletionRequest.status == PENDING))
            .returning(DeletionRequest.id)
        )
        if not cancelled:
            raise DomainError(_("没有进行中的注销申请"))
        await audit(actor, "account.deletion_cancelled", "user", user_id)


async def process_due_deletions() -> int:
    """The cron job: anonymise every account whose cooling period has passed. A borrower
    who took a loan meanwhile is skipped until it is settled. Idempotent."""
    due = await DeletionRequest.select(DeletionRequest.id, DeletionRequest.user).where(
        (DeletionRequest.status == PENDING) & (DeletionRequest.due_at <= datetime.now(UTC))
    )
    done = 0
    for row in due:
        async with transaction():
            claimed = (
                await DeletionRequest.objects()
                .where((DeletionRequest.id == row["id"]) & (DeletionRequest.status == PENDING))
                .lock_rows(skip_locked=True)
                .first()
            )
            if claimed is None or await _has_outstanding_loan(row["user"]):
                continue
            await close_borrower_account(row["user"])
            await forget_credit_history(row["user"])
            await forget_sms_preferences(row["user"])
            await forget_library(row["user"])
            await forget_ratings(row["user"])
            await DeletionRequest.update(
                {DeletionRequest.status: DONE, DeletionRequest.closed_at: datetime.now(UTC)}
            ).where(DeletionRequest.id == row["id"])
            await audit(SYSTEM, "account.deleted", "user", row["user"])
            done += 1
    return done
