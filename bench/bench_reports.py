"""Dashboards at volume: /admin/dashboard and /console/reports over the 1,000,000
applications of bench/gen_volume.py, against the bare-stack `/db` page in the same run.

1. `marketplace.analytics.jobs.refresh_rollups()` timed in this process over the generated
   database: full (`since=None`), then incremental (`since` = yesterday, Asia/Shanghai),
   as the 10-minute cron runs it.
2. `python -m server.cli web` (one uvicorn worker, the settings bench_web.py uses) on that
   database, and the bare-stack baseline app of ../shared/bench-baseline (`uvicorn main:app`,
   one worker, its own database `loanmart_bench_baseline` seeded with its 10,000 rows when
   missing) on another free port.
3. An operator (`super@loanmart.example`, password then TOTP from the demo's enrolled
   secret) and an institution admin (`admin@huaxin-bank.example`) sign in; each page is
   fetched for each range (7, 90 and 365 days ending today; day / week / month grains),
   5 warm-up GETs then --requests sequential GETs, p50 / p95 / p99 in ms. The baseline's
   `/db` (one Piccolo query of 20 rows, rendered) is measured the same way, before and
   after the pages (both halves pooled). Goal: p95 ≤ 200 ms per page.

A page that is not there yet (404) or a missing refresh_rollups is reported as such, not
measured. Prints a table and appends one row per page and range to its section of
bench/RESULTS.md (--no-write: don't).

Services — never anything but this machine: DATABASE_URL names the PostgreSQL server (the
generated database is --database on it), REDIS_URL a Redis database other than 0 (flushed
before and after).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/bench_reports.py \\
        [--database loanmart_bench_volume] [--requests 100] [--no-refresh] [--no-write]
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
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from _results import append_rows, now, python_version
from bench_web import _is_local, flush_redis, free_port, redis_db, stop_server, wait_ready
from gen_volume import DEFAULT_DATABASE, database_state, with_database

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# ../shared/bench-baseline beside the checkout (a worktree sits one level deeper);
# LOANMART_BASELINE_DIR overrides.
BASELINE_DIR = Path(
    os.environ.get("LOANMART_BASELINE_DIR")
    or next(
        (
            str(parent / "shared" / "bench-baseline")
            for parent in (PROJECT_ROOT.parent, PROJECT_ROOT.parent.parent)
            if (parent / "shared" / "bench-baseline" / "main.py").exists()
        ),
        str(PROJECT_ROOT.parent / "shared" / "bench-baseline"),
    )
)
BASELINE_DATABASE = "loanmart_bench_baseline"
SHANGHAI = ZoneInfo("Asia/Shanghai")
WARMUP = 5
GOAL_MS = 200.0
OPERATOR = "super@loanmart.example"
STAFF = "admin@huaxin-bank.example"
PASSWORD = "Demo12345"  # the demo accounts' password (README)
PAGES = ("/admin/dashboard", "/console/reports")
RANGES = ((7, "day"), (90, "day"), (90, "week"), (365, "week"), (365, "month"))


def parse_ranges(text: str) -> tuple[tuple[int, str], ...]:
    """--ranges "7:day,90:week,365:month" → ((7, "day"), …)."""
    ranges = []
    for part in text.split(","):
        days, _, grain = part.strip().partition(":")
        if not days.isdigit() or grain not in ("day", "week", "month"):
            raise argparse.ArgumentTypeError(f"not DAYS:day|week|month: {part!r}")
        ranges.append((int(days), grain))
    return tuple(ranges)


@dataclass
class Timing:
    label: str
    latencies: list[float]
    note: str = ""

    def pct(self, q: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]

    @property
    def cells(self) -> str:
        if self.note:
            return self.note
        return f"{self.pct(50):.0f} · {self.pct(95):.0f} · {self.pct(99):.0f}"


# -- services ---------------------------------------------------------------------------


def ensure_baseline_database(server_url: str) -> str:
    """The baseline's database, created and seeded (its own seed.py) when missing."""
    url, seeded = asyncio.run(_baseline_database(server_url))
    if not seeded:
        subprocess.run(
            [sys.executable, "seed.py"],
            cwd=BASELINE_DIR,
            env=_baseline_env(url),
            check=True,
            timeout=300,
        )
    return url


