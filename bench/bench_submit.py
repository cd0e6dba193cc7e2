"""Application submissions per second through two web workers, every one delivered, against
the bare-stack `/db` page in the same run (issue #14).

Database `loanmart_bench_submit` (created, migrated and demo-seeded; dropped at the end)
or, with --database, an existing generated one (e.g. `loanmart_bench_volume`: the checks
then run over 1,000,000 applications; the submissions are added to it).

Borrowers are written directly (distinct mobiles and ID numbers), one of them signs in over
HTTP (the real path, and the apply form's notice digest and CSRF cookie), the others get a
session written the way sign-in writes it (argon2 at 64 MiB would take minutes for
thousands). Each borrower POSTs the apply form once, with its own submission key, from its
own loopback address (127.a.b.c: distinct people, as the anti-fraud rules see them) and a
fresh device; `--one-address` sends everything from 127.0.0.1 instead (every submission
then shares the address rule's key: the worst case for its lock).

Two web workers (uvicorn, as `loanmart web --workers 2`), the job worker delivering, and the
baseline app with two workers. Phases, each beside the baseline's `/db` measured the same
way right before:
- capacity: --capacity submissions, C at a time (closed loop): submissions/s vs req/s;
- sustained: --rate submissions a second for --seconds (open loop: each is sent at its
  time whatever the others do; latency counts from that time), achieved rate, p50 / p99;
  it starts once the capacity phase's applications are delivered (a quiet system).
Then: how many of the run's applications were delivered (waiting up to --drain seconds),
the web workers' resident memory after the load, and the CPU each component spent per
submission from the first phase to the last delivery (web workers, job worker, the bench
database's PostgreSQL backends, this load generator): on a shared 2-core machine these
say where the time goes better than the rates do.

--profile N: N more submissions through the same app in this process (no uvicorn, no HTTP
client): half of them measured (the web process's CPU, the database backends' CPU and the
PostgreSQL and Redis round trips, per submission: steadier than the rates on a shared
machine), the other half under cProfile, whose top functions are printed (--profile-out
keeps the file).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/bench_submit.py \\
        [--rate 200] [--seconds 10] [--capacity 300] [--concurrency 16] [--one-address]
        [--database NAME] [--profile 0] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import platform
import pstats
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# This checkout's code, ahead of any other checkout an editable install points at.
sys.path.insert(0, str(PROJECT_ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import uvloop  # noqa: E402
from _results import append_rows, now, python_version  # noqa: E402
from bench_reports import (  # noqa: E402
    BASELINE_DIR,
    _baseline_env,
    _config,
    ensure_baseline_database,
    local_services,
    server_env,
    start,
    wait_baseline,
)
from bench_web import flush_redis, free_port, run_step, stop_server, wait_ready  # noqa: E402
from gen_volume import with_database  # noqa: E402

BENCH_DATABASE = "loanmart_bench_submit"
PASSWORD = "Bench-Submit-2026"
MOBILE_BASE = 16_500_000_000  # 165xxxxxxxx: never a demo or e2e number
WORKERS = 2
WARMUP = 20
ONE_ADDRESS = "127.0.0.1"
# Connections the open-loop client keeps open at once; requests due beyond it wait (their
# latency still counts from when they were due).
MAX_IN_FLIGHT = 1000


@dataclass
class Run:
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, q: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]

    def record(self, status: int, expected: int, ms: float) -> None:
        if status == expected:
            self.ok += 1
            self.latencies.append(ms)
        else:
            self.errors += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1


# -- data ---------------------------------------------------------------------------------


async def pick_product(database_url: str) -> int:
    conn = await asyncpg.connect(**_config(database_url))
    try:
        product = await conn.fetchval(
            "SELECT p.id FROM product p JOIN institution i ON i.id = p.institution"
            " LEFT JOIN delivery_settings d ON d.institution = p.institution"
            " WHERE p.status = 'listed' AND i.status = 'active' AND p.cities = '{}'"
            " AND 12 = ANY(p.term_options) AND p.amount_min <= 50000 AND p.amount_max >= 50000"
            " AND 'equal_installment' = ANY(p.repayment_methods) AND p.min_monthly_income <= 12000"
            " AND (p.employment_types = '{}' OR 'employee' = ANY(p.employment_types))"
            " AND p.age_min <= 30 AND p.age_max >= 50"
            # Every lead must be deliverable: no caps on the institution's side.
            " AND d.daily_lead_cap IS NULL AND d.monthly_lead_cap IS NULL"
            " AND d.monthly_budget IS NULL"
            " ORDER BY p.id LIMIT 1"
        )
    finally:
        await conn.close()
    if product is None:
        raise SystemExit("no listed product admits the bench borrowers")
    return product


@dataclass(frozen=True)
class Borrower:
    user_id: int
    mobile: str
    n: int  # distinct across runs on one database: ID number and address follow it


async def make_borrowers(database_url: str, count: int) -> list[Borrower]:
    """`count` borrowers with distinct mobiles, numbered after every user already there."""
    from marketplace.accounts.services import mobile_login_key
    from marketplace.security import encrypt_field, hash_password, mask_mobile

    password_hash = hash_password(PASSWORD)
    conn = await asyncpg.connect(**_config(database_url))
    try:
        offset = await conn.fetchval("SELECT coalesce(max(id), 0) FROM app_user")
        mobiles = [str(MOBILE_BASE + offset + n) for n in range(count)]
        keys = [mobile_login_key(m) for m in mobiles]
        await conn.copy_records_to_table(
            "app_user",
            records=[
                (
                    "borrower",
                    key,
                    "压测借款人",
                    encrypt_field(m, context="user.mobile"),
                    mask_mobile(m),
                    password_hash,
                    "borrower",
                    "active",
                )
                for m, key in zip(mobiles, keys, strict=True)
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
        ids = {
            row["login_key"]: row["id"]
            for row in await conn.fetch(
                "SELECT id, login_key FROM app_user WHERE login_key = ANY($1)", keys
            )
        }
    finally:
        await conn.close()
    return [
        Borrower(ids[key], m, offset + n)
        for n, (m, key) in enumerate(zip(mobiles, keys, strict=True))
    ]


async def open_sessions(borrowers: list[Borrower]) -> dict[int, str]:
    """A signed-in session per borrower, written as sign-in writes it; user id → token."""
    from marketplace import cache
    from server.sessions import Session, _save

    async def one(borrower: Borrower) -> tuple[int, str]:
        session = Session(None, {})
        session["uid"] = borrower.user_id
        session["kind"] = "borrower"
        await _save(session)
        assert session.token is not None
        return borrower.user_id, session.token

    tokens: dict[int, str] = {}
    for at in range(0, len(borrowers), 200):
        tokens.update(await asyncio.gather(*(one(b) for b in borrowers[at : at + 200])))
    await cache.close()
    return tokens


def id_number(n: int) -> str:
    from marketplace.security.identity import id_check_char

    first = f"110105{19800101 + (n % 28) + 100 * (n // 28 % 12)}{n % 1000:03d}"
    return first + id_check_char(first)


def address(n: int) -> str:
    """127.a.b.c, distinct for 15 million borrowers (none ends in 0 or 255)."""
    return f"127.{1 + n // 62_500 % 250}.{1 + n // 250 % 250}.{1 + n % 250}"


def form(digest: str, csrf: str, n: int) -> dict[str, str]:
    return {
        "_csrf_token": csrf,
        "notice_digest": digest,
        "submission_key": secrets.token_urlsafe(24),
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


# -- HTTP -----------------------------------------------------------------------------------


def _hidden(page: str, name: str) -> str:
    for tag in re.findall(r"<input[^>]*>", page):
        if f'name="{name}"' in tag:
            match = re.search(r'value="([^"]*)"', tag)
            if match:
                return match.group(1)
    raise SystemExit(f"the apply form has no {name}")


async def sign_in_and_read_form(base_url: str, borrower: Borrower, product: int) -> tuple[str, str]:
    """One borrower signs in over HTTP; the apply form's notice digest and the CSRF cookie
    (not tied to a session, so every borrower may send it)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=120, trust_env=False) as client:
        await client.get("/login")
        csrf = client.cookies.get("csrftoken") or ""
        response = await client.post(
            "/login", data={"_csrf_token": csrf, "login": borrower.mobile, "password": PASSWORD}
        )
        if response.status_code != 303:
            raise SystemExit(f"borrower sign-in answered {response.status_code}")
        page = (await client.get(f"/products/{product}/apply")).text
        return _hidden(page, "notice_digest"), client.cookies.get("csrftoken") or csrf


