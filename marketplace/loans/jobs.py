"""The daily overdue run: days past due, DPD buckets and status moves for every open loan,
for one Asia/Shanghai business date, in one set-based UPDATE … FROM over the instalments
(no loop per loan: it has to keep up with a million loans)."""

from __future__ import annotations

from datetime import date, timedelta

from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.loancalc import today_shanghai
from marketplace.loans.services import LOAN_MONITOR
from marketplace.loans.statuses import (
    ALERT_DPD,
    InstalmentStatus,
    LoanEventKind,
    LoanStatus,
    bucket_sql,
    transition_pairs,
)
from marketplace.loans.tables import Loan, LoanDailyRun

_OPEN = f"('{InstalmentStatus.PENDING}', '{InstalmentStatus.PARTIAL}')"
_PAIRS = ", ".join(f"('{a}', '{b}')" for a, b in sorted(transition_pairs()))

# The same rule as statuses.status_for, per loan, from the aggregate of its instalments;
# a move outside the transition table is never written (the VALUES list is the table).
# Only enum constants are interpolated; the business date is a bound parameter.
DAILY_OVERDUE_SQL = f"""
WITH facts AS (
    SELECT i.loan AS id,
           COALESCE({{}}::date - MIN(i.due_on) FILTER (
               WHERE i.status IN {_OPEN} AND i.due_on < {{}}::date), 0) AS dpd,
           bool_and(i.status NOT IN {_OPEN}) AS all_paid,
           bool_or(i.status <> '{InstalmentStatus.PENDING}') AS any_paid,
           MAX(i.paid_on) AS last_paid_on
    FROM loan_instalment i
    JOIN loan o ON o.id = i.loan AND o.status <> '{LoanStatus.SETTLED}'
    GROUP BY i.loan
), target AS (
    SELECT f.id, f.last_paid_on, l.status AS old_status, l.dpd AS old_dpd,
           CASE WHEN f.all_paid THEN 0 ELSE f.dpd END AS dpd,
           CASE WHEN f.all_paid THEN '{LoanStatus.SETTLED}'
                WHEN f.dpd > 0 THEN '{LoanStatus.OVERDUE}'
                WHEN l.status = '{LoanStatus.DISBURSED}' AND NOT f.any_paid
                    THEN '{LoanStatus.DISBURSED}'
                ELSE '{LoanStatus.REPAYING}' END AS status
    FROM facts f JOIN loan l ON l.id = f.id
), moved AS (
    UPDATE loan AS l
    SET status = t.status,
        dpd = t.dpd,
        dpd_bucket = {bucket_sql("t.dpd")},
        settled_on = CASE WHEN t.status = '{LoanStatus.SETTLED}'
                          THEN t.last_paid_on ELSE l.settled_on END,
        version = l.version + 1,
        updated_at = now()
    FROM target t
    WHERE l.id = t.id
      AND (l.status, l.dpd) IS DISTINCT FROM (t.status, t.dpd)
      AND (l.status = t.status OR (l.status, t.status) IN (VALUES {_PAIRS}))
    RETURNING l.id, l.institution, l.status, l.dpd, l.dpd_bucket, t.old_status, t.old_dpd
), events AS (
    INSERT INTO loan_event (loan, institution, kind, occurred_on, dpd, dpd_bucket, at)
    SELECT m.id, m.institution, e.kind, {{}}::date, m.dpd, m.dpd_bucket, now()
    FROM moved m, LATERAL (VALUES
        (CASE WHEN m.status = m.old_status THEN NULL
              WHEN m.status = '{LoanStatus.OVERDUE}' THEN '{LoanEventKind.OVERDUE}'
              WHEN m.status = '{LoanStatus.SETTLED}' THEN '{LoanEventKind.SETTLED}'
              WHEN m.old_status = '{LoanStatus.OVERDUE}' THEN '{LoanEventKind.CURED}' END),
        (CASE WHEN m.dpd > {ALERT_DPD} AND m.dpd_bucket <> {bucket_sql("m.old_dpd")}
              THEN '{LoanEventKind.BUCKET}' END)
    ) AS e(kind)
    WHERE e.kind IS NOT NULL
)
SELECT status, count(*) AS loans FROM moved GROUP BY status
"""  # noqa: S608

# Month ends: each open loan's bucket and outstanding principal, then the roll from the
# month end before (per institution, bucket then → bucket now; "settled" once closed).
MONTH_END_SQL = f"""
INSERT INTO loan_month_end (loan, institution, month_end, dpd_bucket, dpd, principal_outstanding)
SELECT id, institution, {{}}::date, dpd_bucket, dpd, principal_outstanding
FROM loan WHERE status <> '{LoanStatus.SETTLED}' AND disbursed_on <= {{}}::date
ON CONFLICT (month_end, loan) DO NOTHING
"""  # noqa: S608

ROLL_SQL = f"""
INSERT INTO loan_roll (institution, month_end, from_bucket, to_bucket, loans, principal)
SELECT a.institution, {{}}::date, a.dpd_bucket, COALESCE(b.dpd_bucket, '{LoanStatus.SETTLED}'),
       count(*), sum(a.principal_outstanding)
FROM loan_month_end a
LEFT JOIN loan_month_end b ON b.loan = a.loan AND b.month_end = {{}}::date
WHERE a.month_end = (SELECT max(month_end) FROM loan_month_end WHERE month_end < {{}}::date)
GROUP BY a.institution, a.dpd_bucket, COALESCE(b.dpd_bucket, '{LoanStatus.SETTLED}')
ON CONFLICT (institution, month_end, from_bucket, to_bucket) DO NOTHING
"""  # noqa: S608


async def close_month(month_end: date) -> None:
    """Snapshot the loans as they stand at `month_end` and compute that month's roll."""
    await Loan.raw(MONTH_END_SQL, month_end, month_end)
    await Loan.raw(ROLL_SQL, month_end, month_end, month_end)


async def run_daily_overdue(business_date: date) -> int:
    """Age every open loan to `business_date`; returns how many loans changed. Running it
    again for the same date changes nothing."""
    async with transaction():
        previous = (
            await LoanDailyRun.select(LoanDailyRun.business_date)
            .where(LoanDailyRun.business_date < business_date)
            .order_by(LoanDailyRun.business_date, ascending=False)
            .first()
        )
        # The first run of a month closes the one before, as the last run left the loans.
        if previous is not None and previous["business_date"].replace(day=1) < (
            business_date.replace(day=1)
        ):
            await close_month(business_date.replace(day=1) - timedelta(days=1))
        rows = await Loan.raw(DAILY_OVERDUE_SQL, business_date, business_date, business_date)
        counts = {row["status"]: row["loans"] for row in rows}
        changed = sum(counts.values())
        await LoanDailyRun.insert(
            LoanDailyRun(business_date=business_date, changed=changed)
        ).on_conflict(
            target=LoanDailyRun.business_date,
            action="DO UPDATE",
            values=[LoanDailyRun.changed, LoanDailyRun.ran_at],
        )
        await audit(
            LOAN_MONITOR,
            "loan.daily_overdue",
            "loan_run",
            business_date.isoformat(),
            changed=changed,
            **{f"now_{status}": n for status, n in counts.items()},
        )
    return changed


async def daily_overdue() -> int:
    """The cron: once per business date, whatever how often it is called."""
    today = today_shanghai()
    if await LoanDailyRun.exists().where(LoanDailyRun.business_date == today):
        return 0
    return await run_daily_overdue(today)
