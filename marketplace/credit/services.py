"""Credit-health snapshots: one per borrower and Asia/Shanghai date, written by the daily
job (queued once a day for every active borrower), safe to run any number of times."""

from __future__ import annotations

import json
from datetime import date

from marketplace import outbox
from marketplace.accounts.tables import User
from marketplace.credit.facts import credit_facts
from marketplace.credit.score import WEIGHT_PARAMETERS, CreditScore, Factor, credit_score
from marketplace.credit.tables import CreditRun, CreditSnapshot
from marketplace.db import transaction
from marketplace.parameters.services import get_parameters

_UPSERT = """
INSERT INTO credit_snapshot (borrower, taken_on, score, factors, created_at)
VALUES ({}, {}::date, {}, {}::jsonb, now())
ON CONFLICT (borrower, taken_on)
DO UPDATE SET score = EXCLUDED.score, factors = EXCLUDED.factors, created_at = now()
"""


async def weights() -> dict[Factor, int]:
    values = await get_parameters(*WEIGHT_PARAMETERS.values())
    return {factor: int(values[key]) for factor, key in WEIGHT_PARAMETERS.items()}


async def current_score(borrower_id: int, today: date) -> CreditScore:
    return credit_score(await credit_facts(borrower_id, today), await weights())


async def take_snapshot(borrower_id: int, taken_on: date) -> CreditScore | None:
    """Write (or rewrite) the borrower's snapshot of `taken_on`; None for an account that
    is no longer an active borrower."""
    active = await User.exists().where(
        (User.id == borrower_id) & (User.kind == "borrower") & (User.status == "active")
    )
    if not active:
        return None
    score = await current_score(borrower_id, taken_on)
    await CreditSnapshot.raw(
        _UPSERT, borrower_id, taken_on, score.score, json.dumps(score.points())
    )
    return score


async def forget_credit_history(borrower_id: int) -> None:
    """Account deletion: the snapshots go with the account (inside the caller's
    transaction)."""
    await CreditSnapshot.delete().where(CreditSnapshot.borrower == borrower_id)


async def queue_daily_snapshots(business_date: date) -> int:
    """Once per date: claim the date, then queue one snapshot job per active borrower (ids
    only), in the same transaction. A second call for the date queues nothing."""
    async with transaction():
        claimed = await CreditRun.raw(
            "INSERT INTO credit_run (business_date, borrowers, ran_at) VALUES ({}::date, 0, now())"
            " ON CONFLICT (business_date) DO NOTHING RETURNING id",
            business_date,
        )
        if not claimed:
            return 0
        borrowers = await User.select(User.id).where(
            (User.kind == "borrower") & (User.status == "active")
        )
        for row in borrowers:
            await outbox.record(
                "credit.snapshot", borrower_id=row["id"], taken_on=business_date.isoformat()
            )
        await CreditRun.update({CreditRun.borrowers: len(borrowers)}).where(
            CreditRun.id == claimed[0]["id"]
        )
    return len(borrowers)
