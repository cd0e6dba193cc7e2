"""How much load does one real web process take, page by page?

Starts `python -m server.cli web` (uvicorn, one worker) on a free port of 127.0.0.1
against a fresh database, then sends a fixed number of GET requests per endpoint with
bounded concurrency from an httpx.AsyncClient in this process, one endpoint after the
other. Reports requests per second and median / p95 latency, each as a ratio against the
baseline measured in the same run: `/healthz` (routing and middleware only: no database,
no session in Redis, no template). Client and server share the machine, so absolute
numbers include the client's own CPU time: compare ratios, between runs with the same N and C.

Services — never anything but this machine:

* `DATABASE_URL` (a PostgreSQL server on 127.0.0.1 / localhost / a socket directory): the
  benchmark creates its own database `loanmart_bench` on that server (dropping a
  left-over one first), runs `migrate`, `seed` and `reindex` into it, and drops it at the
  end. The database named in the URL is only used to connect for CREATE/DROP DATABASE.
* `REDIS_URL` (on 127.0.0.1 / localhost / a unix socket) must name a database number
  other than 0, e.g. `redis://127.0.0.1:6379/9`: that database is FLUSHED before and
  after the run (sessions, throttles and arq job ids of a previous run would interfere).
* When either is unset, the embedded PostgreSQL / Redis are started under a temporary
  directory (`server.embedded.ensure_services`) and removed afterwards.
* Search always uses the embedded engine with its index in the temporary directory
  (`MEILISEARCH_URL` is removed from the server's environment).

Bounded: --requests per endpoint (default 500), at most --seconds (default 30) per
endpoint; the server is stopped and the database dropped whatever happens. Prints a table
and appends one row to its section of bench/RESULTS.md.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/bench_web.py \\
        [--requests 500] [--concurrency 16] [--seconds 30] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse, urlunparse

import asyncpg
import httpx
from _results import RESULTS, append_rows, now, pad, python_version
from redis.asyncio import Redis

from marketplace.dburl import engine_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "loanmart_bench"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
STEP_TIMEOUT = 300  # seconds for each of migrate / seed / reindex
READY_TIMEOUT = 60
WARMUP_ROUNDS = 2  # warm-up requests per endpoint: this × concurrency

BASELINE = "/healthz"
DETAIL = "/products/{id}"
ENDPOINTS = (
    BASELINE,
    "/",
    "/products",
    "/products?q=装修",
    DETAIL,
    "/calculator?amount=100000&term=36",
)


# -- services ---------------------------------------------------------------------------


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return True
    socket_dir = parse_qs(parsed.query).get("host", [""])[0]
    return socket_dir.startswith("/") or parsed.hostname in LOCAL_HOSTS


def local_services() -> tuple[str, str]:
    """DATABASE_URL and REDIS_URL, both required, on this machine, Redis not on database 0
    (benchmarks flush it)."""
    server_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not (server_url and redis_url and _is_local(server_url) and _is_local(redis_url)):
        raise SystemExit("DATABASE_URL and REDIS_URL must be set and point at this machine")
    if redis_db(redis_url) == 0:
        raise SystemExit("REDIS_URL must name a database other than 0: the benchmark flushes it")
    return server_url, redis_url


def with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + name))


def redis_db(url: str) -> int:
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return int(parse_qs(parsed.query).get("db", ["0"])[0])
    return int(parsed.path.strip("/") or 0)


async def recreate_database(server_url: str, name: str, *, create: bool) -> None:
    """DROP (and CREATE) `name` on the server, connected through the URL's database."""
    connection = await asyncpg.connect(**engine_config(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def flush_redis(url: str) -> None:
    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_step(step: str, env: dict[str, str], project: Path = PROJECT_ROOT) -> None:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", step],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    if done.returncode != 0:
        raise SystemExit(f"`loanmart {step}` failed:\n{(done.stdout + done.stderr)[-3000:]}")
    print(f"  {step}: {time.perf_counter() - started:.1f} s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown, lifespan included
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class ServerNotReady(Exception):
    pass


async def wait_ready(client: httpx.AsyncClient, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerNotReady("web process exited during start-up")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.3)
    raise ServerNotReady(f"web process not ready after {READY_TIMEOUT} s")


# -- load -------------------------------------------------------------------------------


@dataclass
class EndpointStats:
    path: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies_ms) + self.errors

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=20, method="inclusive")[-1]


async def _load(
    client: httpx.AsyncClient, path: str, requests: int, concurrency: int, seconds: float
) -> EndpointStats:
    """`requests` GETs of `path`, `concurrency` in flight, stopping early after `seconds`."""
    stats = EndpointStats(path)
    remaining = requests
    deadline = time.monotonic() + seconds

    async def user() -> None:
        nonlocal remaining
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            t0 = time.perf_counter()
            try:
                response = await client.get(path)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                stats.latencies_ms.append((time.perf_counter() - t0) * 1000)
            else:
                stats.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    stats.seconds = time.perf_counter() - started
    return stats


async def hammer(
    client: httpx.AsyncClient, path: str, requests: int, concurrency: int, seconds: float
) -> EndpointStats:
    """A warm-up round (every connection open, caches filled; not counted), then the load."""
    warmup = await _load(client, path, WARMUP_ROUNDS * concurrency, concurrency, seconds)
    if warmup.errors:
        raise SystemExit(f"{path}: {warmup.errors} of {warmup.done} warm-up requests failed")
    return await _load(client, path, requests, concurrency, seconds)


async def first_product_path(client: httpx.AsyncClient) -> str:
    page = (await client.get("/products")).raise_for_status().text
    match = re.search(r'href="(/products/\d+)"', page)
    if match is None:
        raise SystemExit("no product link on /products: was the catalogue seeded and indexed?")
    return match.group(1)


async def measure(
    base_url: str, args: argparse.Namespace, process: subprocess.Popen
) -> list[EndpointStats]:
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    # trust_env=False: no proxy from the environment, every request goes to 127.0.0.1.
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=30, trust_env=False
    ) as client:
        await wait_ready(client, process)
        detail = await first_product_path(client)
        results = []
        for endpoint in ENDPOINTS:
            path = detail if endpoint == DETAIL else endpoint
            stats = await hammer(client, path, args.requests, args.concurrency, args.seconds)
            stats.path = endpoint
            print(f"  {path}: {stats.done} requests in {stats.seconds:.1f} s")
            results.append(stats)
        return results


