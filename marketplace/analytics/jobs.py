"""The analytics jobs: flush buffered behaviour events into PostgreSQL, refresh the daily
rollups, purge old events.

`refresh_rollups(since)` is set-based: per rollup one `INSERT … SELECT … GROUP BY … ON
CONFLICT DO UPDATE` over the raw rows from that Asia/Shanghai business date on (after
deleting that range, so a group that no longer exists disappears), in one transaction
under an advisory lock, so two runs never interleave (the one rollup not keyed by day,
analytics_band_return, is kept by deltas instead). Facts are counted on the day they
happened (submitted, delivered, decided, signed, disbursed), so a day's figures only move
while that day's facts arrive; the exceptions are the loan vintages (how many loans of a
disbursement day are overdue *now*) and the customer bands (consent in force *now*),
which the nightly full rebuild brings up to date."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marketplace.analytics import recorder
from marketplace.analytics.bands import age_sql, city_tier_sql, unpivot_sql
from marketplace.analytics.period import business_today
from marketplace.analytics.tables import BehaviourEvent, FunnelDaily, RefreshRun
from marketplace.applications.statuses import ApplicationStatus
from marketplace.db import engine, transaction
from marketplace.loancalc import SHANGHAI
from marketplace.loans.statuses import LoanStatus
from marketplace.parameters.services import get_parameters

log = logging.getLogger(__name__)
# Advisory lock key: one refresh at a time.
_LOCK = 0x616E61  # "ana"
FLUSH_BATCH = 1000
MAX_FLUSH_BATCHES = 50
_IN_FORCE = (LoanStatus.DISBURSED, LoanStatus.REPAYING, LoanStatus.OVERDUE)
_APPROVED = (ApplicationStatus.APPROVED, ApplicationStatus.ACCEPTED)


def day_start(day: date) -> datetime:
    """The moment an Asia/Shanghai business date begins."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def _in(values: Sequence[str]) -> str:
    """A SQL list of enum values (fixed strings from code, never input)."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def _day(column: str) -> str:
    return f"(({column}) AT TIME ZONE 'Asia/Shanghai')::date"


_FUNNEL = f"""
WITH src AS (
  SELECT {_day("a.submitted_at")} AS day, a.institution, a.product, a.city, a.channel,
         1 AS submitted, 0 AS delivered, 0 AS approved, 0 AS rejected, 0 AS signed,
         0 AS disbursed, 0::numeric AS amount, 0::numeric AS hours, 0 AS decisions
  FROM application a WHERE a.submitted_at >= {{}}
  UNION ALL
  SELECT {_day("a.delivered_at")}, a.institution, a.product, a.city, a.channel,
         0, 1, 0, 0, 0, 0, 0, 0, 0
  FROM application a WHERE a.delivered_at >= {{}}
  UNION ALL
  SELECT {_day("e.at")}, a.institution, a.product, a.city, a.channel, 0, 0,
         (e.status = '{ApplicationStatus.APPROVED}')::int,
         (e.status = '{ApplicationStatus.REJECTED}')::int,
         (e.status = '{ApplicationStatus.ACCEPTED}')::int, 0, 0,
         CASE WHEN e.status = '{ApplicationStatus.ACCEPTED}' THEN 0
              ELSE greatest(extract(epoch FROM e.at - coalesce(a.delivered_at, a.submitted_at))
                            / 3600, 0)::numeric END,
         (e.status <> '{ApplicationStatus.ACCEPTED}')::int
  FROM application_event e JOIN application a ON a.id = e.application
  WHERE e.at >= {{}} AND e.status IN {_in([ApplicationStatus.APPROVED, ApplicationStatus.REJECTED, ApplicationStatus.ACCEPTED])}
  UNION ALL
  SELECT l.disbursed_on, l.institution, l.product, a.city, a.channel, 0, 0, 0, 0, 0, 1,
         l.principal, 0, 0
  FROM loan l JOIN application a ON a.id = l.application WHERE l.disbursed_on >= {{}}
),
ins AS (
  INSERT INTO analytics_funnel_daily (day, institution, product, city, channel, submitted,
    delivered, approved, rejected, signed, disbursed, disbursed_amount, decision_hours_sum,
    decision_count)
  SELECT day, institution, product, city, channel, sum(submitted), sum(delivered),
         sum(approved), sum(rejected), sum(signed), sum(disbursed), sum(amount),
         round(sum(hours), 2), sum(decisions)
  FROM src GROUP BY day, institution, product, city, channel
  ON CONFLICT (day, institution, product, city, channel) DO UPDATE SET
    submitted = EXCLUDED.submitted, delivered = EXCLUDED.delivered,
    approved = EXCLUDED.approved, rejected = EXCLUDED.rejected, signed = EXCLUDED.signed,
    disbursed = EXCLUDED.disbursed, disbursed_amount = EXCLUDED.disbursed_amount,
    decision_hours_sum = EXCLUDED.decision_hours_sum, decision_count = EXCLUDED.decision_count
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""  # noqa: S608 - only enum values from code are interpolated

_LOANS = f"""
WITH ins AS (
  INSERT INTO analytics_loan_daily (day, institution, product, city, channel, loans, in_force,
    overdue, outstanding, overdue_balance)
  SELECT l.disbursed_on, l.institution, l.product, a.city, a.channel, count(*),
         count(*) FILTER (WHERE l.status IN {_in(_IN_FORCE)}),
         count(*) FILTER (WHERE l.status = '{LoanStatus.OVERDUE}'),
         coalesce(sum(l.principal_outstanding) FILTER (WHERE l.status IN {_in(_IN_FORCE)}), 0),
         coalesce(sum(l.principal_outstanding) FILTER (WHERE l.status = '{LoanStatus.OVERDUE}'), 0)
  FROM loan l JOIN application a ON a.id = l.application
  WHERE l.disbursed_on >= {{}}
  GROUP BY l.disbursed_on, l.institution, l.product, a.city, a.channel
  ON CONFLICT (day, institution, product, city, channel) DO UPDATE SET
    loans = EXCLUDED.loans, in_force = EXCLUDED.in_force, overdue = EXCLUDED.overdue,
    outstanding = EXCLUDED.outstanding, overdue_balance = EXCLUDED.overdue_balance
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""  # noqa: S608

# The coarse rollups, summed from the fine ones just written (same transaction, same
# day range): the fine rows are few compared with the raw ones, so this is cheap.
_FUNNEL_COARSE = """
WITH ins AS (
  INSERT INTO analytics_funnel_institution_daily (day, institution, submitted, delivered,
    approved, rejected, signed, disbursed, disbursed_amount, decision_hours_sum,
    decision_count)
  SELECT day, institution, sum(submitted), sum(delivered), sum(approved), sum(rejected),
         sum(signed), sum(disbursed), sum(disbursed_amount), sum(decision_hours_sum),
         sum(decision_count)
  FROM analytics_funnel_daily WHERE day >= {}
  GROUP BY day, institution
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""

_LOANS_COARSE = """
WITH ins AS (
  INSERT INTO analytics_loan_institution_daily (day, institution, loans, in_force, overdue,
    outstanding, overdue_balance)
  SELECT day, institution, sum(loans), sum(in_force), sum(overdue), sum(outstanding),
         sum(overdue_balance)
  FROM analytics_loan_daily WHERE day >= {}
  GROUP BY day, institution
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""

_BREAKDOWN = """
WITH src AS (
  SELECT day, institution, product::text AS product, city, channel, submitted, delivered,
         approved, rejected, signed, disbursed, disbursed_amount, decision_hours_sum,
         decision_count, 0 AS loans, 0 AS in_force, 0 AS overdue
  FROM analytics_funnel_daily WHERE day >= {}
  UNION ALL
  SELECT day, institution, product::text, city, channel, 0, 0, 0, 0, 0, 0, 0, 0, 0, loans,
         in_force, overdue
  FROM analytics_loan_daily WHERE day >= {}
),
ins AS (
  INSERT INTO analytics_breakdown_daily (day, institution, dimension, group_key, submitted,
    delivered, approved, rejected, signed, disbursed, disbursed_amount, decision_hours_sum,
    decision_count, loans, in_force, overdue)
  SELECT day, institution, d.dimension, d.group_key, sum(submitted), sum(delivered),
         sum(approved), sum(rejected), sum(signed), sum(disbursed), sum(disbursed_amount),
         sum(decision_hours_sum), sum(decision_count), sum(loans), sum(in_force), sum(overdue)
  FROM src CROSS JOIN LATERAL (VALUES ('product', product), ('city', city),
       ('channel', channel)) AS d(dimension, group_key)
  GROUP BY day, institution, d.dimension, d.group_key
  -- Written in the order the reports read it: a year of one institution's cities is then
  -- ~150 heap pages, not ~2,500 (the nightly rebuild restores the order).
  ORDER BY institution, d.dimension, day
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""

_REVENUE = f"""
WITH src AS (
  SELECT {_day("occurred_at")} AS day, institution, kind, 1 AS events, amount AS charges,
         0::numeric AS credits
  FROM billing_event WHERE occurred_at >= {{}}
  UNION ALL
  SELECT {_day("c.created_at")}, c.institution, e.kind, 0, 0, c.amount
  FROM billing_credit c JOIN billing_event e ON e.id = c.event WHERE c.created_at >= {{}}
),
ins AS (
  INSERT INTO analytics_revenue_daily (day, institution, kind, events, charges, credits)
  SELECT day, institution, kind, sum(events), sum(charges), sum(credits)
  FROM src GROUP BY day, institution, kind
  ON CONFLICT (day, institution, kind) DO UPDATE SET
    events = EXCLUDED.events, charges = EXCLUDED.charges, credits = EXCLUDED.credits
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""  # noqa: S608

_BEHAVIOUR = f"""
WITH ev AS (
  SELECT {_day("at")} AS day, coalesce(product, 0) AS product, kind, visitor, result_count
  FROM analytics_event WHERE at >= {{}}
),
converted AS (
  SELECT c.day, c.product, count(DISTINCT c.visitor) AS n FROM ev c
  WHERE c.kind = 'calculator_use' AND c.visitor <> '' AND EXISTS (
    SELECT 1 FROM ev o WHERE o.kind = 'apply_form_opened' AND o.day = c.day
      AND o.visitor = c.visitor AND (c.product = 0 OR o.product = c.product))
  GROUP BY c.day, c.product
),
ins AS (
  INSERT INTO analytics_behaviour_daily (day, product, views, searches, zero_result_searches,
    filter_uses, calculator_uses, apply_opened, apply_submitted, consents, calculator_visitors,
    calculator_apply_visitors)
  SELECT ev.day, ev.product,
         count(*) FILTER (WHERE kind = 'product_view'),
         count(*) FILTER (WHERE kind = 'search'),
         count(*) FILTER (WHERE kind = 'search' AND result_count = 0),
         count(*) FILTER (WHERE kind = 'filter_use'),
         count(*) FILTER (WHERE kind = 'calculator_use'),
         count(*) FILTER (WHERE kind = 'apply_form_opened'),
         count(*) FILTER (WHERE kind = 'apply_submitted'),
         count(*) FILTER (WHERE kind = 'consent_given'),
         count(DISTINCT visitor) FILTER (WHERE kind = 'calculator_use' AND visitor <> ''),
         coalesce(max(converted.n), 0)
  FROM ev LEFT JOIN converted ON converted.day = ev.day AND converted.product = ev.product
  GROUP BY ev.day, ev.product
  ON CONFLICT (day, product) DO UPDATE SET
    views = EXCLUDED.views, searches = EXCLUDED.searches,
    zero_result_searches = EXCLUDED.zero_result_searches, filter_uses = EXCLUDED.filter_uses,
    calculator_uses = EXCLUDED.calculator_uses, apply_opened = EXCLUDED.apply_opened,
    apply_submitted = EXCLUDED.apply_submitted, consents = EXCLUDED.consents,
    calculator_visitors = EXCLUDED.calculator_visitors,
    calculator_apply_visitors = EXCLUDED.calculator_apply_visitors
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""  # noqa: S608

_QUERIES = f"""
WITH ins AS (
  INSERT INTO analytics_query_daily (day, query, searches, zero_results)
  SELECT {_day("at")}, lower(btrim(query)), count(*), count(*) FILTER (WHERE result_count = 0)
  FROM analytics_event WHERE at >= {{}} AND kind = 'search' AND btrim(query) <> ''
  GROUP BY 1, 2
  ON CONFLICT (day, query) DO UPDATE SET
    searches = EXCLUDED.searches, zero_results = EXCLUDED.zero_results
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""  # noqa: S608

_FILTERS = f"""
WITH ins AS (
  INSERT INTO analytics_filter_daily (day, filter, uses)
  SELECT {_day("at")}, left(f.key, 30), count(*)
  FROM analytics_event, jsonb_object_keys(
    CASE WHEN jsonb_typeof(filters) = 'object' THEN filters ELSE jsonb_build_object() END
  ) AS f(key)
  WHERE at >= {{}} AND kind = 'filter_use'
  GROUP BY 1, 2
  ON CONFLICT (day, filter) DO UPDATE SET uses = EXCLUDED.uses
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""  # noqa: S608

_AGE = "extract(year FROM age(" + _day("a.submitted_at") + ", bp.birth_date))::int"
_DIMENSIONS = ("age", "city_tier", "income", "employment")
_PREVIOUS = ",\n         ".join(
    f"lag(day) OVER (PARTITION BY institution, borrower, {d} ORDER BY day) AS {d}_previous"
    for d in _DIMENSIONS
)
# One row per day × institution × borrower; a borrower whose profile changed within a day
# (rare) keeps that day's latest bands. Each row's previous day in the same band (see
# BandMember) looks back over the borrower's older rows at the institution, which an
# incremental refresh keeps (index (institution, borrower)).
_BANDS = f"""
WITH fresh AS (
  SELECT {_day("a.submitted_at")} AS day, a.institution, a.borrower,
         (array_agg({age_sql(_AGE)} ORDER BY a.id DESC))[1] AS age,
         (array_agg({city_tier_sql("a.city")} ORDER BY a.id DESC))[1] AS city_tier,
         (array_agg(a.income_band ORDER BY a.id DESC))[1] AS income,
         min(bp.employment_type) AS employment, count(*) AS applications,
         count(*) FILTER (WHERE a.status IN {_in(_APPROVED)}) AS approved,
         count(*) FILTER (WHERE EXISTS (SELECT 1 FROM loan l WHERE l.application = a.id))
           AS disbursed
  FROM application a
  JOIN consent c ON c.id = a.consent AND c.withdrawn_at IS NULL
  JOIN borrower_profile bp ON bp."user" = a.borrower
  WHERE a.submitted_at >= {{}}
  GROUP BY 1, a.institution, a.borrower
),
days AS (
  SELECT day, institution, borrower, age, city_tier, income, employment, true AS fresh
  FROM fresh
  UNION ALL
  SELECT o.day, o.institution, o.borrower, o.age, o.city_tier, o.income, o.employment, false
  FROM analytics_band_member o
  WHERE (o.institution, o.borrower) IN (SELECT institution, borrower FROM fresh)
),
previous AS (
  SELECT day, institution, borrower, fresh,
         {_PREVIOUS}
  FROM days
),
ins AS (
  INSERT INTO analytics_band_member (day, institution, borrower, age, city_tier, income,
    employment, applications, approved, disbursed, age_previous, city_tier_previous,
    income_previous, employment_previous)
  SELECT f.day, f.institution, f.borrower, f.age, f.city_tier, f.income, f.employment,
         f.applications, f.approved, f.disbursed, p.age_previous, p.city_tier_previous,
         p.income_previous, p.employment_previous
  FROM fresh f JOIN previous p ON p.fresh AND p.day = f.day
    AND p.institution = f.institution AND p.borrower = f.borrower
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""  # noqa: S608

# The band rows just written, folded per day × dimension × band (see BandDaily).
_BAND_DAILY = f"""
WITH ins AS (
  INSERT INTO analytics_band_daily (day, institution, dimension, band, borrowers,
    applications, approved, disbursed)
  SELECT m.day, m.institution, d.dimension, d.band, count(*), sum(m.applications),
         sum(m.approved), sum(m.disbursed)
  FROM analytics_band_member m CROSS JOIN LATERAL {unpivot_sql("m")}
  WHERE m.day >= {{}}
  GROUP BY m.day, m.institution, d.dimension, d.band
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""  # noqa: S608 - dimension names from bands.py

# BandReturn is keyed by previous day, and the band rows from a day on have previous
# days before it: so the refresh takes those rows out of it before rewriting them
# (_RETURNS_OUT) and adds the rewritten ones (_RETURNS_IN); emptied counts go.
_RETURNS_OF = f"""
  SELECT m.institution, d.dimension, d.band, d.previous, count(*) AS n
  FROM analytics_band_member m CROSS JOIN LATERAL {unpivot_sql("m")}
  WHERE m.day >= {{}} AND d.previous IS NOT NULL
  GROUP BY m.institution, d.dimension, d.band, d.previous"""  # noqa: S608
_RETURNS_OUT = f"""
WITH gone AS ({_RETURNS_OF}),
upd AS (
  UPDATE analytics_band_return r SET returns = r.returns - gone.n FROM gone
  WHERE r.institution = gone.institution AND r.previous = gone.previous
    AND r.dimension = gone.dimension AND r.band = gone.band
  RETURNING 1)
SELECT count(*) AS n FROM upd
"""  # noqa: S608
_RETURNS_IN = f"""
WITH ins AS (
  INSERT INTO analytics_band_return (institution, dimension, band, previous, returns)
  {_RETURNS_OF}
  ON CONFLICT (institution, previous, dimension, band) DO UPDATE SET
    returns = analytics_band_return.returns + EXCLUDED.returns
  RETURNING 1)
SELECT count(*) AS n FROM ins
"""  # noqa: S608

_ROLLUPS = (
    "analytics_funnel_daily",
    "analytics_loan_daily",
    "analytics_revenue_daily",
    "analytics_behaviour_daily",
    "analytics_query_daily",
    "analytics_filter_daily",
    "analytics_band_member",
    "analytics_band_daily",
    "analytics_funnel_institution_daily",
    "analytics_loan_institution_daily",
    "analytics_breakdown_daily",
)


async def _count(sql: str, *args: Any) -> int:
    rows = await FunnelDaily.raw(sql, *args)
    return int(rows[0]["n"]) if rows else 0


async def refresh_rollups(since: date | None = None) -> int:
    """Rebuild the daily rollups from the raw tables: everything (None) or from the
    Asia/Shanghai business date `since` on. Returns the number of rollup rows written."""
    start = day_start(since) if since else datetime(1970, 1, 1, tzinfo=UTC)
    first_day = since or date(1970, 1, 1)
    written = 0
    async with transaction():
        await FunnelDaily.raw("SELECT pg_advisory_xact_lock({})", _LOCK)
        await _count(_RETURNS_OUT, first_day)
        for table in _ROLLUPS:
            await FunnelDaily.raw(f"DELETE FROM {table} WHERE day >= {{}}", first_day)  # noqa: S608
        written += await _count(_FUNNEL, start, start, start, first_day)
        written += await _count(_LOANS, first_day)
        written += await _count(_FUNNEL_COARSE, first_day)
        written += await _count(_LOANS_COARSE, first_day)
        written += await _count(_BREAKDOWN, first_day, first_day)
        written += await _count(_REVENUE, start, start)
        written += await _count(_BEHAVIOUR, start)
        written += await _count(_QUERIES, start)
        written += await _count(_FILTERS, start)
        written += await _count(_BANDS, start)
        written += await _count(_BAND_DAILY, first_day)
        written += await _count(_RETURNS_IN, first_day)
        await FunnelDaily.raw("DELETE FROM analytics_band_return WHERE returns = 0")
        await RefreshRun.insert(RefreshRun(since=since, rows=written))
    return written


async def refresh_recent() -> int:
    """Every 10 minutes: from yesterday on (late events of yesterday still land)."""
    return await refresh_rollups(business_today() - timedelta(days=1))


async def refresh_nightly() -> int:
    """Once a day: everything, so the loan vintages and the consent-bound customer bands
    follow status changes on older days."""
    return await refresh_rollups(None)


def _row(raw: str) -> dict[str, Any] | None:
    try:
        event = json.loads(raw)
    except ValueError:
        return None
    return recorder.cleaned(event) if isinstance(event, dict) else None


async def flush_events() -> int:
    """Move buffered events from Redis into analytics_event in batches (executemany)."""
    moved = 0
    for _batch in range(MAX_FLUSH_BATCHES):
        raws = await recorder.take_batch(FLUSH_BATCH)
        if not raws:
            break
        rows = [row for row in map(_row, raws) if row is not None]
        if rows:
            await _insert(rows)
        moved += len(rows)
        if len(raws) < FLUSH_BATCH:
            break
    return moved


async def _insert(rows: list[dict[str, Any]]) -> None:
    async with engine().transaction() as tx:
        await tx.connection.executemany(
            "INSERT INTO analytics_event (kind, visitor, at, product, query, filters,"
            " result_count) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
            [
                (
                    row["kind"],
                    row["visitor"],
                    row["at"],
                    row["product"],
                    row["query"],
                    json.dumps(row["filters"], ensure_ascii=False),
                    row["result_count"],
                )
                for row in rows
            ],
        )


async def purge_events(now: datetime | None = None) -> int:
    """Delete behaviour events older than analytics_event_retention_days (the rollups,
    which hold no per-visitor rows, stay)."""
    days = (await get_parameters("analytics_event_retention_days"))[
        "analytics_event_retention_days"
    ]
    cutoff = (now or datetime.now(UTC)) - timedelta(days=int(days))
    rows = await BehaviourEvent.raw(
        "WITH gone AS (DELETE FROM analytics_event WHERE at < {} RETURNING 1)"
        " SELECT count(*) AS n FROM gone",
        cutoff,
    )
    return int(rows[0]["n"])