async def _baseline_database(server_url: str) -> tuple[str, bool]:
    url = with_database(server_url, BASELINE_DATABASE)
    conn = await asyncpg.connect(**_config(server_url))
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", BASELINE_DATABASE
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{BASELINE_DATABASE}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(**_config(url))
    try:
        seeded = await conn.fetchval("SELECT to_regclass('product') IS NOT NULL") and (
            await conn.fetchval("SELECT count(*) FROM product") >= 10_000
        )
    finally:
        await conn.close()
    return url, bool(seeded)


def _config(url: str) -> dict:
    from marketplace.dburl import engine_config

    return engine_config(url)


def _baseline_env(url: str) -> dict[str, str]:
    """The baseline app's own piccolo_conf (importing marketplace here set PICCOLO_CONF to
    the project's, which would aim the baseline at DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL")}
    env.update(BASELINE_DATABASE_URL=url, PICCOLO_CONF="piccolo_conf", PYTHONDONTWRITEBYTECODE="1")
    return env


def start(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


async def wait_baseline(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit("the baseline app exited during start-up")
            try:
                if (await client.get("/plain")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit("the baseline app did not start within 60 s")


def local_services() -> tuple[str, str]:
    """DATABASE_URL and REDIS_URL, both on this machine, Redis not on database 0."""
    server_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not (server_url and redis_url and _is_local(server_url) and _is_local(redis_url)):
        raise SystemExit("DATABASE_URL and REDIS_URL must be set and point at this machine")
    if redis_db(redis_url) == 0:
        raise SystemExit("REDIS_URL must name a database other than 0: it is flushed")
    return server_url, redis_url


def server_env(database_url: str, redis_url: str, tmp: Path) -> dict[str, str]:
    """The web process's environment (bench_web.py's settings), which this process also
    takes on as a client of the same database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOANMART_VAR_DIR": str(tmp / "var"),
        "LOANMART_ENV": "development",
        "LOANMART_DEMO": "0",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    env.pop("MEILISEARCH_URL", None)
    env.pop("MEILISEARCH_KEY", None)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "LOANMART_VAR_DIR", "LOANMART_ENV")})
    sys.path.insert(0, str(PROJECT_ROOT))
    return env


# -- rollups ----------------------------------------------------------------------------


def time_refresh() -> dict[str, float | int] | None:
    """Full and incremental refresh_rollups() in this process (DATABASE_URL set already)."""
    try:
        from marketplace.analytics.jobs import refresh_rollups
    except ImportError:
        print("  marketplace.analytics.jobs.refresh_rollups is not there yet: not timed")
        return None

    async def run() -> dict[str, float | int]:
        from marketplace.db import engine

        yesterday = datetime.now(SHANGHAI).date() - timedelta(days=1)
        started = time.perf_counter()
        full_rows = await refresh_rollups(None)
        full = time.perf_counter() - started
        started = time.perf_counter()
        incremental_rows = await refresh_rollups(yesterday)
        incremental = time.perf_counter() - started
        await engine().close_connection_pool()
        return {
            "full": full,
            "full_rows": full_rows,
            "incremental": incremental,
            "incremental_rows": incremental_rows,
        }

    try:
        return asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - reported, the pages are still measured
        print(f"  refresh_rollups failed: {exc!r}")
        return None


# -- sign-in ------------------------------------------------------------------------------


async def operator_totp(database_url: str) -> str:
    from marketplace.accounts.second_factor import ENCRYPTION_CONTEXT
    from marketplace.security import current_totp_code, decrypt_field

    conn = await asyncpg.connect(**_config(database_url))
    try:
        token = await conn.fetchval(
            "SELECT totp_secret_encrypted FROM app_user WHERE kind = 'operator' AND login_key = $1",
            OPERATOR,
        )
    finally:
        await conn.close()
    if not token:
        raise SystemExit(f"{OPERATOR} has no TOTP secret: was the demo seeded?")
    return current_totp_code(decrypt_field(token, context=ENCRYPTION_CONTEXT))


