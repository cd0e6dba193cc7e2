"""The loan transition table, DPD buckets and the repayment rules of one loan: random
repayments and business-date moves never leave the table, and the money always adds up."""

from __future__ import annotations

from collections import deque
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from marketplace.accounts.roles import permissions_of
from marketplace.actors import Actor
from marketplace.errors import InvalidTransition, PermissionDenied
from marketplace.loancalc import RepaymentMethod, quote
from marketplace.loans import ledger
from marketplace.loans.ledger import Line
from marketplace.loans.services import LOAN_MONITOR, move_to
from marketplace.loans.statuses import (
    LOAN_MACHINE,
    DpdBucket,
    InstalmentStatus,
    LoanStatus,
    bucket_of,
    status_for,
    transition_pairs,
)

L = LoanStatus
FINANCE = Actor(
    user_id=1,
    kind="staff",
    label="f",
    role="finance",
    permissions=permissions_of("staff", "finance"),
)
RISK = Actor(
    user_id=2,
    kind="staff",
    label="r",
    role="risk_officer",
    permissions=permissions_of("staff", "risk_officer"),
)


def test_the_table_is_the_lifecycle():
    assert transition_pairs() == {
        (L.DISBURSED, L.REPAYING),
        (L.DISBURSED, L.OVERDUE),
        (L.DISBURSED, L.SETTLED),
        (L.REPAYING, L.OVERDUE),
        (L.REPAYING, L.SETTLED),
        (L.OVERDUE, L.REPAYING),
        (L.OVERDUE, L.SETTLED),
    }
    assert LOAN_MACHINE.is_terminal(L.SETTLED)
    seen, queue = {L.DISBURSED}, deque([L.DISBURSED])
    while queue:
        for transition in LOAN_MACHINE.transitions(queue.popleft()).values():
            if transition.target not in seen:
                seen.add(transition.target)
                queue.append(transition.target)
    assert seen == set(LoanStatus)


def test_falling_due_is_only_the_monitors_step():
    with pytest.raises(PermissionDenied):
        LOAN_MACHINE.target(L.REPAYING, "fall_due", FINANCE)
    assert LOAN_MACHINE.target(L.REPAYING, "fall_due", LOAN_MONITOR) is L.OVERDUE
    # A repayment report that reveals an overdue loan is still accepted: the monitor moves it.
    move_to(L.REPAYING, L.OVERDUE, FINANCE)
    with pytest.raises(PermissionDenied):
        move_to(L.OVERDUE, L.REPAYING, RISK)
    with pytest.raises(InvalidTransition):
        LOAN_MACHINE.target(L.SETTLED, "repay", FINANCE)
    assert "fall_due" not in LOAN_MACHINE.actions(L.REPAYING, FINANCE)


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, DpdBucket.CURRENT),
        (1, DpdBucket.D1_30),
        (30, DpdBucket.D1_30),
        (31, DpdBucket.D31_60),
        (60, DpdBucket.D31_60),
        (61, DpdBucket.D61_90),
        (90, DpdBucket.D61_90),
        (91, DpdBucket.D90_PLUS),
        (4000, DpdBucket.D90_PLUS),
    ],
)
def test_buckets(dpd, bucket):
    assert bucket_of(dpd) is bucket


def test_status_for_follows_the_facts():
    assert status_for(L.DISBURSED, all_paid=False, dpd=0, any_paid=False) is L.DISBURSED
    assert status_for(L.DISBURSED, all_paid=False, dpd=3, any_paid=False) is L.OVERDUE
    assert status_for(L.OVERDUE, all_paid=False, dpd=0, any_paid=True) is L.REPAYING
    assert status_for(L.OVERDUE, all_paid=True, dpd=0, any_paid=True) is L.SETTLED


def _lines(principal: str, term: int, method: str, start: date) -> list[Line]:
    plan = quote(
        Decimal(principal),
        term,
        method,
        Decimal("0.18"),
        "year",
        [{"kind": "service", "timing": "per_period", "amount": "5"}],
        start,
    )
    return [
        Line(
            number=row.period,
            due_on=row.due_date,
            principal_due=row.principal,
            interest_due=row.interest,
            fee_due=row.fees,
        )
        for row in plan.schedule
    ]


def test_allocation_is_oldest_first_fees_interest_principal():
    lines = _lines("1200", 3, "equal_principal", date(2026, 1, 31))
    first = lines[0]
    # 5 fee + 18 interest (1200 × 1.5%), then 10 of principal.
    allocation = ledger.apply_payment(lines, Decimal("33.00"), date(2026, 2, 28))
    assert (allocation.fee, allocation.interest, allocation.principal) == (
        Decimal("5.00"),
        Decimal("18.00"),
        Decimal("10.00"),
    )
    assert first.status is InstalmentStatus.PARTIAL and lines[1].status is InstalmentStatus.PENDING
    # The rest of period 1 (390 principal) and 20 more go to period 2's fee and interest.
    ledger.apply_payment(lines, Decimal("410.00"), date(2026, 3, 1))
    assert first.status is InstalmentStatus.PAID and first.paid_on == date(2026, 3, 1)
    assert lines[1].fee_paid == Decimal("5.00") and lines[1].interest_paid == Decimal("12.00")
    assert lines[1].principal_paid == Decimal("3.00")
    with pytest.raises(ValueError, match="over-payment"):
        ledger.apply_payment(lines, ledger.outstanding(lines) + Decimal("0.01"), date(2026, 3, 2))


