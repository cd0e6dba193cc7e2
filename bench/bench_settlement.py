"""Statements at scale: `marketplace.settlement.building.build` over 1,000,000 billing
events of one month across 100 institutions, against the same-run baseline of a single SQL
`GROUP BY` over the same rows.

Data, generated set-based in SQL (never the ORM): 100 institutions, each with one signed
agreement (CPL, CPA and CPS in turn, every fourth with monthly caps), --events applications
and one billing event each, spread over last month (CPS events with a disbursed base
amount), and a credit on one event in a hundred.

Timings (median of --repeat, each from the same state — statements and their lines
deleted, VACUUM ANALYZE; not timed):
    * baseline: `SELECT institution, agreement, kind, count(*), sum(amount),
      sum(base_amount) FROM billing_event WHERE period = … GROUP BY 1, 2, 3`;
    * build: the month's drafts built from nothing (statements, credit and cap lines);
    * rebuild: the same build again over the drafts (nothing changes: idempotent).
Goal: build ≤ 3 × baseline and ≤ 30 s.

Services — never anything but this machine: DATABASE_URL (the server; the benchmark creates
and drops its own database `loanmart_bench_settlement`) and REDIS_URL with a database number
other than 0 (flushed). Prints a table and appends one row to bench/RESULTS.md.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/bench_settlement.py \\
        [--events 1000000] [--institutions 100] [--repeat 3] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _results import append_rows, now, python_version
from bench_loans import _timed
from bench_web import _is_local, flush_redis, recreate_database, redis_db, run_step, with_database

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "loanmart_bench_settlement"

INSTITUTIONS_SQL = """
INSERT INTO institution (code, name, short_name, kind, licence_no, city)
SELECT 'bench-' || g, '压测机构' || g || '股份有限公司', '压测机构' || g, 'bank', 'B' || g, '北京'
FROM generate_series(1, {}) g
"""
AGREEMENTS_SQL = """
INSERT INTO agreement (institution, version, pricing_model, rate, monthly_unit_cap,
                       monthly_fee_cap, valid_from, valid_to, status, signed_at)
SELECT i.id, 1, m.model,
       CASE m.model WHEN 'cps' THEN 0.012 WHEN 'cpa' THEN 180 ELSE 35 END,
       CASE WHEN i.id % 4 = 0 AND m.model <> 'cps' THEN 5000 END,
       CASE WHEN i.id % 4 = 0 THEN 250000 END,
       DATE '2024-01-01', DATE '2034-01-01', 'signed', TIMESTAMPTZ '2024-01-01 00:00+08'
FROM institution i
CROSS JOIN LATERAL (SELECT (ARRAY['cpl', 'cpa', 'cps'])[i.id % 3 + 1] AS model) m
WHERE i.code LIKE 'bench-%' AND i.code <> 'bench-product-bank'
"""
APPLICATIONS_SQL = """
WITH banks AS (
    SELECT array_agg(id ORDER BY id) AS ids FROM institution
    WHERE code LIKE 'bench-%' AND code <> 'bench-product-bank'
)
INSERT INTO application (reference, borrower, product, institution, amount, term_months,
                         status, submission_key, delivered_at)
SELECT 'SB' || lpad(g::text, 10, '0'), {}, {}, banks.ids[g % cardinality(banks.ids) + 1],
       20000 + (g % 50) * 1000, 12, 'delivered', 'bench-' || g, now()
FROM banks, generate_series(1, {}) g
"""
EVENTS_SQL = """
INSERT INTO billing_event (institution, application, kind, agreement, agreement_version,
                           amount, base_amount, occurred_at, period, borrower_key, created_at)
SELECT a.institution, a.id, ag.pricing_model, ag.id, 1,
       CASE WHEN ag.pricing_model = 'cps' THEN round(a.amount * ag.rate, 2) ELSE ag.rate END,
       CASE WHEN ag.pricing_model = 'cps' THEN a.amount END,
       {}::date + make_interval(secs => (a.id::bigint * 7919) % (27 * 86400)) - interval '8 hours',
       {}::date, '', now()
