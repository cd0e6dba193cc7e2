"""Repayment reminders and overdue notices, once per loan, kind and Asia/Shanghai business
date. The hourly cron acts only after the loans' daily run has completed for the date (so
"overdue" is that day's truth), selects set-based, and claims each notice by inserting its
unique (loan, kind, business_date) row in the same transaction that records the borrower's
notification: a second run, sequential or parallel, claims nothing and sends nothing.

The SMS says what happened and where to look, nothing more: no name, ID or phone, and no
amount either (a lock-screen preview of a debt amount tells anyone holding the phone too
much; the amount is one sign-in away)."""

from __future__ import annotations

from datetime import date, timedelta

from marketplace import clock
from marketplace.collections.kinds import NoticeKind
from marketplace.collections.tables import LoanNotice
from marketplace.db import transaction
from marketplace.i18n import _
from marketplace.inbox.services import notify_borrower
from marketplace.loans.statuses import InstalmentStatus, LoanStatus
from marketplace.loans.tables import LoanDailyRun
from marketplace.parameters.services import get_parameters

# Notices claimed and sent per transaction: a day with many overdue loans is worked in
# batches, each committed with its notifications.
BATCH = 500
_OPEN = f"('{InstalmentStatus.PENDING}', '{InstalmentStatus.PARTIAL}')"

# Open loans with an unpaid instalment falling due on the reminder date. Placeholders are
# positional, in order: business date, due date, due date, business date, batch size.
_CLAIM_REMINDERS = f"""
INSERT INTO loan_notice (loan, kind, business_date, due_on, dpd, sent_at)
SELECT l.id, '{NoticeKind.REMINDER}', {{}}::date, {{}}::date, l.dpd, now()
FROM loan l
WHERE l.status <> '{LoanStatus.SETTLED}'
  AND EXISTS (SELECT 1 FROM loan_instalment i
              WHERE i.loan = l.id AND i.due_on = {{}}::date AND i.status IN {_OPEN})
  AND NOT EXISTS (SELECT 1 FROM loan_notice n WHERE n.loan = l.id
                  AND n.kind = '{NoticeKind.REMINDER}' AND n.business_date = {{}}::date)
ORDER BY l.id
LIMIT {{}}
ON CONFLICT (loan, kind, business_date) DO NOTHING
RETURNING loan, due_on, dpd
"""  # noqa: S608

_CLAIM_OVERDUE = f"""
INSERT INTO loan_notice (loan, kind, business_date, due_on, dpd, sent_at)
SELECT l.id, '{NoticeKind.OVERDUE}', {{}}::date, NULL, l.dpd, now()
FROM loan l
WHERE l.status = '{LoanStatus.OVERDUE}'
  AND NOT EXISTS (SELECT 1 FROM loan_notice n WHERE n.loan = l.id
                  AND n.kind = '{NoticeKind.OVERDUE}' AND n.business_date = {{}}::date)
ORDER BY l.id
LIMIT {{}}
ON CONFLICT (loan, kind, business_date) DO NOTHING
RETURNING loan, due_on, dpd
"""  # noqa: S608

_BORROWERS = "SELECT id, borrower FROM loan WHERE id = ANY({}::int[])"
SMS_TEMPLATE = {NoticeKind.REMINDER: "loan.reminder", NoticeKind.OVERDUE: "loan.overdue"}
LOANS_LINK = "/me/loans"


def _texts(kind: NoticeKind, due_on: date | None) -> tuple[str, str]:
    """(in-site title, SMS text) of a notice; neither names the borrower or an amount."""
    if kind is NoticeKind.REMINDER and due_on is not None:
        day = due_on.isoformat()
        return (
            _("您有一笔借款将于 {day} 到期，请按时还款", day=day),
            _("【LoanMart】您有一笔借款将于{day}到期，请按时还款，详情请登录查看。", day=day),
        )
    return (
        _("您有一笔借款已逾期，请尽快还款"),
        _("【LoanMart】您有一笔借款已逾期，请尽快还款，详情请登录查看。"),
    )


async def _claim_batch(kind: NoticeKind, business_date: date, due_on: date) -> int:
    """Claim up to BATCH notices of one kind and notify their borrowers, in one transaction;
    returns how many were sent."""
    async with transaction():
        if kind is NoticeKind.REMINDER:
            claimed = await LoanNotice.raw(
                _CLAIM_REMINDERS, business_date, due_on, due_on, business_date, BATCH
            )
        else:
            claimed = await LoanNotice.raw(_CLAIM_OVERDUE, business_date, business_date, BATCH)
        if not claimed:
            return 0
        borrowers = {
            r["id"]: r["borrower"]
            for r in await LoanNotice.raw(_BORROWERS, [r["loan"] for r in claimed])
        }
        for notice in claimed:
            title, sms = _texts(kind, notice["due_on"])
            await notify_borrower(
                borrowers[notice["loan"]], SMS_TEMPLATE[kind], title, LOANS_LINK, sms=sms
            )
    return len(claimed)


async def send_notices(business_date: date) -> dict[NoticeKind, int]:
    """Every reminder and overdue notice due on `business_date` not sent yet; safe to run
    any number of times, in parallel too. Does nothing before the loans' daily run of that
    date has completed."""
    sent = {kind: 0 for kind in NoticeKind}
    if not await LoanDailyRun.exists().where(LoanDailyRun.business_date == business_date):
        return sent
    lead_days = int((await get_parameters("repayment_reminder_days"))["repayment_reminder_days"])
    due_on = business_date + timedelta(days=lead_days)
    for kind in NoticeKind:
        while True:
            batch = await _claim_batch(kind, business_date, due_on)
            sent[kind] += batch
            # A short batch: nothing left, or a parallel run claimed the rest.
            if batch < BATCH:
                break
    return sent


async def daily_notices() -> int:
    """The cron: today's notices (Asia/Shanghai), once the daily run has completed."""
    sent = await send_notices(clock.business_date())
    return sum(sent.values())
