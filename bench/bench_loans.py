"""Loans at scale: (a) the daily overdue run over 1,000,000 instalment rows against one
plain SQL UPDATE over the same rows; (b) the console portfolio page `/console/loans`
(and the collections queue `/console/collections`) over 100,000 loans through the real
web process, p50/p95 against `/healthz` measured in the same run.

Data: one institution, product, borrower and staff member made through the verbs
(tests.factories); then --loans applications, loans and --instalments instalments each,
generated set-based in SQL (equal principal, disbursed over the last 330 days; every tenth
loan stopped paying, the others paid each instalment on its due date), so the daily run
finds ~90 % of loans repaying, ~10 % overdue across the DPD buckets.

(a) Each timing starts from the same state (loans reset to disbursed, events and runs
deleted, VACUUM ANALYZE, none of it timed):
    * baseline: `UPDATE loan_instalment SET status = status` (every instalment row once);
    * first run: `run_daily_overdue(D)` moving every loan out of `disbursed`;
    * next day: `run_daily_overdue(D + 1)` after D (overdue loans age by one day).
  Median of --repeat timings each; ratios are run ÷ baseline (goal ≤ 3).
(b) `python -m server.cli web` (one uvicorn worker) on the same database; the staff member
signs in, then --requests sequential GETs per page after 5 warm-up ones.

Services — never anything but this machine: DATABASE_URL (the server; the benchmark creates
and drops its own database `loanmart_bench_loans`) and REDIS_URL with a database number other
than 0 (flushed). Prints a table and appends one row to each section of bench/RESULTS.md.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/bench_loans.py \\
        [--loans 100000] [--instalments 10] [--repeat 3] [--requests 100] [--no-web] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from _results import append_rows, now, python_version
from bench_web import (
    _is_local,
    flush_redis,
    free_port,
    recreate_database,
    redis_db,
    run_step,
    stop_server,
    wait_ready,
    with_database,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "loanmart_bench_loans"
STAFF_LOGIN = "bench-staff@bench-bank.example"
WARMUP = 5
PAGES = ("/console/loans", "/console/collections")

APPLICATIONS_SQL = """
INSERT INTO application (reference, borrower, product, institution, amount, term_months,
                         status, submission_key, delivered_at)
SELECT 'LB' || lpad(g::text, 10, '0'), {}, {}, {}, 12000, {}, 'accepted', 'bench-' || g, now()
FROM generate_series(1, {}) g
"""
LOANS_SQL = """
INSERT INTO loan (application, institution, borrower, product, principal, rate, rate_period,
                  term_months, repayment_method, disbursed_on, receiving_account_masked,
                  status, principal_outstanding)
SELECT a.id, a.institution, a.borrower, a.product, 12000, 0.015, 'month', a.term_months,
       'equal_principal', {}::date - (a.id % 330 + 1), '****6789', 'disbursed', 12000
FROM application a WHERE a.reference LIKE 'LB%'
"""
INSTALMENTS_SQL = """
INSERT INTO loan_instalment (loan, number, due_on, principal_due, interest_due, fee_due,
                             principal_paid, interest_paid, fee_paid, paid_on, status)
SELECT l.id, k, d.due_on, 12000 / l.term_months, 180, 0,
       CASE WHEN x.paid THEN 12000 / l.term_months ELSE 0 END,
       CASE WHEN x.paid THEN 180 ELSE 0 END, 0,
       CASE WHEN x.paid THEN d.due_on END,
       CASE WHEN x.paid THEN 'paid' ELSE 'pending' END