FROM application a JOIN agreement ag ON ag.institution = a.institution
WHERE a.reference LIKE 'SB%'
"""
CREDITS_SQL = """
INSERT INTO billing_credit (institution, event, reason, amount, note, created_at, period)
SELECT e.institution, e.id, 'duplicate', e.amount, '', e.occurred_at, e.period
FROM billing_event e WHERE e.id % 100 = 0
"""
RESET = ("DELETE FROM statement_line", "DELETE FROM statement")
VACUUM = "VACUUM ANALYZE billing_event, billing_credit, statement, statement_line"
BASELINE_SQL = (
    "SELECT institution, agreement, kind, count(*) AS n, sum(amount) AS charges, "
    "sum(base_amount) AS base FROM billing_event WHERE period = {} GROUP BY 1, 2, 3"
)


async def generate(events: int, institutions: int, period) -> int:
    from marketplace.settlement.tables import BillingEvent
    from tests.factories import institution, listed_product, user

    bank = await institution("bench-product-bank", "压测产品机构")
    staff = await user("staff", "bench-staff@bench.example", "institution_admin", bank, "压测员")
    operator = await user("operator", "bench-op@loanmart.example", "product_reviewer")
    borrower = await user("borrower", "13900000000", "borrower", None, "压测借款人")
    product = await listed_product(staff, operator)
    await BillingEvent.raw(INSTITUTIONS_SQL, institutions)
    await BillingEvent.raw(AGREEMENTS_SQL)
    await BillingEvent.raw(APPLICATIONS_SQL, borrower.user_id, product, events)
    await BillingEvent.raw(EVENTS_SQL, period, period)
    await BillingEvent.raw(CREDITS_SQL)
    return await BillingEvent.count()


async def _reset() -> None:
    from marketplace.db import engine

    for statement in RESET:
        await engine().run_ddl(statement)
    await engine().run_ddl(VACUUM)


async def build_bench(period, repeat: int) -> dict[str, float]:
    from marketplace.settlement.building import build
    from marketplace.settlement.tables import Statement

    async def baseline() -> None:
        await Statement.raw(BASELINE_SQL, period)

    timings: dict[str, list[float]] = {"baseline": [], "build": [], "rebuild": []}
    for _ in range(repeat):
        await _reset()
        timings["baseline"].append(await _timed(baseline))
        timings["build"].append(await _timed(lambda: build(period)))
        timings["rebuild"].append(await _timed(lambda: build(period)))
    totals = await Statement.raw(
        "SELECT count(*) AS n, sum(event_count) AS events, sum(net) AS net, "
        "(SELECT count(*) FROM statement_line) AS lines FROM statement"
    )
    row = totals[0]
    print(
        f"  {row['n']} statements, {row['events']:,} events, {row['lines']:,} lines,"
        f" net {row['net']:,} yuan"
    )
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--institutions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    server_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not (server_url and redis_url and _is_local(server_url) and _is_local(redis_url)):
        raise SystemExit("DATABASE_URL and REDIS_URL must be set and point at this machine")
    if redis_db(redis_url) == 0:
        raise SystemExit("REDIS_URL must name a database other than 0: it is flushed")
    tmp = Path(tempfile.mkdtemp(prefix="loanmart-bench-settlement-"))
    asyncio.run(recreate_database(server_url, BENCH_DATABASE, create=True))
    asyncio.run(flush_redis(redis_url))
    env = {
        **os.environ,
        "DATABASE_URL": with_database(server_url, BENCH_DATABASE),
        "REDIS_URL": redis_url,
        "LOANMART_VAR_DIR": str(tmp / "var"),
        "LOANMART_ENV": "development",
        "LOANMART_DEMO": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("MEILISEARCH_URL", None)
    try:
        run_step("migrate", env)
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "LOANMART_VAR_DIR", "LOANMART_ENV")})
        os.environ.pop("MEILISEARCH_URL", None)
        sys.path.insert(0, str(PROJECT_ROOT))
        from marketplace.settlement.periods import current_month, previous_month

        period = previous_month(current_month())

        async def prepare_and_time() -> tuple[int, dict[str, float]]:
            started = time.perf_counter()
            rows = await generate(args.events, args.institutions, period)
            print(f"  generated {rows:,} billing events in {time.perf_counter() - started:.0f} s")
            return rows, await build_bench(period, args.repeat)

        rows, timing = asyncio.run(prepare_and_time())
        base = timing["baseline"]
        print(
            f"statements over {rows:,} events (median of {args.repeat}): baseline GROUP BY"
            f" {base:.2f} s, build {timing['build']:.2f} s ({timing['build'] / base:.2f}×),"
            f" rebuild {timing['rebuild']:.2f} s ({timing['rebuild'] / base:.2f}×)"
        )
        if not args.no_write:
            machine = f"{platform.machine()} · {os.cpu_count()} CPUs"
            append_rows(
                HEADING,
                SECTION,
                [
                    f"| {now()} | {python_version()} | {machine} | {rows:,} | "
                    f"{args.institutions} | {base:.2f} | {timing['build']:.2f} | "
                    f"{timing['build'] / base:.2f} | {timing['rebuild']:.2f} | "
                    f"{timing['rebuild'] / base:.2f} |"
                ],
            )
        return 0
    finally:
        asyncio.run(recreate_database(server_url, BENCH_DATABASE, create=False))
        asyncio.run(flush_redis(redis_url))
        shutil.rmtree(tmp, ignore_errors=True)


HEADING = "## Statements over a million billing events (`bench/bench_settlement.py`)"
SECTION = f"""
{HEADING}

`marketplace.settlement.building.build` for one month over generated billing events (100
institutions, CPL/CPA/CPS agreements in turn, every fourth capped; one event in a hundred
credited): one aggregate per (institution, agreement, kind), the month's credits, cap lines
per agreement, statements and lines upserted. Baseline: one plain `GROUP BY` over the same
rows in the same run. Each timing starts from the same state (statements deleted, VACUUM
ANALYZE; not timed); medians of 3. "rebuild" runs the build again over its drafts
(idempotent: nothing is written). Goal: build ≤ 3 × baseline and ≤ 30 s.

| when (Asia/Shanghai) | python | machine | events | institutions | baseline GROUP BY (s) | build (s) | build ÷ baseline | rebuild (s) | rebuild ÷ baseline |
|---|---|---|---|---|---|---|---|---|---|
"""

if __name__ == "__main__":
    sys.exit(main())
