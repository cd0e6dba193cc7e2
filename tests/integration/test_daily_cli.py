"""`loanmart daily --date D`: an operator re-runs a missed post-loan day (or a test picks
one): loans age to D, then D's reminders and overdue notices go out, each once."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

from marketplace.collections.tables import LoanNotice
from marketplace.loancalc import today_shanghai
from marketplace.loans.tables import Instalment, Loan
from tests.conftest import PROJECT_ROOT
from tests.loan_factories import disbursed_loan


async def _daily(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "daily",
        *args,
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_a_chosen_business_date_ages_loans_and_sends_its_notices_once(world):
    loan_id = await disbursed_loan(world, today_shanghai() - timedelta(days=20))
    first_due = (
        await Instalment.select(Instalment.due_on)
        .where((Instalment.loan == loan_id) & (Instalment.number == 1))
        .first()
    )["due_on"]
    reminder_day = first_due - timedelta(days=3)  # repayment_reminder_days
    for day in (reminder_day, first_due + timedelta(days=1)):
        for _attempt in range(2):  # a second run of the same day sends nothing again
            code, output = await _daily("--date", day.isoformat())
            assert code == 0, output
    loan = await Loan.objects().where(Loan.id == loan_id).first()
    assert loan.status == "overdue" and loan.dpd == 1
    notices = await LoanNotice.select(LoanNotice.kind, LoanNotice.business_date).order_by(
        LoanNotice.id
    )
    assert [(n["kind"], n["business_date"]) for n in notices] == [
        ("reminder", reminder_day),
        ("overdue", first_due + timedelta(days=1)),
    ]


async def test_a_malformed_date_is_refused_plainly():
    code, output = await _daily("--date", "2026-02-30")
    assert code != 0 and "YYYY-MM-DD" in output
