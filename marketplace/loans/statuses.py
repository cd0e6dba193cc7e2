"""The loan lifecycle and its one transition table; days-past-due buckets.

A loan starts when the institution reports the disbursement of an accepted application.

    disbursed ──repay──▶ repaying ──settle──▶ settled
        │                 ▲    │                  ▲
        │            cure │    │ fall_due         │
        └──fall_due──▶ overdue ────settle─────────┘

Beyond the main path, a fresh loan may fall overdue (its first instalment missed with
nothing ever paid) or be settled early before any instalment: both leave `disbursed`
directly rather than through a `repaying` it never was in.

Who moves a loan: the institution's repayment reports (`loan.record_repayment`) and the
daily overdue run, which applies the same table in set-based SQL (`transition_pairs`).
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class LoanStatus(StrEnum):
    DISBURSED = "disbursed"
    REPAYING = "repaying"
    OVERDUE = "overdue"
    SETTLED = "settled"


class InstalmentStatus(StrEnum):
    PENDING = "pending"
    PARTIAL = "partial"
    PAID = "paid"
    # Later periods closed by an early settlement: their interest and fees are not charged.
    SETTLED_EARLY = "settled_early"


class RepaymentKind(StrEnum):
    INSTALMENT = "instalment"
    PARTIAL = "partial"
    EARLY_SETTLEMENT = "early_settlement"


class LoanEventKind(StrEnum):
    DISBURSED = "disbursed"
    REPAYMENT = "repayment"
    OVERDUE = "overdue"
    # A worse DPD bucket reached by the daily run (31–60 and beyond raise alerts).
    BUCKET = "bucket"
    CURED = "cured"
    SETTLED = "settled"


EVENT_LABELS: dict[LoanEventKind, str] = {
    LoanEventKind.DISBURSED: N_("已放款"),
    LoanEventKind.REPAYMENT: N_("还款"),
    LoanEventKind.OVERDUE: N_("逾期"),
    LoanEventKind.BUCKET: N_("逾期加深"),
    LoanEventKind.CURED: N_("逾期已还清"),
    LoanEventKind.SETTLED: N_("已结清"),
}

L = LoanStatus
REPORT = "loan.record_repayment"
# Falling due is the system's step: the daily run takes it, nobody's button.
MONITOR = "loan.monitor"

STATUS_LABELS: dict[LoanStatus, str] = {
    L.DISBURSED: N_("已放款"),
    L.REPAYING: N_("还款中"),
    L.OVERDUE: N_("已逾期"),
    L.SETTLED: N_("已结清"),
}

LOAN_MACHINE: StateMachine[LoanStatus] = StateMachine(
    LoanStatus,
    STATUS_LABELS,
    {
        L.DISBURSED: {
            "repay": Transition(L.REPAYING, REPORT, N_("登记还款")),
            "fall_due": Transition(L.OVERDUE, MONITOR, N_("转为逾期"), "danger"),
            "settle": Transition(L.SETTLED, REPORT, N_("登记结清")),
        },
        L.REPAYING: {
            "fall_due": Transition(L.OVERDUE, MONITOR, N_("转为逾期"), "danger"),
            "settle": Transition(L.SETTLED, REPORT, N_("登记结清")),
        },
        L.OVERDUE: {
            "cure": Transition(L.REPAYING, REPORT, N_("登记还款")),
            "settle": Transition(L.SETTLED, REPORT, N_("登记结清")),
        },
    },
)


def transition_pairs() -> frozenset[tuple[str, str]]:
    """Every (from, to) the table allows: what the set-based daily run may write."""
    return frozenset(
        (str(state), str(t.target))
        for state, exits in LOAN_MACHINE.table.items()
        for t in exits.values()
    )


def action_to(current: LoanStatus, target: LoanStatus) -> str | None:
    """The table's action taking `current` to `target` (None when they are the same)."""
    if current == target:
        return None
    for name, transition in LOAN_MACHINE.transitions(current).items():
        if transition.target == target:
            return name
    raise ValueError(f"no transition {current} -> {target}")


def status_for(current: LoanStatus, *, all_paid: bool, dpd: int, any_paid: bool) -> LoanStatus:
    """Where a loan's facts put it; the daily run's SQL (jobs.py) mirrors this rule."""
    if current is L.SETTLED or all_paid:
        return L.SETTLED
    if dpd > 0:
        return L.OVERDUE
    if current is L.DISBURSED and not any_paid:
        return L.DISBURSED
    return L.REPAYING


class DpdBucket(StrEnum):
    CURRENT = "current"
    D1_30 = "1-30"
    D31_60 = "31-60"
    D61_90 = "61-90"
    D90_PLUS = "90+"


# (upper bound of days past due, bucket), in order; beyond the last bound is 90+.
BUCKET_BOUNDS: tuple[tuple[int, DpdBucket], ...] = (
    (0, DpdBucket.CURRENT),
    (30, DpdBucket.D1_30),
    (60, DpdBucket.D31_60),
    (90, DpdBucket.D61_90),
)

BUCKET_LABELS: dict[DpdBucket, str] = {
    DpdBucket.CURRENT: N_("正常"),
    DpdBucket.D1_30: N_("逾期1–30天"),
    DpdBucket.D31_60: N_("逾期31–60天"),
    DpdBucket.D61_90: N_("逾期61–90天"),
    DpdBucket.D90_PLUS: N_("逾期90天以上"),
}


def bucket_of(dpd: int) -> DpdBucket:
    for bound, bucket in BUCKET_BOUNDS:
        if dpd <= bound:
            return bucket
    return DpdBucket.D90_PLUS


def bucket_sql(column: str) -> str:
    """The same bucketing as `bucket_of`, as a SQL CASE over an integer column."""
    whens = " ".join(f"WHEN {column} <= {bound} THEN '{bucket}'" for bound, bucket in BUCKET_BOUNDS)
    return f"CASE {whens} ELSE '{DpdBucket.D90_PLUS}' END"


# Entering a bucket past 1–30 days (31–60 and worse) is an alert for the institution.
ALERT_DPD = next(bound for bound, bucket in BUCKET_BOUNDS if bucket is DpdBucket.D1_30)