async def sign_in(client: httpx.AsyncClient, area: str, login: str, database_url: str) -> None:
    await client.get("/healthz")
    await client.get(f"/{area}/login")
    token = client.cookies.get("csrftoken")
    response = await client.post(
        f"/{area}/login", data={"_csrf_token": token, "login": login, "password": PASSWORD}
    )
    if response.status_code != 303:
        raise SystemExit(f"{login}: sign-in answered {response.status_code}")
    if area == "admin":
        code = await operator_totp(database_url)
        response = await client.post(
            "/admin/login/verify",
            data={"_csrf_token": client.cookies.get("csrftoken"), "code": code},
        )
        if response.status_code != 303:
            raise SystemExit(f"{login}: second factor answered {response.status_code}")


# -- load ---------------------------------------------------------------------------------


async def latencies(client: httpx.AsyncClient, path: str, requests: int) -> Timing:
    first = await client.get(path)
    if first.status_code != 200:
        return Timing(path, [], f"HTTP {first.status_code}")
    for _ in range(WARMUP - 1):
        await client.get(path)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            return Timing(path, [], f"HTTP {response.status_code} under load")
    return Timing(path, times)


def page_paths(today: date, ranges: tuple[tuple[int, str], ...]) -> list[tuple[str, str, str]]:
    """(page, range label, URL) for every page and range."""
    out = []
    for page in PAGES:
        for days, grain in ranges:
            start_day = today - timedelta(days=days - 1)
            out.append(
                (page, f"{days} d / {grain}", f"{page}?start={start_day}&end={today}&grain={grain}")
            )
    return out


