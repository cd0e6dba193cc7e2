"""Complaints' cron: every ten minutes, the SLA run (reminders, overdue marks, automatic
close). Idempotent: each step is a conditional update on the stage's own deadline, so a
missed or doubled run neither loses nor repeats a notice."""

from __future__ import annotations

from marketplace import clock
from marketplace.complaints.services import run_sla


async def run_sla_now() -> int:
    result = await run_sla(clock.now())
    return result.reminded + result.overdue + result.closed
