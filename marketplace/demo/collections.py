"""Demo collections: a few past contacts and one refused attempt on the demo bank's overdue
loans (seeded by demo.loans), so the collections desk and the operators' oversight page
have something to show. Written straight into the collections tables because they lie in
the past (the verb only records contacts of today); without overdue loans it does nothing."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from marketplace.accounts.tables import User
from marketplace.collections.kinds import Channel, RefusalReason, Result
from marketplace.collections.services import NOTE_CONTEXT
from marketplace.collections.tables import CollectionContact, CollectionDay, CollectionRefusal
from marketplace.db import transaction
from marketplace.demo.loans import INSTITUTION, STAFF_LOGIN
from marketplace.i18n import N_
from marketplace.institutions.tables import Institution
from marketplace.loancalc import SHANGHAI, today_shanghai
from marketplace.loans.statuses import LoanStatus
from marketplace.loans.tables import Loan
from marketplace.security import encrypt_field

# (days ago, time, channel, result, note) per overdue loan, oldest first.
CONTACTS = (
    (3, time(10, 15), Channel.PHONE, Result.NO_ANSWER, ""),
    (2, time(14, 40), Channel.SMS, Result.OTHER, N_("已发送还款提醒短信")),
    (1, time(9, 30), Channel.PHONE, Result.PROMISED, N_("借款人表示本周五前还清逾期款项")),
)
# Late in the evening, after the permitted hours: the platform refused it.
REFUSED_AT = (1, time(21, 40))


async def seed_collections() -> int:
    """Returns how many contacts were written (0 when there is nothing to work on)."""
    bank = await Institution.select(Institution.id).where(Institution.code == INSTITUTION).first()
    staff = await User.select(User.id).where(User.login_key == STAFF_LOGIN).first()
    if bank is None or staff is None:
        return 0
    loans = await (
        Loan.select(Loan.id, Loan.dpd)
        .where((Loan.institution == bank["id"]) & (Loan.status == LoanStatus.OVERDUE))
        .order_by(Loan.dpd, ascending=False)
        .limit(3)
    )
    today = today_shanghai()
    written = 0
    async with transaction():
        for loan in loans:
            for days_ago, at, channel, result, note in CONTACTS:
                day = today - timedelta(days=days_ago)
                await CollectionContact.insert(
                    CollectionContact(
                        loan=loan["id"],
                        institution=bank["id"],
                        staff=staff["id"],
                        contacted_at=datetime.combine(day, at, tzinfo=SHANGHAI),
                        business_date=day,
                        channel=channel,
                        result=result,
                        note_encrypted=encrypt_field(note, context=NOTE_CONTEXT) if note else "",
                        dpd=max(0, loan["dpd"] - days_ago),
                    )
                )
                await CollectionDay.insert(
                    CollectionDay(loan=loan["id"], business_date=day, contacts=1)
                )
                written += 1
        if loans:
            days_ago, at = REFUSED_AT
            day = today - timedelta(days=days_ago)
            await CollectionRefusal.insert(
                CollectionRefusal(
                    loan=loans[0]["id"],
                    institution=bank["id"],
                    staff=staff["id"],
                    reason=RefusalReason.OUTSIDE_HOURS,
                    contact_time=datetime.combine(day, at, tzinfo=SHANGHAI),
                    business_date=day,
                    attempted_at=datetime.combine(day, at, tzinfo=SHANGHAI),
                )
            )
    return written
