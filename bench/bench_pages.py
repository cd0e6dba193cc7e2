"""Anonymous discovery pages against the bare-stack Jinja page, side by side (issue 14).

Starts LoanMart (`python -m server.cli web --workers W`, on a fresh migrated + seeded +
indexed database, embedded search) and the bare-stack baseline app of
../shared/bench-baseline (`uvicorn main:app --workers W`), both with the same number of
workers, and loads them with wrk (`-t2`, no cookies: every request is a first visit, so
the page cache hands out a new CSRF token and cookie each time). Runs are interleaved:
for each round and each concurrency, the baseline's `/`, then every page. Reports, per
concurrency, each page's req/s ÷ the baseline's req/s of the same round and its p99,
and the calculator's p50 and p99; appends rows to bench/RESULTS.md.

Needs wrk (`apt-get install -y wrk`). DATABASE_URL / REDIS_URL as for bench/bench_web.py
(local only; REDIS_URL's database number, not 0, is flushed); the baseline gets its own
database on that server, filled by bench-baseline's seed.py, both dropped at the end.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/bench_pages.py \\
        [--workers 2] [--seconds 5] [--rounds 2] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
from _results import RESULTS, append_rows, now, python_version
from bench_web import (
    PROJECT_ROOT,
    first_product_path,
    flush_redis,
    free_port,
    local_services,
    recreate_database,
    run_step,
    stop_server,
    with_database,
)

BASELINE_APP = PROJECT_ROOT.parent / "shared" / "bench-baseline"
BENCH_DATABASE = "loanmart_bench_pages"
CONCURRENCIES = (16, 64)
DETAIL = "/products/{id}"
PAGES = ("/", "/products", "/products?q=装修", DETAIL)
CALCULATOR = "/calculator?amount=100000&term=36"
READY_TIMEOUT = 60
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, connections: int, seconds: float) -> Run:
    url = quote(url, safe=":/?=&")  # wrk sends the URL as given: 装修 percent-encoded
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in socket_errors.groups())
    return Run(rps, p50, p99, failed)


def wait_ready(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited during start-up")
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready after {READY_TIMEOUT} s")


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def measure(app: str, baseline: str, detail: str, args: argparse.Namespace) -> dict:
    """results[c][path] = list of (Run, baseline Run of the same round)."""
    results: dict[int, dict[str, list[tuple[Run, Run]]]] = {c: {} for c in CONCURRENCIES}
    for round_no in range(args.rounds):
        for connections in CONCURRENCIES:
            for path in (*PAGES, CALCULATOR):
                # Warm-up (not counted): workers' caches and connections.
                wrk(app + (detail if path == DETAIL else path), connections, 1)
            base = wrk(baseline + "/", connections, args.seconds)
            print(
                f"round {round_no + 1} c{connections}: baseline / {base.rps:.0f} req/s "
                f"p50 {base.p50_ms:.1f} ms p99 {base.p99_ms:.1f} ms"
            )
            for path in (*PAGES, CALCULATOR):
                run = wrk(app + (detail if path == DETAIL else path), connections, args.seconds)
                results[connections].setdefault(path, []).append((run, base))
                print(
                    f"  {path}: {run.rps:.0f} req/s ({run.rps / base.rps:.2f}×) "
                    f"p50 {run.p50_ms:.1f} ms p99 {run.p99_ms:.1f} ms errors {run.errors}"
                )
    return results


HEADING = "## Anonymous pages vs the bare-stack Jinja page (`bench/bench_pages.py`)"
SECTION = f"""{HEADING}

LoanMart (`server.cli web --workers W`) and the bare-stack app of ../shared/bench-baseline
(`uvicorn main:app --workers W`) on the same machine, loaded by `wrk -t2` without cookies
(every request a first visit: the page cache puts a new CSRF token and cookie in each).
Interleaved: each round and concurrency runs the baseline's `/`, then every page. A cell
is "req/s ÷ the baseline's `/` of the same round · p99 ms", the range over the rounds
(min–max). Goal: ≥ 0.5× and p99 ≤ 50 ms at 16 connections; the calculator's p99 within 3×
its p50 at 64. Errors: non-2xx answers and socket errors over the whole run.

