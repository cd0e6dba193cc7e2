"""Demo reconciliation: 华信银行 has reported its ledger for the ended month with the most
demo loans — one row matched, one with a different amount, one reference the
platform does not know, and one loan left out — so /console/settlement/reconciliation
shows every kind of row."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from marketplace.demo.decisions import _actor
from marketplace.demo.loans import STAFF_LOGIN
from marketplace.loans.tables import Loan
from marketplace.reconciliation.ledger import ReportRow, current_period
from marketplace.reconciliation.services import resolve_discrepancy, submit_report
from marketplace.reconciliation.statuses import ReportSource
from marketplace.reconciliation.tables import DisbursementReport

UNKNOWN_REFERENCE = "LM000000DEMO0001"


async def seed_reconciliation() -> int:
    """Returns how many ledger rows were reported (0 when there is nothing to seed)."""
    staff = await _actor(STAFF_LOGIN)
    if staff is None or staff.institution_id is None:
        return 0
    if await DisbursementReport.exists().where(
        DisbursementReport.institution == staff.institution_id
    ):
        return 0
    loans = (
        await Loan.select(
            Loan.principal, Loan.disbursed_on, Loan.application.reference.as_alias("reference")
        )
        .where((Loan.institution == staff.institution_id) & (Loan.disbursed_on < current_period()))
        .order_by(Loan.disbursed_on, ascending=False)
    )
    if not loans:
        return 0
    # The ended month with the most demo loans (the latest of equals), for the most kinds.
    by_month: dict[date, list[dict[str, Any]]] = {}
    for loan in loans:
        by_month.setdefault(loan["disbursed_on"].replace(day=1), []).append(loan)
    period = max(by_month, key=lambda month: (len(by_month[month]), month))
    month = sorted(by_month[period], key=lambda loan: loan["disbursed_on"])
    rows = [
        ReportRow(
            number=n + 2,
            application_reference=loan["reference"],
            # The second loan of the month is reported 100 yuan higher.
            principal=loan["principal"] + (Decimal("100") if n == 1 else 0),
            disbursed_on=loan["disbursed_on"],
            loan_number=f"HX{loan['disbursed_on']:%Y%m}{n + 1:04d}",
        )
        # The third loan of the month, if any, is left out of the ledger.
        for n, loan in enumerate(month)
        if n != 2
    ]
    rows.append(
        ReportRow(
            number=len(rows) + 2,
            application_reference=UNKNOWN_REFERENCE,
            principal=Decimal("8800.00"),
            disbursed_on=period + timedelta(days=1),
        )
    )
    await submit_report(staff, period, rows, source=ReportSource.UPLOAD, filename="放款台账.xlsx")
    await resolve_discrepancy(
        staff, None, period, UNKNOWN_REFERENCE, "该笔为线下渠道放款，误列入台账，下月报送时删除"
    )
    return len(rows)
