"""Repayment reminders and overdue notices (issue 7): each at most once per loan, kind and
Asia/Shanghai business date, only after the loans' daily run of that date, through the
notifier, with no personal data in the SMS."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta

from marketplace import clock
from marketplace.collections.jobs import daily_notices, send_notices
from marketplace.collections.kinds import NoticeKind
from marketplace.collections.queries import loan_notices
from marketplace.collections.tables import LoanNotice
from marketplace.inbox.tables import InboxItem
from marketplace.loancalc import SHANGHAI, add_months, today_shanghai
from marketplace.loans.jobs import run_daily_overdue
from marketplace.loans.tables import Instalment
from marketplace.notifications.services import BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.parameters.tables import SystemParameter
from marketplace.security import decrypt_field
from tests.factories import valid_id_number
from tests.loan_factories import disbursed_loan

TEMPLATES = ("loan.reminder", "loan.overdue")


async def sms_texts(template: str) -> list[str]:
    rows = await Notification.select().where(
        (Notification.template == template) & (Notification.channel == "sms")
    )
    return [decrypt_field(r["body_encrypted"], context=BODY_CONTEXT) for r in rows]


async def first_due_on(loan_id: int) -> date:
    row = (
        await Instalment.select(Instalment.due_on)
        .where(Instalment.loan == loan_id)
        .order_by(Instalment.number)
        .first()
    )
    assert row is not None
    return row["due_on"]


async def reminder_loan(world, today: date) -> tuple[int, date]:
    """A current loan whose first instalment falls due within the month; the reminder lead
    time is set to reach exactly that date."""
    loan_id = await disbursed_loan(world, add_months(today, -1) + timedelta(days=5), "6000", 6)
    due_on = await first_due_on(loan_id)
    days = (due_on - today).days
    assert days > 0
    await SystemParameter.insert(SystemParameter(key="repayment_reminder_days", value=str(days)))
    return loan_id, due_on


async def overdue_loan(world, today: date) -> int:
    return await disbursed_loan(world, add_months(today, -2) - timedelta(days=5), "6000", 6)


async def test_a_reminder_n_days_before_the_due_date_is_sent_once(world):
    today = today_shanghai()
    loan_id, due_on = await reminder_loan(world, today)
    await run_daily_overdue(today)

    sent = await send_notices(today)
    assert sent[NoticeKind.REMINDER] == 1
    [text] = await sms_texts("loan.reminder")
    assert due_on.isoformat() in text
    for personal in ("张伟", world.borrower_mobile, valid_id_number(), "6000", "¥"):
        assert personal not in text
    assert await InboxItem.count().where(InboxItem.kind == "loan.reminder") == 1
    [notice] = await loan_notices(loan_id)
    assert (notice.kind, notice.business_date, notice.due_on) == ("reminder", today, due_on)

    # The cron checked again in an hour: nothing more.
    assert (await send_notices(today))[NoticeKind.REMINDER] == 0
    assert len(await sms_texts("loan.reminder")) == 1


async def test_two_parallel_runs_still_send_one_notice_per_loan(world):
    today = today_shanghai()
    reminded, _ = await reminder_loan(world, today)
    overdue = await overdue_loan(world, today)
    await run_daily_overdue(today)
    await asyncio.gather(*(send_notices(today) for _ in range(4)))
    assert len(await sms_texts("loan.reminder")) == 1
    assert len(await sms_texts("loan.overdue")) == 1
    rows = await LoanNotice.select(LoanNotice.loan, LoanNotice.kind).order_by(LoanNotice.kind)
    assert [(r["loan"], r["kind"]) for r in rows] == [(overdue, "overdue"), (reminded, "reminder")]


async def test_an_overdue_loan_gets_one_notice_a_day_without_personal_data(world):
    today = today_shanghai()
    loan_id = await overdue_loan(world, today)
    await run_daily_overdue(today)
    assert (await send_notices(today))[NoticeKind.OVERDUE] == 1
    assert (await send_notices(today))[NoticeKind.OVERDUE] == 0
    [text] = await sms_texts("loan.overdue")
    assert "逾期" in text
    for personal in ("张伟", world.borrower_mobile, valid_id_number(), "6000", "¥"):
        assert personal not in text

    tomorrow = today + timedelta(days=1)
    await run_daily_overdue(tomorrow)
    assert (await send_notices(tomorrow))[NoticeKind.OVERDUE] == 1
    assert [n.business_date for n in await loan_notices(loan_id)] == [tomorrow, today]


async def test_nothing_is_sent_before_the_daily_run_of_the_date(world, monkeypatch):
    today = today_shanghai()
    await overdue_loan(world, today)
    await run_daily_overdue(today)
    tomorrow = today + timedelta(days=1)
    at = datetime.combine(tomorrow, time(9), tzinfo=SHANGHAI)
    monkeypatch.setattr(clock, "now", lambda: at)
    assert await daily_notices() == 0
    assert await LoanNotice.count() == 0
    await run_daily_overdue(tomorrow)
    assert await daily_notices() == 1
    assert await daily_notices() == 0


async def test_settled_or_current_loans_get_no_overdue_notice(world):
    today = today_shanghai()
    await disbursed_loan(world, today - timedelta(days=3), "3000", 3)
    await run_daily_overdue(today)
    await send_notices(today)
    for template in TEMPLATES:
        assert await sms_texts(template) == []