@dataclass(frozen=True)
class Request:
    raw: bytes
    source: str
    expected: int


def post_request(
    port: int, path: str, token: str, csrf: str, data: dict[str, str], source: str
) -> Request:
    body = urlencode(data).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        f"Cookie: lm_session={token}; csrftoken={csrf}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return Request(head.encode("latin-1") + body, source, 303)


def get_request(port: int, path: str, source: str) -> Request:
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    return Request(head.encode("latin-1"), source, 200)


async def send(port: int, request: Request) -> int:
    """One request on its own connection from its own address (a lean client: on a
    2-core machine httpx would take a good share of the CPU being measured)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(request.source, 0)
    )
    try:
        writer.write(request.raw)
        status_line = await reader.readline()
        await reader.read()  # Connection: close — the response ends with the connection
    finally:
        writer.close()
    parts = status_line.split()
    return int(parts[1]) if len(parts) > 1 else 0


async def closed_loop(port: int, requests: list[Request], concurrency: int) -> Run:
    run = Run()
    queue = iter(requests)

    async def user() -> None:
        for request in queue:
            t0 = time.perf_counter()
            try:
                status = await send(port, request)
            except OSError:
                status = 0
            run.record(status, request.expected, (time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


async def open_loop(port: int, requests: list[Request], rate: float) -> Run:
    """Request i is sent at start + i / rate whatever the others do; its latency counts
    from that moment (a server that falls behind shows it in the percentiles)."""
    run = Run()
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    started = time.perf_counter()

    async def one(i: int, request: Request) -> None:
        due = started + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        try:
            async with in_flight:
                status = await send(port, request)
        except OSError:
            status = 0
        run.record(status, request.expected, (time.perf_counter() - due) * 1000)

    await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    run.seconds = time.perf_counter() - started
    return run


# -- measuring ----------------------------------------------------------------------------


def children(parent: int) -> list[int]:
    """`parent`'s child processes (uvicorn's workers), without multiprocessing's helper."""
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            command = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" in command:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(parent):
            pids.append(int(status.parent.name))
    return pids