async def measure(
    web_url: str,
    baseline_url: str,
    database_url: str,
    requests: int,
    ranges: tuple[tuple[int, str], ...],
) -> tuple[Timing, list[tuple[str, str, Timing]]]:
    today = datetime.now(SHANGHAI).date()
    kwargs = {"timeout": 120, "trust_env": False}
    async with (
        httpx.AsyncClient(base_url=baseline_url, **kwargs) as base,
        httpx.AsyncClient(base_url=web_url, **kwargs) as operator,
        httpx.AsyncClient(base_url=web_url, **kwargs) as staff,
    ):
        before = await latencies(base, "/db", requests // 2)
        await sign_in(operator, "admin", OPERATOR, database_url)
        await sign_in(staff, "console", STAFF, database_url)
        results = []
        for page, label, url in page_paths(today, ranges):
            client = operator if page.startswith("/admin") else staff
            timing = await latencies(client, url, requests)
            print(f"  {page} {label}: {timing.cells}")
            results.append((page, label, timing))
        after = await latencies(base, "/db", requests - requests // 2)
        baseline = Timing("/db", before.latencies + after.latencies, before.note or after.note)
    return baseline, results


# -- report -------------------------------------------------------------------------------

HEADING = "## Dashboards over 1,000,000 applications (`bench/bench_reports.py`)"
SECTION = f"""{HEADING}

`bench/gen_volume.py` data (applications over ~400 days with their histories, offers,
loans and instalments); one uvicorn worker (`server.cli web`) and, in the same run, the
bare-stack baseline app's `/db` page (one query of 20 rows, rendered; one worker). An
operator and an institution admin sign in; each page × range gets 5 warm-up GETs then N
sequential ones. Cells are "p50 · p95 · p99" in ms; "÷ /db" is the page's p95 over the
baseline's p95. refresh_rollups: full rebuild and incremental (since yesterday), seconds
(rollup rows written). Goal: p95 ≤ 200 ms per page. Client and server share the machine.

| when (Asia/Shanghai) | python | machine | applications | N | page | range | p50 · p95 · p99 (ms) | /db p50 · p95 · p99 (ms) | p95 ÷ /db p95 | goal | refresh full (s) | refresh incremental (s) |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
"""


def rows_for(
    applications: int,
    requests: int,
    baseline: Timing,
    results: list[tuple[str, str, Timing]],
    refresh: dict[str, float | int] | None,
) -> list[str]:
    machine = f"{platform.machine()} · {os.cpu_count()} CPUs"
    full = incremental = "—"
    if refresh:
        full = f"{refresh['full']:.1f} ({refresh['full_rows']:,})"
        incremental = f"{refresh['incremental']:.1f} ({refresh['incremental_rows']:,})"
    rows = []
    for page, label, timing in results:
        if timing.note:
            ratio, goal = "—", "—"
        else:
            ratio = f"{timing.pct(95) / baseline.pct(95):.1f}"
            goal = "met" if timing.pct(95) <= GOAL_MS else "missed"
        rows.append(
            f"| {now()} | {python_version()} | {machine} | {applications:,} | {requests} "
            f"| `{page}` | {label} | {timing.cells} | {baseline.cells} | {ratio} | {goal} "
            f"| {full} | {incremental} |"
        )
    return rows


# -- main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="the generated database")
    parser.add_argument("--requests", type=int, default=100, help="timed GETs per page and range")
    parser.add_argument(
        "--ranges",
        type=parse_ranges,
        default=RANGES,
        help='days:grain list, default "7:day,90:day,90:week,365:week,365:month"',
    )
    parser.add_argument("--no-refresh", action="store_true", help="do not time refresh_rollups")
    parser.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    if args.requests < 10:
        parser.error("--requests must be at least 10")
    server_url, redis_url = local_services()
    if asyncio.run(database_state(server_url, args.database)) != "generated":
        raise SystemExit(f"{args.database} holds no generated data: run bench/gen_volume.py first")
    database_url = with_database(server_url, args.database)
    baseline_db = ensure_baseline_database(server_url)
    tmp = Path(tempfile.mkdtemp(prefix="loanmart-bench-reports-"))
    env = server_env(database_url, redis_url, tmp)

    async def count() -> int:
        conn = await asyncpg.connect(**_config(database_url))
        try:
            return await conn.fetchval("SELECT count(*) FROM application")
        finally:
            await conn.close()

    applications = asyncio.run(count())
    print(f"{args.database}: {applications:,} applications")
    refresh = None if args.no_refresh else time_refresh()
    if refresh:
        print(
            f"  refresh_rollups full {refresh['full']:.1f} s ({refresh['full_rows']:,} rows),"
            f" incremental {refresh['incremental']:.1f} s ({refresh['incremental_rows']:,} rows)"
        )
    asyncio.run(flush_redis(redis_url))
    web_port, base_port = free_port(), free_port()
    web = base = None
    try:
        web = start(
            [sys.executable, "-m", "server.cli", "web", "--workers", "1"],
            PROJECT_ROOT,
            {**env, "HOST": "127.0.0.1", "PORT": str(web_port), "WEB_CONCURRENCY": "1"},
            tmp / "web.log",
        )
        base = start(
            [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port",
             str(base_port), "--workers", "1", "--no-access-log"],
            BASELINE_DIR,
            _baseline_env(baseline_db),
            tmp / "baseline.log",
        )  # fmt: skip
        web_url, base_url = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{base_port}"

        async def ready() -> None:
            async with httpx.AsyncClient(base_url=web_url, trust_env=False) as probe:
                await wait_ready(probe, web)
            await wait_baseline(base_url, base)

        asyncio.run(ready())
        baseline, results = asyncio.run(
            measure(web_url, base_url, database_url, args.requests, args.ranges)
        )
    finally:
        for process in (web, base):
            if process is not None:
                stop_server(process)
        asyncio.run(flush_redis(redis_url))
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"  baseline /db: {baseline.cells}")
    if not args.no_write:
        append_rows(
            HEADING, SECTION, rows_for(applications, args.requests, baseline, results, refresh)
        )
        print("appended to bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
