"""Application submissions per second through the real web process, against the
bare-stack `/db` page in the same run, and where a submission's time goes (for issue #14).

Database `loanmart_bench_submit` (created, migrated and demo-seeded; dropped at the end)
or, with --database, an existing generated one (e.g. `loanmart_bench_volume`: the risk
screening's counts then run over 1,000,000 applications; the submissions are added to it).
--submissions borrowers are written directly (distinct mobiles and ID numbers, so the
anti-fraud rules see distinct people) and each signs in over HTTP; then every borrower
submits one application (GET the apply form for its digest and key, POST it) to one
listed product that admits them, --concurrency at a time. Reported: submissions per
second of wall time, p50 / p95 of the POST, and the baseline's `/db` req/s and p50 / p95
at the same concurrency, measured right before.

--profile N (default 100): N more submissions through the same app in this process
(httpx's ASGI transport, no uvicorn) under cProfile, after a few unprofiled ones; the top
functions by own time and by cumulative time are printed (--profile-out keeps the file).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/bench_submit.py \\
        [--submissions 300] [--concurrency 8] [--profile 100] [--database NAME] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from _results import append_rows, now, python_version
from bench_reports import (
    BASELINE_DIR,
    _baseline_env,
    _config,
    ensure_baseline_database,
    local_services,
    server_env,
    start,
    wait_baseline,
)
from bench_web import flush_redis, free_port, run_step, stop_server, wait_ready
from gen_volume import with_database

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "loanmart_bench_submit"
PASSWORD = "Bench-Submit-2026"
MOBILE_BASE = 16_500_000_000  # 165xxxxxxxx: never a demo or e2e number
WARMUP = 10


@dataclass
class Run:
    ok: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, q: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]


# -- data ---------------------------------------------------------------------------------


async def pick_product(database_url: str) -> int:
    conn = await asyncpg.connect(**_config(database_url))
    try:
        product = await conn.fetchval(
            "SELECT p.id FROM product p JOIN institution i ON i.id = p.institution"
            " WHERE p.status = 'listed' AND i.status = 'active' AND p.cities = '{}'"
            " AND 12 = ANY(p.term_options) AND p.amount_min <= 50000 AND p.amount_max >= 50000"
            " AND 'equal_installment' = ANY(p.repayment_methods) AND p.min_monthly_income <= 12000"
            " AND (p.employment_types = '{}' OR 'employee' = ANY(p.employment_types))"
            " AND p.age_min <= 30 AND p.age_max >= 50"
            " ORDER BY p.id LIMIT 1"
        )
    finally:
        await conn.close()
    if product is None:
        raise SystemExit("no listed product admits the bench borrowers")
    return product


async def make_borrowers(database_url: str, count: int, offset: int) -> list[str]:
    """`count` borrowers with distinct mobiles; returns their mobiles."""
    from marketplace.accounts.services import mobile_login_key
    from marketplace.security import encrypt_field, hash_password, mask_mobile

    password_hash = hash_password(PASSWORD)
    mobiles = [str(MOBILE_BASE + offset + n) for n in range(count)]
    conn = await asyncpg.connect(**_config(database_url))
    try:
        await conn.copy_records_to_table(
            "app_user",
            records=[
                (
                    "borrower",
                    mobile_login_key(m),
                    "压测借款人",
                    encrypt_field(m, context="user.mobile"),
                    mask_mobile(m),
                    password_hash,
                    "borrower",
                    "active",
                )
                for m in mobiles
            ],  # fmt: skip
            columns=[
                "kind",
                "login_key",
                "display_name",
                "mobile_encrypted",
                "mobile_masked",
                "password_hash",
                "role",
                "status",
            ],  # fmt: skip
        )
    finally:
        await conn.close()
    return mobiles


def id_number(n: int) -> str:
    from marketplace.security.identity import id_check_char

    first = f"110105{19800101 + (n % 28) + 100 * (n // 28 % 12)}{n % 1000:03d}"
    return first + id_check_char(first)


# -- HTTP ----------------------------------------------------------------------------------


def _hidden(page: str, name: str) -> str:
    for tag in re.findall(r"<input[^>]*>", page):
        if f'name="{name}"' in tag:
            match = re.search(r'value="([^"]*)"', tag)
            if match:
                return match.group(1)
    raise SystemExit(f"the apply form has no {name}")


def http_client(target: str | httpx.ASGITransport) -> httpx.AsyncClient:
    """A client of the web process at a URL, or of the app in this process."""
    if isinstance(target, str):
        return httpx.AsyncClient(base_url=target, timeout=120, trust_env=False)
    return httpx.AsyncClient(transport=target, base_url="http://127.0.0.1", timeout=120)


async def signed_in(target: str | httpx.ASGITransport, mobile: str) -> httpx.AsyncClient:
    client = http_client(target)
    await client.get("/healthz")
    await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "_csrf_token": client.cookies.get("csrftoken"),
            "login": mobile,
            "password": PASSWORD,
        },
    )
    if response.status_code != 303:
        await client.aclose()
        raise SystemExit(f"borrower sign-in answered {response.status_code}")
    return client


def form(product_page: str, client: httpx.AsyncClient, n: int) -> dict[str, str]:
    return {
        "_csrf_token": client.cookies.get("csrftoken") or "",
        "notice_digest": _hidden(product_page, "notice_digest"),
        "submission_key": _hidden(product_page, "submission_key"),
        "amount": "50000",
        "term_months": "12",
        "repayment_method": "equal_installment",
        "real_name": "张伟",
        "id_number": id_number(n),
        "city": "北京",
        "monthly_income": "12000",
        "employment_type": "employee",
        "purpose": "daily",
        "consent": "yes",
    }


async def submissions(
    base_url: str | httpx.ASGITransport,
    mobiles: list[str],
    product: int,
    concurrency: int,
    offset: int,
) -> Run:
    semaphore = asyncio.Semaphore(concurrency)
    clients = []
    for start_at in range(0, len(mobiles), concurrency):
        clients += await asyncio.gather(
            *(signed_in(base_url, m) for m in mobiles[start_at : start_at + concurrency])
        )
    forms = []
    for n, client in enumerate(clients):
        page = (await client.get(f"/products/{product}/apply")).text
        forms.append(form(page, client, offset + n))
    latencies: list[float] = []
    errors = 0

    async def one(client: httpx.AsyncClient, data: dict[str, str]) -> None:
        nonlocal errors
        async with semaphore:
            t0 = time.perf_counter()
            response = await client.post(f"/products/{product}/apply", data=data)
            if response.status_code == 303:
                latencies.append((time.perf_counter() - t0) * 1000)
            else:
                errors += 1
                if errors == 1:
                    print(
                        f"  a submission answered {response.status_code}: {response.text[:300]!r}"
                    )

    started = time.perf_counter()
    await asyncio.gather(*(one(c, f) for c, f in zip(clients, forms, strict=True)))
    seconds = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return Run(len(latencies), errors, seconds, latencies)


async def baseline_load(base_url: str, requests: int, concurrency: int) -> Run:
    latencies: list[float] = []
    errors = 0
    remaining = requests
    async with httpx.AsyncClient(base_url=base_url, timeout=60, trust_env=False) as client:
        for _ in range(WARMUP):
            await client.get("/db")

        async def user() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                response = await client.get("/db")
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return Run(len(latencies), errors, time.perf_counter() - started, latencies)


# -- report ---------------------------------------------------------------------------------

HEADING = "## Application submissions (`bench/bench_submit.py`)"
SECTION = f"""{HEADING}