| when (Asia/Shanghai) | python | machine | W | C | rounds × s | baseline / req/s · p99 ms | / | /products | /products?q=装修 | {DETAIL} | calculator p50 · p99 ms | errors |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
"""


def _span(values: list[float], fmt: str) -> str:
    low, high = min(values), max(values)
    return (
        format(low, fmt) if format(low, fmt) == format(high, fmt) else f"{low:{fmt}}–{high:{fmt}}"
    )


def rows(results: dict, args: argparse.Namespace) -> list[str]:
    lines = []
    for connections, by_path in results.items():
        bases = [base for _run, base in by_path[PAGES[0]]]  # one per round
        cells = []
        for path in PAGES:
            runs = by_path[path]
            ratio = _span([run.rps / base.rps for run, base in runs], ".2f")
            p99 = _span([run.p99_ms for run, _base in runs], ".1f")
            cells.append(f"{ratio}× · {p99}")
        calc = [run for run, _base in by_path[CALCULATOR]]
        calc_cell = (
            f"{_span([r.p50_ms for r in calc], '.1f')} · {_span([r.p99_ms for r in calc], '.1f')}"
        )
        errors = sum(run.errors for runs in by_path.values() for run, _base in runs)
        lines.append(
            f"| {now()} | {python_version()} | {platform.machine()} | {args.workers} "
            f"| {connections} | {args.rounds} × {args.seconds:g} | "
            f"{_span([b.rps for b in bases], '.0f')} · {_span([b.p99_ms for b in bases], '.1f')} | "
            + " | ".join(cells)
            + f" | {calc_cell} | {errors} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--baseline-dir",
        type=Path,
        default=BASELINE_APP,
        help="the bare-stack app (default ../shared/bench-baseline beside the project)",
    )
    parser.add_argument(
        "--database",
        default=BENCH_DATABASE,
        help="name of the database created (and dropped) for the run; the baseline's gets "
        "_baseline appended (another name lets runs share a PostgreSQL server)",
    )
    args = parser.parse_args()
    bench_database, baseline_database = args.database, f"{args.database}_baseline"
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    server_url, redis_url = local_services()

    tmp = Path(tempfile.mkdtemp(prefix="loanmart-bench-pages-"))
    processes: list[subprocess.Popen] = []
    database_url = None
    try:
        asyncio.run(recreate_database(server_url, bench_database, create=True))
        database_url = with_database(server_url, bench_database)
        asyncio.run(flush_redis(redis_url))
        port, baseline_port = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOANMART_VAR_DIR": str(tmp / "var"),
            "LOANMART_ENV": "development",
            "LOANMART_DEMO": "0",
        }
        env.pop("MEILISEARCH_URL", None)
        print(f"preparing database {bench_database}")
        for step in ("migrate", "seed", "reindex"):
            run_step(step, env)
        processes.append(
            start(
                [sys.executable, "-m", "server.cli", "web", "--workers", str(args.workers)],
                env,
                PROJECT_ROOT,
                tmp / "web.log",
            )
        )
        asyncio.run(recreate_database(server_url, baseline_database, create=True))
        baseline_env = {
            **os.environ,
            "BASELINE_DATABASE_URL": with_database(server_url, baseline_database),
        }
        subprocess.run(
            [sys.executable, "seed.py"], env=baseline_env, cwd=args.baseline_dir, check=True
        )
        uvicorn = str(Path(sys.executable).with_name("uvicorn"))
        processes.append(
            start(
                [
                    uvicorn,
                    "main:app",
                    "--port",
                    str(baseline_port),
                    "--workers",
                    str(args.workers),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                baseline_env,
                args.baseline_dir,
                tmp / "baseline.log",
            )
        )
        app, baseline = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{baseline_port}"
        wait_ready(app + "/readyz", processes[0])
        wait_ready(baseline + "/plain", processes[1])
        detail = asyncio.run(_detail(app))
        results = measure(app, baseline, detail, args)
    finally:
        for process in processes:
            stop_server(process)
        if database_url is not None:
            asyncio.run(recreate_database(server_url, bench_database, create=False))
            asyncio.run(recreate_database(server_url, baseline_database, create=False))
        asyncio.run(flush_redis(redis_url))
        shutil.rmtree(tmp, ignore_errors=True)

    table = rows(results, args)
    print("\n".join(table))
    if not args.no_write:
        append_rows(HEADING, SECTION, table)
        print(f"appended to {RESULTS}")
    return 0


async def _detail(base_url: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30) as client:
        return await first_product_path(client)


if __name__ == "__main__":
    sys.exit(main())
