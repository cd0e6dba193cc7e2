"""Does a login flood stall every other page?

Runs the app in this process (httpx ASGITransport, so the client shares the app's event
loop, which is exactly what is being measured) with the production argon2id parameters.
N borrowers sign in at once, each from its own address so no limit refuses them, while a
probe requests `/healthz` every 10 ms until the flood is over and records how long past
its due time each answer came. Two rounds in the
same run:

* `on loop` — verification run inline on the event loop, as the code did before
  (the thread pool is bypassed for this round only): the baseline;
* `thread pool` — the code as it is: argon2 in its bounded thread pool.

Reports the probe's median / p95 / max latency and the flood's duration for each round,
and the ratios. Absolute times depend on the machine; compare the ratios.

Services — only this machine's: `DATABASE_URL` names a PostgreSQL server on which the
benchmark creates (and finally drops) its own database `loanmart_bench_login`; `REDIS_URL`
must name a Redis database other than 0, FLUSHED before and after.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/bench_login_flood.py \\
        [--logins 100] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx
from _results import append_rows, now, python_version

BENCH_DATABASE = "loanmart_bench_login"
PASSWORD = "Passw0rd!"  # noqa: S105
PROBE_INTERVAL = 0.01  # seconds between probe requests
HEADING = "## Login flood vs /healthz (`bench/bench_login_flood.py`)"
SECTION = f"""{HEADING}

N borrowers sign in at once (production argon2id parameters) while `/healthz` is probed
every 10 ms in process; a probe's time is how long past its due time the answer came.
`on loop` is the old inline verification, `pool` the bounded argon2 thread pool; ratios
are on loop ÷ pool.

| when (Asia/Shanghai) | python | machine | logins | on loop p50 · p95 · max (ms) | pool p50 · p95 · max (ms) | p95 ratio | max ratio | flood on loop (s) | flood pool (s) |
|---|---|---|---|---|---|---|---|---|---|
"""


def _with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + name))


async def _recreate(server_url: str, *, create: bool) -> None:
    from marketplace.dburl import engine_config

    connection = await asyncpg.connect(**engine_config(_with_database(server_url, "postgres")))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        if create:
            await connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await connection.close()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _round(app: Any, mobiles: list[str]) -> tuple[list[float], float]:
    """One flood; the probe's latencies (ms) and the flood's duration (s)."""
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(f"10.1.{i // 250}.{i % 250}", 5000)),
            base_url="http://bench",
        )
        for i in range(len(mobiles))
    ]
    probe = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    try:
        tokens = []
        for client in clients:
            await client.get("/login")
            tokens.append(client.cookies["csrftoken"])
        latencies: list[float] = []
        started = time.perf_counter()
        flood = asyncio.gather(
            *(
                client.post(
                    "/login", data={"_csrf_token": token, "login": mobile, "password": PASSWORD}
                )
                for client, token, mobile in zip(clients, tokens, mobiles, strict=True)
            )
        )
        while not flood.done():
            # A request in process never suspends by itself, so the probe asks every
            # PROBE_INTERVAL; the time past that until the answer is what a client
            # arriving then would have waited (a blocked loop shows up here).
            due = time.perf_counter() + PROBE_INTERVAL
            await asyncio.sleep(PROBE_INTERVAL)
            assert (await probe.get("/healthz")).status_code == 200
            latencies.append((time.perf_counter() - due) * 1000)
            probe.cookies.clear()
        responses = await flood
        duration = time.perf_counter() - started
        assert all(r.status_code == 303 for r in responses), {r.status_code for r in responses}
        return latencies, duration
    finally:
        for client in [*clients, probe]:
            await client.aclose()


async def _bench(logins: int) -> tuple[list[float], float, list[float], float]:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from marketplace import cache
    from marketplace.accounts.services import mobile_login_key
    from marketplace.accounts.tables import User
    from marketplace.security import encrypt_field, make_password_hasher, mask_mobile, passwords
    from server.app import create_app
    from server.lifecycle import start_services, stop_services

    assert (await run_forwards("all")).success
    await start_services()
    try:
        await cache.redis().flushdb()
        production_hash = make_password_hasher().hash(PASSWORD)
        mobiles = [f"1350000{i:04d}" for i in range(logins)]
        await User.insert(
            *(
                User(
                    kind="borrower",
                    login_key=mobile_login_key(mobile),
                    display_name="压测",
                    mobile_encrypted=encrypt_field(mobile, context="user.mobile"),
                    mobile_masked=mask_mobile(mobile),
                    password_hash=production_hash,
                    role="borrower",
                )
                for mobile in mobiles
            )
        )
        app = create_app()
        # One access line per probe would swamp the report (and cost the loop time).
        logging.getLogger().setLevel(logging.WARNING)
        off_loop = passwords._off_loop

        async def inline(function: Callable[..., Any], *args: str) -> Any:
            return function(*args)

        passwords._off_loop = inline  # type: ignore[assignment]
        try:
            on_loop, on_loop_flood = await _round(app, mobiles)
        finally:
            passwords._off_loop = off_loop  # type: ignore[assignment]
        await cache.redis().flushdb()
        pool, pool_flood = await _round(app, mobiles)
        return on_loop, on_loop_flood, pool, pool_flood
    finally:
        await cache.redis().flushdb()
        await stop_services()


def _summary(latencies: list[float]) -> tuple[float, float, float]:
    return statistics.median(latencies), _percentile(latencies, 0.95), max(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=100)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    server_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL", "")
    if not server_url or urlparse(redis_url).path in ("", "/", "/0"):
        sys.exit("set DATABASE_URL and REDIS_URL (a Redis database other than 0)")
    asyncio.run(_recreate(server_url, create=True))
    # Read once by marketplace.settings, so set before anything imports it.
    os.environ["DATABASE_URL"] = _with_database(server_url, BENCH_DATABASE)
    os.environ["LOANMART_VAR_DIR"] = tempfile.mkdtemp(prefix="loanmart-bench-login-")
    os.environ["LOANMART_DEMO"] = "0"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        on_loop, on_loop_flood, pool, pool_flood = asyncio.run(_bench(args.logins))
    finally:
        asyncio.run(_recreate(server_url, create=False))
    before, after = _summary(on_loop), _summary(pool)
    print(f"{args.logins} logins at once; /healthz probe (ms) p50 · p95 · max")  # noqa: T201
    print(
        f"  on loop:     {before[0]:8.1f} · {before[1]:8.1f} · {before[2]:8.1f}"  # noqa: T201
        f"   ({len(on_loop)} probes, flood {on_loop_flood:.1f} s)"
    )
    print(
        f"  thread pool: {after[0]:8.1f} · {after[1]:8.1f} · {after[2]:8.1f}"  # noqa: T201
        f"   ({len(pool)} probes, flood {pool_flood:.1f} s)"
    )
    if not args.no_write:
        row = (
            f"| {now()} | {python_version()} | {platform.machine()} | {args.logins} "
            f"| {before[0]:.1f} · {before[1]:.1f} · {before[2]:.1f} "
            f"| {after[0]:.1f} · {after[1]:.1f} · {after[2]:.1f} "
            f"| {before[1] / after[1]:.0f} | {before[2] / after[2]:.0f} "
            f"| {on_loop_flood:.1f} | {pool_flood:.1f} |"
        )
        append_rows(HEADING, SECTION, [row])


if __name__ == "__main__":
    main()