def test_early_settlement_charges_the_current_period_only():
    lines = _lines("1200", 3, "equal_principal", date(2026, 1, 31))
    on = date(2026, 3, 10)  # period 1 (28 Feb) is overdue, period 2 (31 Mar) is current
    # Period 1 in full (400 + 18 + 5), period 2 in full (400 + 12 + 5), period 3 principal.
    assert ledger.settlement_amount(lines, on) == Decimal("1240.00")
    allocation = ledger.apply_settlement(lines, on)
    assert allocation.total == Decimal("1240.00")
    assert ledger.all_paid(lines)
    assert lines[2].status is InstalmentStatus.SETTLED_EARLY
    assert lines[2].interest_due == lines[2].fee_due == Decimal("0.00")


def test_days_past_due_across_month_ends():
    lines = _lines("3000", 3, "equal_installment", date(2026, 1, 31))
    assert [line.due_on for line in lines] == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert ledger.days_past_due(lines, date(2026, 2, 28)) == 0  # the due date is on time
    assert ledger.days_past_due(lines, date(2026, 3, 1)) == 1
    assert ledger.days_past_due(lines, date(2026, 3, 31)) == 31
    assert ledger.days_past_due(lines, date(2026, 5, 29)) == 90


class LoanLifecycle(RuleBasedStateMachine):
    @initialize(
        principal=st.integers(min_value=100, max_value=500_000),
        term=st.sampled_from([1, 3, 6, 12]),
        method=st.sampled_from(list(RepaymentMethod)),
        start=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    )
    def disburse(self, principal, term, method, start):
        self.principal = Decimal(principal)
        self.lines = _lines(str(principal), term, method, start)
        self.today = start
        self.status = L.DISBURSED
        self.received = Decimal("0.00")
        self.allocated = Decimal("0.00")
        self.principal_repaid = Decimal("0.00")

    def _age(self) -> None:
        target = status_for(
            self.status,
            all_paid=ledger.all_paid(self.lines),
            dpd=ledger.days_past_due(self.lines, self.today),
            any_paid=ledger.any_paid(self.lines),
        )
        assert target == self.status or (self.status, target) in transition_pairs()
        self.status = target

    def _book(self, allocation: ledger.Allocation, amount: Decimal) -> None:
        self.received += amount
        self.allocated += allocation.total
        self.principal_repaid += allocation.principal

    @rule(days=st.integers(min_value=0, max_value=120))
    def business_date_moves(self, days):
        self.today += timedelta(days=days)
        self._age()

    @precondition(lambda self: self.status is not L.SETTLED)
    @rule(share=st.integers(min_value=1, max_value=1000))
    def repay(self, share):
        owed = ledger.outstanding(self.lines)
        amount = max(Decimal("0.01"), (owed * share / 1000).quantize(Decimal("0.01")))
        self._book(ledger.apply_payment(self.lines, amount, self.today), amount)
        self._age()

    @precondition(lambda self: self.status is not L.SETTLED)
    @rule()
    def settle_early(self):
        amount = ledger.settlement_amount(self.lines, self.today)
        self._book(ledger.apply_settlement(self.lines, self.today), amount)
        self._age()
        assert self.status is L.SETTLED

    @precondition(lambda self: self.status is not L.SETTLED)
    @rule()
    def over_payment_is_refused(self):
        before = [(line.principal_paid, line.interest_paid, line.fee_paid) for line in self.lines]
        with pytest.raises(ValueError, match="over-payment"):
            ledger.apply_payment(
                self.lines, ledger.outstanding(self.lines) + Decimal("0.01"), self.today
            )
        assert before == [(ln.principal_paid, ln.interest_paid, ln.fee_paid) for ln in self.lines]

    @invariant()
    def money_adds_up(self):
        if not hasattr(self, "lines"):
            return
        assert self.principal_repaid + ledger.principal_outstanding(self.lines) == self.principal
        assert self.allocated == self.received
        for line in self.lines:
            assert Decimal(0) <= line.principal_paid <= line.principal_due
            assert Decimal(0) <= line.interest_paid <= line.interest_due
            assert Decimal(0) <= line.fee_paid <= line.fee_due
        assert (self.status is L.SETTLED) == ledger.all_paid(self.lines)
        assert self.status in set(LoanStatus)


LoanLifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
TestLoanLifecycle = LoanLifecycle.TestCase