# -- report -----------------------------------------------------------------------------


def ratios(stats: EndpointStats, base: EndpointStats) -> tuple[float, float, float]:
    return stats.rps / base.rps, stats.median_ms / base.median_ms, stats.p95_ms / base.p95_ms


def print_table(results: list[EndpointStats], concurrency: int) -> None:
    base = results[0]
    print(f"\nconcurrency {concurrency}; ratios against {BASELINE} of this run")
    print(
        f"{'endpoint':<36} {'ok':>5} {'err':>4} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'rps ÷ base':>10} {'p50 ÷ base':>10} {'p95 ÷ base':>10}"
    )
    for s in results:
        rps, p50, p95 = ratios(s, base)
        print(
            f"{pad(s.path, 36)} {len(s.latencies_ms):>5} {s.errors:>4} {s.rps:>8.1f} "
            f"{s.median_ms:>8.1f} {s.p95_ms:>8.1f} {rps:>10.3f} {p50:>10.2f} {p95:>10.2f}"
        )


HEADING = "## Web process under load (`bench/bench_web.py`)"
SECTION = f"""{HEADING}

One uvicorn worker (`python -m server.cli web`) on a fresh migrated + seeded database,
embedded search; an httpx client on the same machine sends N GETs per endpoint with C in
flight, one endpoint after the other (2 × C warm-up requests each, not counted). Baseline of
each row, measured in the same run: `{BASELINE}` (no database, no template). Each endpoint
cell is "req/s ÷ baseline req/s · median ÷ baseline median · p95 ÷ baseline p95"
(so a slower page has a throughput ratio below 1 and latency ratios above 1). The p95 of
the baseline is mostly client-side queueing (client and server share the CPUs), so the p95
ratios are the least stable figures: read throughput and medians first. Errors are non-200
answers, counted in the last column.

| when (Asia/Shanghai) | python | machine | N × C | {BASELINE} req/s | {BASELINE} p50 (ms) | {BASELINE} p95 (ms) | / | /products | /products?q=装修 | /products/{{id}} | /calculator?amount=100000&term=36 | errors |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
"""


