"""Loans for page tests: disbursed through the verb on a signed offer, with dates in the
past so plans have instalments already due."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from marketplace.applications.services import SHARED_DATA_CONTEXT
from marketplace.applications.tables import Application
from marketplace.loans.services import report_disbursement
from marketplace.security import encrypt_field
from tests.factories import World, application_in, valid_id_number

ACCOUNT = "6222 0210 0112 3456 789"


async def disbursed_loan(
    world: World, disbursed_on: date, principal: str = "12000", term: int = 12
) -> int:
    application_id = await application_in(world, "accepted", principal, term)
    return await report_disbursement(
        world.staff, application_id, disbursed_on, Decimal(principal), ACCOUNT
    )


async def reference_of(loan_application_id: int) -> str:
    row = (
        await Application.select(Application.reference)
        .where(Application.id == loan_application_id)
        .first()
    )
    assert row is not None
    return row["reference"]


async def with_shared_data(application_id: int) -> None:
    """What the borrower shared, as a real delivery writes it (the lead page reads it)."""
    shared = {
        "real_name": "张伟",
        "id_number": valid_id_number(),
        "mobile": "13912345678",
        "city": "北京",
        "employment_type": "employee",
        "monthly_income": "12000",
    }
    await Application.update(
        {
            Application.shared_data_encrypted: encrypt_field(
                json.dumps(shared, ensure_ascii=False), context=SHARED_DATA_CONTEXT
            )
        }
    ).where(Application.id == application_id)
