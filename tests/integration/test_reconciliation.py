"""Reconciliation (issue 9, I10/A11): the institution's reported disbursement ledger of a
month against the platform's loans, matched by application reference within the
institution — matched, amount or date differs, missing on either side — each discrepancy
resolvable with a note; another institution's reference is "missing on platform" and its
rows are never visible."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from marketplace.audit.tables import AuditEntry
from marketplace.errors import InvalidTransition, NotFound, ValidationFailed
from marketplace.loans.tables import Loan
from marketplace.reconciliation.ledger import (
    ReportRow,
    check_rows,
    current_period,
    previous_period,
)
from marketplace.reconciliation.queries import (
    RowFilters,
    reconciliation_rows,
    reconciliation_summary,
)
from marketplace.reconciliation.services import resolve_discrepancy, save_row, submit_report
from marketplace.reconciliation.statuses import ReportSource
from marketplace.reconciliation.tables import DisbursementReport, ReportedDisbursement
from tests.loan_factories import disbursed_loan, reference_of

PERIOD = previous_period(current_period())


async def _loan(world, day: int, principal: str) -> tuple[int, str]:
    loan_id = await disbursed_loan(world, PERIOD + timedelta(days=day), principal, 6)
    loan = await Loan.objects().get(Loan.id == loan_id)
    return loan_id, await reference_of(loan.application)


def _row(number: int, reference: str, principal: str, day: int, loan_number: str = "") -> ReportRow:
    return ReportRow(
        number=number,
        application_reference=reference,
        principal=Decimal(principal),
        disbursed_on=PERIOD + timedelta(days=day),
        loan_number=loan_number,
    )


async def _outcomes(actor, **filters) -> dict[str, str]:
    page = await reconciliation_rows(actor, None, PERIOD, RowFilters(**filters), per_page=100)
    return {row.reference: row.outcome for row in page.rows}


async def _five_outcomes(world) -> dict[str, str]:
    """One loan of each outcome; returns outcome → reference."""
    _a, matched = await _loan(world, 1, "5000")
    _b, amount = await _loan(world, 2, "6000")
    _c, day = await _loan(world, 3, "7000")
    _d, unreported = await _loan(world, 4, "8000")
    await submit_report(
        world.staff,
        PERIOD,
        [
            _row(2, matched, "5000", 1, "JJ-001"),
            _row(3, amount, "6100.50", 2),
            _row(4, day, "7000", 5),
            _row(5, "LM000000NOSUCH1", "1000", 6),
        ],
        source=ReportSource.API,
    )
    return {
        "matched": matched,
        "amount_differs": amount,
        "date_differs": day,
        "missing_on_platform": "LM000000NOSUCH1",
        "missing_in_report": unreported,
    }


async def test_each_outcome_and_the_summary(world):
    refs = await _five_outcomes(world)
    assert await _outcomes(world.staff) == {ref: outcome for outcome, ref in refs.items()}

    page = await reconciliation_rows(world.staff, None, PERIOD, RowFilters(), per_page=100)
    by_ref = {row.reference: row for row in page.rows}
    amount = by_ref[refs["amount_differs"]]
    assert (amount.reported_principal, amount.platform_principal, amount.difference) == (
        Decimal("6100.50"),
        Decimal("6000.00"),
        Decimal("100.50"),
    )
    day = by_ref[refs["date_differs"]]
    assert (day.reported_on - day.platform_on).days == 2
    assert by_ref[refs["matched"]].loan_number == "JJ-001"
    assert by_ref[refs["matched"]].state == ""
    assert by_ref[refs["missing_in_report"]].reported_principal is None
    assert by_ref[refs["missing_on_platform"]].loan_id is None
    # Open discrepancies come first.
    assert page.rows[-1].outcome == "matched"

    summary = await reconciliation_summary(world.bank_id, PERIOD)
    assert (
        summary.matched,
        summary.amount_differs,
        summary.date_differs,
        summary.missing_on_platform,
        summary.missing_in_report,
        summary.unresolved,
    ) == (1, 1, 1, 1, 1, 4)
    assert summary.reported_at is not None

    discrepancies = await _outcomes(world.staff, outcome="discrepancies")
    assert set(discrepancies) == set(refs.values()) - {refs["matched"]}
    assert await _outcomes(world.staff, outcome="date_differs") == {
        refs["date_differs"]: "date_differs"
    }
    assert list(await _outcomes(world.staff, reference=refs["amount_differs"][-6:])) == [
        refs["amount_differs"]
    ]


async def test_nothing_reported_lists_the_platform_loans_as_missing_in_report(world):
    _loan_id, reference = await _loan(world, 0, "3000")
    # A loan of another month is not this period's.
    await disbursed_loan(world, PERIOD - timedelta(days=1), "3000", 6)
    summary = await reconciliation_summary(world.bank_id, PERIOD)
    assert (summary.missing_in_report, summary.unresolved, summary.reported_at) == (1, 1, None)
    assert await _outcomes(world.staff) == {reference: "missing_in_report"}


async def test_a_loan_of_another_month_reported_in_this_one_differs_by_date(world):
    earlier = await disbursed_loan(world, PERIOD - timedelta(days=3), "4000", 6)
    reference = await reference_of((await Loan.objects().get(Loan.id == earlier)).application)
    await submit_report(
        world.staff, PERIOD, [_row(2, reference, "4000", 0)], source=ReportSource.API
    )
    assert await _outcomes(world.staff) == {reference: "date_differs"}


async def test_another_institutions_reference_is_missing_on_platform_and_reveals_nothing(world):
    theirs = await disbursed_loan(world, PERIOD + timedelta(days=2), "9000", 6)
    await Loan.update({Loan.institution: world.other_bank_id}).where(Loan.id == theirs)
    their_ref = await reference_of((await Loan.objects().get(Loan.id == theirs)).application)
    await submit_report(
        world.staff, PERIOD, [_row(2, their_ref, "9000", 2)], source=ReportSource.API
    )
    page = await reconciliation_rows(world.staff, None, PERIOD, RowFilters())
    (row,) = page.rows
    assert (row.outcome, row.loan_id, row.platform_principal, row.platform_on) == (
        "missing_on_platform",
        None,
        None,
        None,
    )
    # The other institution sees its loan as not reported, and nothing of ours.
    assert await _outcomes(world.other_staff) == {their_ref: "missing_in_report"}


async def test_another_institutions_period_is_not_found(world):
    await _five_outcomes(world)
    with pytest.raises(NotFound):
        await reconciliation_rows(world.other_staff, world.bank_id, PERIOD, RowFilters())
    with pytest.raises(NotFound):
        await resolve_discrepancy(world.other_staff, world.bank_id, PERIOD, "LM000000NOSUCH1", "x")


async def test_resolving_with_a_note_keeps_the_row_listed_and_marked(world):
    refs = await _five_outcomes(world)
    await resolve_discrepancy(world.staff, None, PERIOD, refs["amount_differs"], "已冲正补款")
    page = await reconciliation_rows(world.staff, None, PERIOD, RowFilters(state="resolved"))
    (row,) = page.rows
    assert (row.reference, row.state, row.note) == (
        refs["amount_differs"],
        "resolved",
        "已冲正补款",
    )
    assert "resolve" not in row.actions
    assert (await reconciliation_summary(world.bank_id, PERIOD)).unresolved == 3
    with pytest.raises(InvalidTransition):
        await resolve_discrepancy(world.staff, None, PERIOD, refs["amount_differs"], "again")
    with pytest.raises(InvalidTransition):
        await resolve_discrepancy(world.staff, None, PERIOD, refs["matched"], "nothing to do")
    with pytest.raises(NotFound):
        await resolve_discrepancy(world.staff, None, PERIOD, "LMUNKNOWN", "nothing here")
    (audit,) = await AuditEntry.select().where(AuditEntry.action == "reconciliation.resolve")
    assert audit["actor_label"] == world.staff.label

    # The same values again keep it resolved; a changed value is a new, open discrepancy.
    rows = [
        _row(2, refs["matched"], "5000", 1),
        _row(3, refs["amount_differs"], "6100.50", 2),
    ]
    await submit_report(world.staff, PERIOD, rows, source=ReportSource.API)
    assert (await _outcomes(world.staff, state="resolved")) == {
        refs["amount_differs"]: "amount_differs"
    }
    await save_row(world.staff, PERIOD, _row(0, refs["amount_differs"], "6200", 2))
    assert await _outcomes(world.staff, state="resolved") == {}


async def test_a_new_report_replaces_the_period_and_keeps_history(world):
    refs = await _five_outcomes(world)
    await submit_report(
        world.staff, PERIOD, [_row(2, refs["matched"], "5000", 1)], source=ReportSource.UPLOAD
    )
    reports = await DisbursementReport.select().order_by(DisbursementReport.id)
    assert [(r["is_current"], r["row_count"]) for r in reports] == [(False, 4), (True, 1)]
    assert reports[0]["replaced_at"] is not None
    assert await ReportedDisbursement.count() == 5  # the old rows are kept
    audits = (
        await AuditEntry.select(AuditEntry.detail)
        .where(AuditEntry.action == "reconciliation.submit")
        .output(load_json=True)
    )
    assert audits[-1]["detail"]["replaced"] == reports[0]["id"]


async def test_a_row_by_form_adds_or_corrects_the_current_report(world):
    _loan_id, reference = await _loan(world, 1, "5000")
    await save_row(world.staff, PERIOD, _row(0, reference, "4000", 1))
    assert await _outcomes(world.staff) == {reference: "amount_differs"}
    await save_row(world.staff, PERIOD, _row(0, reference, "5000", 1, "JJ-9"))
    assert await _outcomes(world.staff) == {reference: "matched"}
    (report,) = await DisbursementReport.select()
    assert (report["source"], report["row_count"]) == ("form", 1)
    corrections = (
        await AuditEntry.select(AuditEntry.detail)
        .where(AuditEntry.action == "reconciliation.row")
        .output(load_json=True)
    )
    assert corrections[-1]["detail"]["before"]["principal"] == "4000.00"


async def test_parallel_submissions_leave_exactly_one_current_report(world):
    _loan_id, reference = await _loan(world, 1, "5000")
    await asyncio.gather(
        *(
            submit_report(
                world.staff, PERIOD, [_row(2, reference, str(1000 + n), 1)], source=ReportSource.API
            )
            for n in range(6)
        ),
        *(save_row(world.staff, PERIOD, _row(0, reference, "5000", 1)) for _n in range(2)),
    )
    (current,) = await DisbursementReport.select().where(DisbursementReport.is_current.eq(True))
    assert (
        await ReportedDisbursement.count().where(ReportedDisbursement.report == current["id"])
        == current["row_count"]
        == 1
    )
    assert len((await reconciliation_rows(world.staff, None, PERIOD, RowFilters())).rows) == 1


def test_duplicate_references_and_hostile_values_are_row_errors():
    values = {
        "application_reference": "LM1",
        "principal": "100",
        "disbursed_on": PERIOD.isoformat(),
    }
    rows, errors = check_rows(
        [
            (2, values),
            (3, values),
            (4, {**values, "application_reference": "LM2", "principal": "-5"}),
            (5, {**values, "application_reference": "LM3", "principal": "１００"}),
            (6, {**values, "application_reference": "LM4", "principal": "1" * 30}),
            (7, {**values, "application_reference": "LM\x005"}),
            (8, {**values, "application_reference": "LM6", "disbursed_on": "2001-01-01"}),
            (9, {**values, "application_reference": "=cmd|' /C calc'!A0"}),
            (10, {**values, "application_reference": "ＬＭ７😀"}),
            (11, {**values, "application_reference": "LM8", "principal": "=1+1"}),
        ],
        PERIOD,
    )
    assert [(e.row, e.field) for e in errors] == [
        (3, "application_reference"),
        (4, "principal"),
        (5, "principal"),
        (6, "principal"),
        (7, "application_reference"),
        (8, "disbursed_on"),
        (11, "principal"),
    ]
    assert errors[0].message == "与第 2 行申请编号重复"
    # A formula is kept as text; full-width letters are read as ASCII; emoji stay text.
    assert [row.application_reference for row in rows] == ["LM1", "=cmd|' /C calc'!A0", "LM7😀"]


async def test_submitting_more_than_the_limit_or_a_future_month_is_refused(world):
    next_year = current_period().replace(year=current_period().year + 1)
    with pytest.raises(ValidationFailed):
        await submit_report(world.staff, next_year, [], source=ReportSource.API)
    rows = [_row(n, f"LM{n}", "100", 1) for n in range(5001)]
    with pytest.raises(ValidationFailed):
        await submit_report(world.staff, PERIOD, rows, source=ReportSource.API)
    with pytest.raises(ValidationFailed):
        await submit_report(
            world.staff, PERIOD, [_row(2, "LM1", "1", 1)] * 2, source=ReportSource.API
        )
    assert await DisbursementReport.count() == 0