def results_row(results: list[EndpointStats], args: argparse.Namespace) -> str:
    base = results[0]
    cells = ["{:.3f} · {:.2f} · {:.2f}".format(*ratios(s, base)) for s in results[1:]]
    errors = sum(s.errors for s in results)
    return (
        f"| {now()} | {python_version()} | {platform.machine()} "
        f"| {args.requests} × {args.concurrency} | {base.rps:.0f} | {base.median_ms:.1f} "
        f"| {base.p95_ms:.1f} | " + " | ".join(cells) + f" | {errors} |"
    )


# -- main -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--seconds", type=float, default=30, help="time cap per endpoint")
    parser.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    if args.requests < 20 or args.concurrency < 1 or args.seconds <= 0:
        parser.error("--requests must be at least 20, --concurrency and --seconds positive")

    tmp = Path(tempfile.mkdtemp(prefix="loanmart-bench-web-"))
    # Registered first, so it runs last: after the embedded PostgreSQL (if any) has
    # stopped at interpreter exit.
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    services = None
    process: subprocess.Popen | None = None
    database_url = redis_url = None
    try:
        if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
            from server.embedded import ensure_services

            print("starting the embedded services for what DATABASE_URL / REDIS_URL leave unset")
            services = ensure_services(tmp / "services")
        server_url, base_redis = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
        if not (_is_local(server_url) and _is_local(base_redis)):
            raise SystemExit("DATABASE_URL and REDIS_URL must point at this machine")
        own_redis = services is not None and services.redis_process is not None
        if not own_redis and redis_db(base_redis) == 0:
            raise SystemExit(
                "REDIS_URL must name a database other than 0 (e.g. redis://127.0.0.1:6379/9):"
                " the benchmark flushes it"
            )

        asyncio.run(recreate_database(server_url, BENCH_DATABASE, create=True))
        database_url = with_database(server_url, BENCH_DATABASE)
        redis_url = base_redis
        asyncio.run(flush_redis(redis_url))
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "LOANMART_VAR_DIR": str(tmp / "var"),
            "LOANMART_ENV": "development",
            "LOANMART_DEMO": "0",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("MEILISEARCH_URL", None)
        env.pop("MEILISEARCH_KEY", None)
        print(f"preparing database {BENCH_DATABASE}")
        for step in ("migrate", "seed", "reindex"):
            run_step(step, env)

        log = tmp / "web.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "web", "--workers", "1"],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        print(f"web process {process.pid} on 127.0.0.1:{port}; {len(ENDPOINTS)} endpoints")
        try:
            results = asyncio.run(measure(f"http://127.0.0.1:{port}", args, process))
        except ServerNotReady as exc:
            raise SystemExit(f"{exc}:\n{log.read_text(errors='replace')[-3000:]}") from None
    finally:
        if process is not None:
            stop_server(process)
        if database_url is not None:
            asyncio.run(recreate_database(server_url, BENCH_DATABASE, create=False))
        if redis_url is not None:
            asyncio.run(flush_redis(redis_url))
        if services is not None:
            services.stop()

    print_table(results, args.concurrency)
    if not args.no_write:
        append_rows(HEADING, SECTION, [results_row(results, args)])
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