FROM loan l
CROSS JOIN generate_series(1, l.term_months) k
CROSS JOIN LATERAL (SELECT (l.disbursed_on + make_interval(months => k))::date AS due_on) d
CROSS JOIN LATERAL (SELECT d.due_on < {}::date AND l.id % 10 <> 0 AS paid) x
"""
RESET = (
    "UPDATE loan SET status = 'disbursed', dpd = 0, dpd_bucket = 'current', settled_on = NULL"
    " WHERE status <> 'disbursed' OR dpd <> 0",
    "DELETE FROM loan_event",
    "DELETE FROM loan_daily_run",
)
VACUUM = "VACUUM ANALYZE loan, loan_instalment, loan_event"
BASELINE_SQL = "UPDATE loan_instalment SET status = status"


async def generate(loans: int, instalments: int, business_date: date) -> int:
    from marketplace.loans.tables import Instalment
    from tests.factories import institution, listed_product, user

    bank = await institution("bench-bank", "压测银行")
    staff = await user("staff", STAFF_LOGIN, "institution_admin", bank, "压测员")
    operator = await user("operator", "bench-op@loanmart.example", "product_reviewer")
    borrower = await user("borrower", "13900000000", "borrower", None, "压测借款人")
    product = await listed_product(staff, operator)
    await Instalment.raw(APPLICATIONS_SQL, borrower.user_id, product, bank, instalments, loans)
    await Instalment.raw(LOANS_SQL, business_date)
    await Instalment.raw(INSTALMENTS_SQL, business_date)
    return await Instalment.count()


async def _timed(statement_or_run) -> float:
    started = time.perf_counter()
    await statement_or_run()
    return time.perf_counter() - started


async def _reset() -> None:
    from marketplace.db import engine

    for statement in RESET:
        await engine().run_ddl(statement)
    await engine().run_ddl(VACUUM)


async def daily_run_bench(business_date: date, repeat: int) -> dict[str, float]:
    from marketplace.db import engine
    from marketplace.loans.jobs import run_daily_overdue

    timings: dict[str, list[float]] = {"baseline": [], "first": [], "next": []}
    next_day = business_date + timedelta(days=1)
    for _ in range(repeat):
        await _reset()
        timings["baseline"].append(await _timed(lambda: engine().run_ddl(BASELINE_SQL)))
        await _reset()
        timings["first"].append(await _timed(lambda: run_daily_overdue(business_date)))
        await engine().run_ddl(VACUUM)
        timings["next"].append(await _timed(lambda: run_daily_overdue(next_day)))
    from marketplace.loans.tables import Loan

    states = await Loan.raw("SELECT status, dpd_bucket, count(*) AS n FROM loan GROUP BY 1, 2")
    print(
        "  loans after the runs:",
        ", ".join(f"{r['status']}/{r['dpd_bucket']} {r['n']:,}" for r in states),
    )
    return {name: statistics.median(values) for name, values in timings.items()}


async def _login(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/console/login")
    token = client.cookies.get("csrftoken")
    response = await client.post(
        "/console/login",
        data={"_csrf_token": token, "login": STAFF_LOGIN, "password": _password()},
    )
    if response.status_code != 303:
        raise SystemExit(f"staff sign-in failed: {response.status_code}")


def _password() -> str:
    from tests.factories import PASSWORD

    return PASSWORD


async def _latencies(client: httpx.AsyncClient, path: str, requests: int) -> list[float]:
    for _ in range(WARMUP):
        await client.get(path)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def web_bench(port: int, requests: int) -> dict[str, tuple[float, float]]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        results = {"/healthz": await _latencies(client, "/healthz", requests)}
        await _login(client)
        for page in PAGES:
            results[page] = await _latencies(client, page, requests)
    return {path: (statistics.median(v), p95(v)) for path, v in results.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--instalments", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--no-web", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    server_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not (server_url and redis_url and _is_local(server_url) and _is_local(redis_url)):
        raise SystemExit("DATABASE_URL and REDIS_URL must be set and point at this machine")
    if redis_db(redis_url) == 0:
        raise SystemExit("REDIS_URL must name a database other than 0: it is flushed")
    tmp = Path(tempfile.mkdtemp(prefix="loanmart-bench-loans-"))
    asyncio.run(recreate_database(server_url, BENCH_DATABASE, create=True))
    asyncio.run(flush_redis(redis_url))
    database_url = with_database(server_url, BENCH_DATABASE)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOANMART_VAR_DIR": str(tmp / "var"),
        "LOANMART_ENV": "development",
        "LOANMART_DEMO": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("MEILISEARCH_URL", None)
    process: subprocess.Popen | None = None
    try:
        run_step("migrate", env)
        # This process becomes a client of the bench database from here on.
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "LOANMART_VAR_DIR", "LOANMART_ENV")})
        os.environ.pop("MEILISEARCH_URL", None)
        sys.path.insert(0, str(PROJECT_ROOT))
        from marketplace.loancalc import today_shanghai

        business_date = today_shanghai()

        async def prepare_and_time() -> tuple[int, float, dict[str, float]]:
            started = time.perf_counter()
            rows = await generate(args.loans, args.instalments, business_date)
            generated = time.perf_counter() - started
            print(f"  generated {args.loans:,} loans, {rows:,} instalments in {generated:.0f} s")
            return rows, generated, await daily_run_bench(business_date, args.repeat)

        rows, _, daily = asyncio.run(prepare_and_time())
        print(
            f"daily run over {rows:,} instalments (median of {args.repeat}):"
            f" baseline UPDATE {daily['baseline']:.2f} s, first run {daily['first']:.2f} s"
            f" ({daily['first'] / daily['baseline']:.2f}×), next day {daily['next']:.2f} s"
            f" ({daily['next'] / daily['baseline']:.2f}×)"
        )
        machine = f"{platform.machine()} · {os.cpu_count()} CPUs"
        if not args.no_write:
            append_rows(
                DAILY_HEADING,
                DAILY_SECTION,
                [
                    f"| {now()} | {python_version()} | {machine} | {args.loans:,} × "
                    f"{args.instalments} = {rows:,} | {daily['baseline']:.2f} | "
                    f"{daily['first']:.2f} | {daily['first'] / daily['baseline']:.2f} | "
                    f"{daily['next']:.2f} | {daily['next'] / daily['baseline']:.2f} |"
                ],
            )
        if args.no_web:
            return 0
        port = free_port()
        web_env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "1"}
        with (tmp / "web.log").open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "web", "--workers", "1"],
                env=web_env,
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        async def web() -> dict[str, tuple[float, float]]:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:
                await wait_ready(probe, process)
            return await web_bench(port, args.requests)

        pages = asyncio.run(web())
        base_p50, base_p95 = pages["/healthz"]
        for path, (p50, p95_ms) in pages.items():
            print(
                f"  {path}: p50 {p50:.1f} ms, p95 {p95_ms:.1f} ms ({p95_ms / base_p95:.1f}× /healthz p95)"
            )
        if not args.no_write:
            cells = " | ".join(f"{pages[p][0]:.0f} · {pages[p][1]:.0f}" for p in PAGES)
            append_rows(
                WEB_HEADING,
                WEB_SECTION,
                [
                    f"| {now()} | {python_version()} | {machine} | {args.loans:,} | "
                    f"{args.requests} | {base_p50:.1f} · {base_p95:.1f} | {cells} | "
                    f"{pages[PAGES[0]][1] / base_p95:.0f} |"
                ],
            )
        return 0
    finally:
        if process is not None:
            stop_server(process)
        asyncio.run(recreate_database(server_url, BENCH_DATABASE, create=False))
        asyncio.run(flush_redis(redis_url))
        shutil.rmtree(tmp, ignore_errors=True)


DAILY_HEADING = "## Daily overdue run over a million instalments (`bench/bench_loans.py`)"
DAILY_SECTION = f"""
{DAILY_HEADING}