def rss_mb(parent: int) -> list[float]:
    """Resident memory of `parent`'s child processes (uvicorn's workers), in MB."""
    sizes = []
    for pid in children(parent):
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if "VmRSS" in fields:
            sizes.append(int(fields["VmRSS"].split()[0]) / 1024)
    return sorted(sizes)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backend_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend connected to the bench database
    (by pid: a delta between two calls counts the ones alive at the second)."""
    conn = await asyncpg.connect(**_config(database_url))
    try:
        backends = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return {row["pid"]: cpu_seconds(row["pid"]) for row in backends}


async def cpu_by_component(database_url: str, web: int, worker: int) -> dict[str, float]:
    """CPU seconds used so far by the web workers, the job worker, this process (the load
    generator) and the PostgreSQL backends connected to the bench database."""
    backends = await backend_cpu(database_url)
    return {
        "web": sum(cpu_seconds(pid) for pid in children(web)),
        "worker": cpu_seconds(worker),
        "client": time.process_time(),
        **{f"pg{pid}": cpu for pid, cpu in backends.items()},
    }


def cpu_per_submission(
    before: dict[str, float], after: dict[str, float], submissions: int
) -> dict[str, float]:
    """ms of CPU per submission by component between two `cpu_by_component` readings."""
    postgres = sum(v - before.get(k, 0.0) for k, v in after.items() if k.startswith("pg"))
    spent = {k: after[k] - before[k] for k in ("web", "worker", "client")}
    return {k: 1000 * v / submissions for k, v in {**spent, "postgres": postgres}.items()}


async def deliveries(
    database_url: str, borrowers: list[int], drain: float
) -> tuple[int, int, float, dict[str, int]]:
    """(delivered, applications, seconds waited, statuses) of the borrowers' applications,
    waiting up to `drain` seconds for the job worker to deliver them all."""
    conn = await asyncpg.connect(**_config(database_url))
    started = time.perf_counter()
    try:
        while True:
            rows = await conn.fetch(
                "SELECT status, count(*) AS n, count(delivered_at) AS delivered"
                " FROM application WHERE borrower = ANY($1) GROUP BY status",
                borrowers,
            )
            total = sum(row["n"] for row in rows)
            delivered = sum(row["delivered"] for row in rows)
            waited = time.perf_counter() - started
            if delivered >= total or waited > drain:
                return delivered, total, waited, {row["status"]: row["n"] for row in rows}
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


# -- report ---------------------------------------------------------------------------------

HEADING = "## Application submissions, two web workers (`bench/bench_submit.py`)"
SECTION = f"""{HEADING}