Borrowers (one submission each, distinct mobiles and ID numbers) sign in over HTTP, then
POST the apply form of one listed product, C at a time, to one uvicorn worker; the request
runs the whole submission verb (guard and duplicate window, profile, consent, application,
event, audit, the anti-fraud screening's locked counts, outbox). Same-run baseline: the
bare-stack `/db` page (one query of 20 rows, one worker) at the same concurrency. Figures in
submissions (or requests) per second and POST latency in ms.

| when (Asia/Shanghai) | python | machine | database | applications before | N × C | submissions/s | p50 · p95 (ms) | /db req/s | /db p50 · p95 (ms) | submissions/s ÷ /db req/s | errors |
|---|---|---|---|---|---|---|---|---|---|---|---|
"""


def profile_submissions(
    args: argparse.Namespace, mobiles: list[str], product: int, offset: int
) -> None:
    """The app in this process (httpx's ASGI transport, the same app `server.cli web`
    serves, with its lifespan, without uvicorn), a few unprofiled submissions first
    (imports, templates, pools), then cProfile around the rest; top functions by own and
    cumulative time. The client's own work is in the profile too (same process)."""
    from server.app import create_app, lifespan

    app = create_app()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    warm = min(5, len(mobiles) // 4)
    profiler = cProfile.Profile()

    async def run() -> Run:
        async with lifespan(app):  # the connection pool and services uvicorn would start
            await submissions(transport, mobiles[:warm], product, args.concurrency, offset)
            profiler.enable()
            try:
                return await submissions(
                    transport, mobiles[warm:], product, args.concurrency, offset + warm
                )
            finally:
                profiler.disable()

    profiled = asyncio.run(run())
    print(f"\nprofiled in process: {profiled.ok} submissions, {profiled.errors} errors")
    if args.profile_out:
        profiler.dump_stats(str(args.profile_out))
    stats = pstats.Stats(profiler)
    print("top 25 by own time:")
    stats.sort_stats("tottime").print_stats(25)
    print("top 30 project functions by cumulative time:")
    stats.sort_stats("cumulative").print_stats(r"/(marketplace|portal|server)/", 30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--profile", type=int, default=100, help="submissions under cProfile (0: none)"
    )
    parser.add_argument("--profile-out", type=Path, help="keep the profile here")
    parser.add_argument("--database", help="an existing generated database instead of a fresh one")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.submissions < 20 or args.concurrency < 1 or args.profile < 0:
        parser.error("--submissions ≥ 20, --concurrency ≥ 1, --profile ≥ 0")
    server_url, redis_url = local_services()
    if args.database and not args.database.startswith("loanmart_bench"):
        parser.error("--database must be a bench database (loanmart_bench…)")
    fresh = args.database is None
    name = args.database or BENCH_DATABASE
    database_url = with_database(server_url, name)
    tmp = Path(tempfile.mkdtemp(prefix="loanmart-bench-submit-"))
    env = server_env(database_url, redis_url, tmp)
    processes: list[subprocess.Popen] = []
    try:
        asyncio.run(flush_redis(redis_url))
        if fresh:
            from bench_web import recreate_database

            asyncio.run(recreate_database(server_url, name, create=True))
            for step in ("migrate", "seed"):
                run_step(step, env)
            asyncio.run(flush_redis(redis_url))  # the seed's throttles
        baseline_db = ensure_baseline_database(server_url)
        product = asyncio.run(pick_product(database_url))

        async def applications() -> int:
            conn = await asyncpg.connect(**_config(database_url))
            try:
                return await conn.fetchval("SELECT count(*) FROM application")
            finally:
                await conn.close()

        before = asyncio.run(applications())
        offset = before  # distinct mobiles and ID numbers across runs on one database
        mobiles = asyncio.run(make_borrowers(database_url, args.submissions + args.profile, offset))
        web_port, base_port = free_port(), free_port()
        web_env = {**env, "HOST": "127.0.0.1", "PORT": str(web_port), "WEB_CONCURRENCY": "1"}
        web = start(
            [sys.executable, "-m", "server.cli", "web", "--workers", "1"],
            PROJECT_ROOT,
            web_env,
            tmp / "web.log",
        )
        processes.append(web)
        base = start(
            [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port",
             str(base_port), "--workers", "1", "--no-access-log"],
            BASELINE_DIR, _baseline_env(baseline_db), tmp / "baseline.log",
        )  # fmt: skip
        processes.append(base)
        web_url, base_url = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{base_port}"

        async def measure() -> tuple[Run, Run]:
            async with httpx.AsyncClient(base_url=web_url, trust_env=False) as probe:
                await wait_ready(probe, web)
            await wait_baseline(base_url, base)
            baseline = await baseline_load(base_url, args.submissions, args.concurrency)
            run = await submissions(
                web_url, mobiles[: args.submissions], product, args.concurrency, offset
            )
            return baseline, run

        baseline, run = asyncio.run(measure())
        stop_server(web)
        print(
            f"submissions: {run.ok} ok, {run.errors} errors in {run.seconds:.1f} s ="
            f" {run.rate:.1f}/s; POST p50 {run.pct(50):.0f} ms, p95 {run.pct(95):.0f} ms"
        )
        print(
            f"baseline /db: {baseline.rate:.0f} req/s, p50 {baseline.pct(50):.1f} ms,"
            f" p95 {baseline.pct(95):.1f} ms; ratio {run.rate / baseline.rate:.4f}"
        )
        if args.profile:
            profile_submissions(
                args, mobiles[args.submissions :], product, offset + args.submissions
            )
        if not args.no_write:
            machine = f"{platform.machine()} · {os.cpu_count()} CPUs"
            append_rows(
                HEADING,
                SECTION,
                [
                    f"| {now()} | {python_version()} | {machine} | {'fresh demo' if fresh else name} "
                    f"| {before:,} | {args.submissions} × {args.concurrency} | {run.rate:.1f} "
                    f"| {run.pct(50):.0f} · {run.pct(95):.0f} | {baseline.rate:.0f} "
                    f"| {baseline.pct(50):.1f} · {baseline.pct(95):.1f} "
                    f"| {run.rate / baseline.rate:.4f} | {run.errors} |"
                ],
            )
            print("appended to bench/RESULTS.md")
    finally:
        for process in processes:
            stop_server(process)
        asyncio.run(flush_redis(redis_url))
        if fresh:
            from bench_web import recreate_database

            asyncio.run(recreate_database(server_url, name, create=False))
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