`marketplace.loans.jobs.run_daily_overdue` (one set-based UPDATE … FROM with its loan events
and audit row) over generated loans (equal principal, disbursed over the last 330 days, one
loan in ten stopped paying), against the same-run baseline of one plain
`UPDATE loan_instalment SET status = status` over every instalment row. Each timing starts
from the same state (loans reset, VACUUM ANALYZE; not timed); medians of 3. "first run"
moves every loan out of `disbursed` (the worst day); "next day" is the following business
date (the overdue loans age by a day). Goal: run ≤ 3 × baseline. A month's first run also
snapshots the month end (not in these figures).

| when (Asia/Shanghai) | python | machine | loans × instalments | baseline UPDATE (s) | first run (s) | first ÷ baseline | next day (s) | next ÷ baseline |
|---|---|---|---|---|---|---|---|---|
"""
WEB_HEADING = "## Portfolio and collections pages over 100,000 loans (`bench/bench_loans.py`)"
WEB_SECTION = f"""
{WEB_HEADING}

One uvicorn worker on the database of the run above; the institution's staff member signs
in and sends N sequential GETs per page (5 warm-up ones first). Cells are "p50 · p95" in ms;
`/healthz` (no database, no template) is the same-run baseline. Goal: `/console/loans`
p95 ≤ 300 ms. Client and server share the machine.

| when (Asia/Shanghai) | python | machine | loans | N | /healthz p50 · p95 | /console/loans p50 · p95 | /console/collections p50 · p95 | /console/loans p95 ÷ /healthz p95 |
|---|---|---|---|---|---|---|---|---|
"""


if __name__ == "__main__":
    sys.exit(main())