Distinct borrowers (mobiles, ID numbers, devices and — unless "one address" — loopback
addresses) each POST the apply form of one listed product once: the whole submission verb
(guard and duplicate window, profile, consent, application, event, audit rows, anti-fraud
screening with its per-key locked counts, outbox) on two uvicorn workers, with the job
worker delivering. Capacity: C submissions at a time (closed loop). Sustained: R a second
for S seconds (open loop, latency from each one's due time; from the 2026-12-02 09:34 row it
starts once the capacity phase's applications are delivered). Same-run baseline: the
bare-stack `/db` page (one query of 20 rows, two workers), measured the same way right
before each phase. Delivered: the run's applications delivered to the institution, and
how long after the load the last one was. RSS: the web workers' resident memory after the
load. The machine is shared (2 cores, other engineers' tests and benches running): each
row is one run; compare the ratios within a row.

| when (Asia/Shanghai) | database | applications before | addresses | capacity N × C: submissions/s · /db req/s · ratio | sustained R × S: achieved/s · p50 · p99 (ms) | /db at R: achieved/s · p50 · p99 (ms) | errors | delivered (wait) | web RSS (MB) |
|---|---|---|---|---|---|---|---|---|---|
"""


class RoundTrips:
    """Counts the statements sent to PostgreSQL (a transaction's BEGIN and COMMIT
    included) and the commands or pipelines sent to Redis while it is entered."""

    def __init__(self) -> None:
        self.postgres = 0
        self.redis = 0
        self._restore: list[tuple[type, str, Any]] = []

    def _count(self, owner: type, method: str, counter: str) -> None:
        original = getattr(owner, method)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            setattr(self, counter, getattr(self, counter) + 1)
            return await original(*args, **kwargs)

        self._restore.append((owner, method, original))
        setattr(owner, method, counted)

    def __enter__(self) -> RoundTrips:
        from asyncpg.connection import Connection
        from redis.asyncio.connection import AbstractConnection

        # `_execute` carries every query with arguments; `execute` without them goes
        # straight to the protocol (BEGIN, COMMIT).
        self._count(Connection, "_execute", "postgres")
        original_execute = Connection.execute

        async def execute(connection: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            if not args:
                self.postgres += 1
            return await original_execute(connection, query, *args, **kwargs)

        self._restore.append((Connection, "execute", original_execute))
        Connection.execute = execute  # type: ignore[method-assign]
        self._count(AbstractConnection, "send_packed_command", "redis")
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, method, original in reversed(self._restore):
            setattr(owner, method, original)


async def asgi_post(app: Any, path: str, cookie: str, data: dict[str, str], source: str) -> int:
    """One form POST straight into the ASGI app (no server, no HTTP client: only the
    app's own work is on this process's CPU); returns the status."""
    body = urlencode(data).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": (source, 50000), "server": ("127.0.0.1", 80),
        "headers": [
            (b"host", b"127.0.0.1"), (b"cookie", cookie.encode()),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
    }  # fmt: skip
    statuses: list[int] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:  # the app only asks again to wait for a disconnect
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


def in_process_submissions(
    args: argparse.Namespace, borrowers: list[Borrower], tokens: dict[int, str],
    product: int, digest: str, csrf: str, database_url: str,
) -> None:  # fmt: skip
    """The app `loanmart web` serves, in this process with its lifespan (no uvicorn, no
    HTTP client), C submissions at a time: a few to warm up; half the rest measured (this
    process's CPU, the bench database's backends' CPU and the round trips, per
    submission); the other half under cProfile."""
    from server.app import create_app, lifespan

    app = create_app()
    path = f"/products/{product}/apply"
    warm = min(5, len(borrowers) // 4)
    timed = borrowers[warm : warm + (len(borrowers) - warm) // 2]
    profiled = borrowers[warm + len(timed) :]

    async def submit_all(group: list[Borrower]) -> None:
        semaphore = asyncio.Semaphore(args.concurrency)

        async def one(borrower: Borrower) -> None:
            cookie = f"lm_session={tokens[borrower.user_id]}; csrftoken={csrf}"
            async with semaphore:
                status = await asgi_post(
                    app, path, cookie, form(digest, csrf, borrower.n), address(borrower.n)
                )
            if status != 303:
                raise SystemExit(f"an in-process submission answered {status}")

        await asyncio.gather(*(one(b) for b in group))

    profiler = cProfile.Profile()

    async def run() -> None:
        async with lifespan(app):
            await submit_all(borrowers[:warm])
            before = await backend_cpu(database_url)
            started = time.process_time()
            with RoundTrips() as trips:
                await submit_all(timed)
            web = time.process_time() - started
            after = await backend_cpu(database_url)
            postgres = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
            n = len(timed)
            print(
                f"in process, {n} submissions {args.concurrency} at a time: web CPU"
                f" {1000 * web / n:.2f} ms, PostgreSQL backends {1000 * postgres / n:.2f} ms,"
                f" round trips PostgreSQL {trips.postgres / n:.1f}, Redis {trips.redis / n:.1f}"
                " per submission (job worker not included)"
            )
            profiler.enable()
            try:
                await submit_all(profiled)
            finally:
                profiler.disable()

    asyncio.run(run())
    if args.profile_out:
        profiler.dump_stats(str(args.profile_out))
    stats = pstats.Stats(profiler)
    print("top 25 by own time:")
    stats.sort_stats("tottime").print_stats(25)
    print("top 30 project functions by cumulative time:")
    stats.sort_stats("cumulative").print_stats(r"/(marketplace|portal|server)/", 30)


def main() -> int:  # noqa: PLR0915 - one run, start to end
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="sustained submissions/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="sustained for this long")
    parser.add_argument("--capacity", type=int, default=300, help="closed-loop submissions")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--one-address", action="store_true", help="all from 127.0.0.1")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for delivery")
    parser.add_argument("--profile", type=int, default=0, help="submissions under cProfile")
    parser.add_argument("--profile-out", type=Path, help="keep the profile here")
    parser.add_argument("--database", help="an existing generated database instead of a fresh one")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="run the job worker at this niceness (0-19): on a machine where it shares the"
        " web workers' cores, it then delivers in their idle time instead of competing",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    # The load generator on the event loop the web workers run on (uvicorn's): the
    # standard one spends 1.5–2× its CPU, which it takes from the processes measured.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    sustained = int(args.rate * args.seconds)
    if args.rate <= 0 or sustained < 20 or args.capacity < 20 or args.concurrency < 1:
        parser.error("--rate × --seconds ≥ 20, --capacity ≥ 20, --concurrency ≥ 1")
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
        count = 1 + WARMUP + args.capacity + sustained + args.profile
        borrowers = asyncio.run(make_borrowers(database_url, count))
        tokens = asyncio.run(open_sessions(borrowers))
        web_port, base_port = free_port(), free_port()
        web_env = {**env, "HOST": "127.0.0.1", "PORT": str(web_port), "WEB_CONCURRENCY": "2"}
        web = start(
            [sys.executable, "-m", "server.cli", "web", "--workers", str(WORKERS)],
            PROJECT_ROOT, web_env, tmp / "web.log",
        )  # fmt: skip
        processes.append(web)
        processes.append(
            start(
                ["nice", "-n", str(args.worker_nice), sys.executable, "-m", "server.cli", "worker"],
                PROJECT_ROOT,
                env,
                tmp / "worker.log",
            )
        )
        if args.worker_nice:
            # Started in a session of its own, the worker is its own scheduler autogroup,
            # where niceness only ranks it against its own threads: the group's own
            # niceness is what ranks it against the web workers.
            with contextlib.suppress(OSError):  # no autogroups on this kernel: nothing to do
                Path(f"/proc/{processes[1].pid}/autogroup").write_text(str(args.worker_nice))
        base = start(
            [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port",
             str(base_port), "--workers", str(WORKERS), "--no-access-log"],
            BASELINE_DIR, _baseline_env(baseline_db), tmp / "baseline.log",
        )  # fmt: skip
        processes.append(base)
        path = f"/products/{product}/apply"
        one_address = ONE_ADDRESS if args.one_address else None

        def posts(group: list[Borrower]) -> list[Request]:
            return [
                post_request(
                    web_port,
                    path,
                    tokens[b.user_id],
                    csrf,
                    form(digest, csrf, b.n),
                    one_address or address(b.n),
                )  # fmt: skip
                for b in group
            ]

        def db_gets(group: list[Borrower]) -> list[Request]:
            return [get_request(base_port, "/db", one_address or address(b.n)) for b in group]

        async def ready() -> tuple[str, str]:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{web_port}", trust_env=False
            ) as probe:
                await wait_ready(probe, web)
            await wait_baseline(f"http://127.0.0.1:{base_port}", base)
            return await sign_in_and_read_form(
                f"http://127.0.0.1:{web_port}", borrowers[0], product
            )

        digest, csrf = asyncio.run(ready())
        worker = processes[1]
        cpu_before = asyncio.run(cpu_by_component(database_url, web.pid, worker.pid))
        warm = borrowers[1 : 1 + WARMUP]
        capacity = borrowers[1 + WARMUP : 1 + WARMUP + args.capacity]
        steady = borrowers[1 + WARMUP + args.capacity : 1 + WARMUP + args.capacity + sustained]

        async def measure() -> tuple[Run, Run, Run, Run]:
            await closed_loop(base_port, db_gets(warm), 4)
            await closed_loop(web_port, posts(warm), 4)
            base_capacity = await closed_loop(base_port, db_gets(capacity), args.concurrency)
            submit_capacity = await closed_loop(web_port, posts(capacity), args.concurrency)
            # The sustained phase starts from a quiet system, not on top of the capacity
            # phase's backlog of deliveries (whose queries would compete with it).
            settled = await deliveries(
                database_url, [b.user_id for b in warm + capacity], args.drain
            )
            print(f"capacity phase delivered {settled[0]} of {settled[1]} in {settled[2]:.1f} s")
            base_steady = await open_loop(base_port, db_gets(steady), args.rate)
            submit_steady = await open_loop(web_port, posts(steady), args.rate)
            return base_capacity, submit_capacity, base_steady, submit_steady

        base_capacity, submit_capacity, base_steady, submit_steady = asyncio.run(measure())
        rss = rss_mb(web.pid)
        measured = [b.user_id for b in warm + capacity + steady]
        delivered, total, waited, statuses = asyncio.run(
            deliveries(database_url, measured, args.drain)
        )
        cpu = cpu_per_submission(
            cpu_before,
            asyncio.run(cpu_by_component(database_url, web.pid, worker.pid)),
            len(measured),
        )
        errors = submit_capacity.errors + submit_steady.errors
        print(
            f"capacity {args.capacity} × {args.concurrency}: {submit_capacity.rate:.1f}"
            f" submissions/s (p50 {submit_capacity.pct(50):.0f} ms, p99"
            f" {submit_capacity.pct(99):.0f} ms, errors {submit_capacity.errors}"
            f" {submit_capacity.statuses or ''}); /db {base_capacity.rate:.0f} req/s;"
            f" ratio {submit_capacity.rate / base_capacity.rate:.3f}"
        )
        print(
            f"sustained {args.rate:g}/s × {args.seconds:g} s: {submit_steady.rate:.1f}/s achieved,"
            f" p50 {submit_steady.pct(50):.0f} ms, p99 {submit_steady.pct(99):.0f} ms, errors"
            f" {submit_steady.errors} {submit_steady.statuses or ''}; /db at the same rate:"
            f" {base_steady.rate:.1f}/s, p50 {base_steady.pct(50):.1f} ms,"
            f" p99 {base_steady.pct(99):.1f} ms"
        )
        print(
            f"delivered {delivered} of {total} within {waited:.1f} s after the load"
            f" ({statuses}); web worker RSS {', '.join(f'{mb:.0f}' for mb in rss)} MB"
        )
        print(
            "CPU per submission, load to last delivery (/db phases included): "
            + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu.items())
        )
        for process in processes:
            stop_server(process)
        if args.profile:
            in_process_submissions(
                args, borrowers[-args.profile :], tokens, product, digest, csrf, database_url
            )
        if not args.no_write:
            row = (
                f"| {now()} | {'fresh demo' if fresh else name} | {before:,} "
                f"| {'one (127.0.0.1)' if args.one_address else 'one per borrower'} "
                f"| {args.capacity} × {args.concurrency}: {submit_capacity.rate:.1f} · "
                f"{base_capacity.rate:.0f} · {submit_capacity.rate / base_capacity.rate:.3f} "
                f"| {args.rate:g} × {args.seconds:g}: {submit_steady.rate:.1f} · "
                f"{submit_steady.pct(50):.0f} · {submit_steady.pct(99):.0f} "
                f"| {base_steady.rate:.1f} · {base_steady.pct(50):.1f} · {base_steady.pct(99):.1f} "
                f"| {errors} | {delivered} of {total} ({waited:.0f} s) "
                f"| {' · '.join(f'{mb:.0f}' for mb in rss)} |"
            )
            append_rows(HEADING, SECTION, [row])
            print(f"appended to bench/RESULTS.md ({python_version()}, {platform.machine()})")
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
