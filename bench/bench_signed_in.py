"""Signed-in discovery pages against the bare-stack baseline's one-query page, with wrk.

A signed-in visitor gets no page cache: every request runs the handler and renders. This
benchmark starts LoanMart (`python -m server.cli web`, production settings) on a fresh
migrated + seeded + indexed database and the bare-stack app (`../shared/bench-baseline`,
`uvicorn main:app --no-access-log`) with the same number of workers, signs the demo
borrower in, and loads `/`, `/products`, `/products?q=装修` and a product page with the
session cookie, each beside the baseline's `/db` (one Piccolo query of 20 rows, rendered)
measured just before it in the same round: `wrk -t2 -cC -dDs --latency`. Goal (issue 14):
every page ≥ 0.5 × `/db` at 16 and 64 connections. After the load it reads the resident
memory of each LoanMart web worker (goal ≤ 250 MB).

Services — never anything but this machine: `DATABASE_URL` (PostgreSQL on 127.0.0.1; the
benchmark creates `loanmart_bench_signed_in` and drops it at the end), `REDIS_URL` naming a
database other than 0 (flushed before and after), `BASELINE_DATABASE_URL` (the baseline's
10,000-row table, seeded with its `seed.py` once). Needs `wrk` (`apt-get install wrk`).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    REDIS_URL=redis://127.0.0.1:6379/9 \\
    BASELINE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/baseline \\
    .venv/bin/python bench/bench_signed_in.py [--workers 1] [--seconds 10] [--rounds 2] \\
        [--baseline-dir ../shared/bench-baseline] [--project OTHER_TREE]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
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
import psutil
from _results import append_rows, now, python_version
from bench_web import (
    ServerNotReady,
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
BASELINE_DIR = PROJECT_ROOT.parent / "shared" / "bench-baseline"
BENCH_DATABASE = "loanmart_bench_signed_in"
DEMO_BORROWER = ("13800138000", "Demo12345")  # marketplace/demo/catalogue.py
SEARCH = "/products?q=" + quote("装修")
PAGES = ("/", "/products", SEARCH, "/products/{id}")
BASELINE = "/db"


@dataclass
class Run:
    path: str
    rps: float
    p50_ms: float
    p99_ms: float
    bad: int  # non-2xx answers and socket errors


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, connections: int, seconds: int, cookie: str | None = None) -> Run:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentile = dict(re.findall(r"^[ \t]+(50|99)%[ \t]+(\S+)", out, re.M))
    if len(percentile) != 2:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    bad += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Run(url, rps, _ms(percentile["50"]), _ms(percentile["99"]), bad)


def sign_in(base_url: str) -> tuple[str, str]:
    """The demo borrower's cookies (session and CSRF), and a product page's path."""
    with httpx.Client(base_url=base_url, trust_env=False, timeout=30) as client:
        page = client.get("/login").raise_for_status().text
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
        if token is None:
            raise SystemExit("no CSRF field on /login")
        login, password = DEMO_BORROWER
        answer = client.post(
            "/login", data={"_csrf_token": token.group(1), "login": login, "password": password}
        )
        if answer.status_code != 303:
            raise SystemExit(f"demo borrower sign-in answered {answer.status_code}")
        home = client.get("/").text
        if "退出登录" not in home:
            raise SystemExit("signed in, yet the home page shows no sign-out button")
        listing = client.get("/products").text
        match = re.search(r'href="(/products/\d+)"', listing)
        if match is None:
            raise SystemExit("no product on /products: was the catalogue seeded and indexed?")
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        return cookie, match.group(1)


def worker_rss_mb(pid: int) -> list[float]:
    """Resident memory of the web process's workers (itself when it has no children)."""
    process = psutil.Process(pid)
    workers = process.children(recursive=True) or [process]
    return [w.memory_info().rss / 2**20 for w in workers]


def production_env(tmp: Path) -> dict[str, str]:
    """Production settings (templates not re-checked on each render, no demo keys); the
    keys are derived here only because the database is thrown away afterwards."""
    key = base64.b64encode(hashlib.sha256(b"bench-signed-in").digest()).decode()
    return {
        "LOANMART_ENV": "production",
        "SECRET_KEY": hashlib.sha256(b"bench-signed-in-secret").hexdigest(),
        "DATA_KEYS": f"bench1:{key}",
        "LOANMART_DEMO": "0",
        "LOANMART_VAR_DIR": str(tmp / "var"),
        "PYTHONUNBUFFERED": "1",
    }


def measure(args: argparse.Namespace, ours: str, baseline: str, cookie: str, detail: str) -> dict:
    """For each connection count and round: `/db`, then each page; ratios within the round."""
    table: dict = {}
    wrk(baseline + BASELINE, 16, 2)  # warm-up: connections open, caches filled
    for path in PAGES:
        wrk(ours + (detail if path == "/products/{id}" else path), 16, 2, cookie)
    for connections in args.connections:
        for round_no in range(1, args.rounds + 1):
            runs: dict[str, Run] = {}
            for path in PAGES:
                runs[f"{BASELINE} before {path}"] = wrk(
                    baseline + BASELINE, connections, args.seconds
                )
                url = ours + (detail if path == "/products/{id}" else path)
                runs[path] = wrk(url, connections, args.seconds, cookie)
            table[(connections, round_no)] = runs
            print_round(connections, round_no, runs)
    return table


def ratio(runs: dict[str, Run], path: str) -> float:
    return runs[path].rps / runs[f"{BASELINE} before {path}"].rps


def print_round(connections: int, round_no: int, runs: dict[str, Run]) -> None:
    print(f"\n-c{connections} round {round_no}")
    for path in PAGES:
        base, page = runs[f"{BASELINE} before {path}"], runs[path]
        print(
            f"  {path:<28} {page.rps:>8.0f} req/s p50 {page.p50_ms:>6.1f} p99 {page.p99_ms:>7.1f}"
            f" ms | /db {base.rps:>6.0f} req/s p99 {base.p99_ms:>6.1f} ms | ratio "
            f"{ratio(runs, path):.2f}  bad {page.bad}"
        )


HEADING = "## Signed-in discovery pages vs the bare-stack `/db` (`bench/bench_signed_in.py`)"
SECTION = f"""{HEADING}

The demo borrower signed in (no page cache), production settings, W uvicorn workers for
both apps; `wrk -t2 -cC -dDs --latency` against each page right after the baseline's `/db`
(`../shared/bench-baseline`, one 20-row query rendered) in the same round. Each page cell
is "req/s ÷ `/db` req/s of its round · page p99 (ms)"; the `/db` cell is the mean of the
round's four baseline runs. Goal (issue 14): every ratio ≥ 0.5. RSS: each LoanMart web
worker after the whole run (goal ≤ 250 MB). The machine is shared (2 cores), so read the
ratios, and the rows of one run together.

| when (Asia/Shanghai) | python | machine | W × C × D | tree, round | /db req/s · p99 (ms) | / | /products | /products?q=装修 | /products/{{id}} | bad answers | worker RSS (MB) |
|---|---|---|---|---|---|---|---|---|---|---|---|
"""


def results_rows(table: dict, args: argparse.Namespace, rss: list[float]) -> list[str]:
    rows = []
    # The tree served, when it is not this one (a before/after comparison).
    tree = "" if args.project.resolve() == PROJECT_ROOT else f"`{args.project.name}`"
    for (connections, round_no), runs in table.items():
        bases = [run for key, run in runs.items() if key.startswith(BASELINE)]
        base_rps = sum(b.rps for b in bases) / len(bases)
        base_p99 = sum(b.p99_ms for b in bases) / len(bases)
        cells = [f"{ratio(runs, p):.2f} · {runs[p].p99_ms:.0f}" for p in PAGES]
        bad = sum(runs[p].bad for p in PAGES)
        rows.append(
            f"| {now()} | {python_version()} | {platform.machine()} · {os.cpu_count()} CPUs "
            f"| {args.workers} × {connections} × {args.seconds}s | {tree} {round_no} "
            f"| {base_rps:.0f} · {base_p99:.0f} | " + " | ".join(cells) + f" | {bad} "
            f"| {' / '.join(f'{mb:.0f}' for mb in rss)} |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of each app")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per connection count")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument(
        "--database",
        default=BENCH_DATABASE,
        help="name of the database created (and dropped) for the run",
    )
    parser.add_argument(
        "--baseline-dir",
        type=Path,
        default=BASELINE_DIR,
        help="the bare-stack app (default ../shared/bench-baseline beside the project)",
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=PROJECT_ROOT,
        help="the LoanMart tree to serve (another worktree, for a before/after comparison)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (apt-get install wrk)")
    server_url, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    baseline_db = os.environ["BASELINE_DATABASE_URL"]
    if not all(_is_local(url) for url in (server_url, redis_url, baseline_db)):
        raise SystemExit("DATABASE_URL, REDIS_URL and BASELINE_DATABASE_URL must be local")
    if redis_db(redis_url) == 0:
        raise SystemExit("REDIS_URL must name a database other than 0: the benchmark flushes it")

    tmp = Path(tempfile.mkdtemp(prefix="loanmart-bench-signed-in-"))
    ours = baseline = None
    database_url = None
    try:
        asyncio.run(recreate_database(server_url, args.database, create=True))
        database_url = with_database(server_url, args.database)
        asyncio.run(flush_redis(redis_url))
        env = {
            **os.environ,
            **production_env(tmp),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
        }
        env.pop("MEILISEARCH_URL", None)
        print(f"preparing database {args.database}")
        # The demo seed refuses production (its webhook receivers are http://); the same
        # keys, so the served data decrypts and the borrower's login is found.
        for step in ("migrate", "seed", "reindex"):
            run_step(step, {**env, "LOANMART_ENV": "development"}, args.project)
        our_port, baseline_port = free_port(), free_port()
        workers = str(args.workers)
        with (tmp / "web.log").open("wb") as log:
            ours = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "web", "--workers", workers],
                env={**env, "HOST": "127.0.0.1", "PORT": str(our_port)},
                cwd=args.project,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            baseline = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "main:app", "--port", str(baseline_port)]
                + ["--workers", workers, "--no-access-log", "--log-level", "warning"],
                env={**os.environ, "BASELINE_DATABASE_URL": baseline_db},
                cwd=args.baseline_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        ours_url = f"http://127.0.0.1:{our_port}"
        baseline_url = f"http://127.0.0.1:{baseline_port}"

        async def ready() -> None:
            async with httpx.AsyncClient(base_url=ours_url, trust_env=False) as client:
                await wait_ready(client, ours)
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient(base_url=baseline_url, trust_env=False) as client:
                while time.monotonic() < deadline:
                    try:
                        if (await client.get("/plain")).status_code == 200:
                            return
                    except httpx.HTTPError:
                        await asyncio.sleep(0.3)
            raise ServerNotReady("baseline app not ready")

        try:
            asyncio.run(ready())
        except ServerNotReady as exc:
            log_text = (tmp / "web.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"{exc}:\n{log_text}") from None
        cookie, detail = sign_in(ours_url)
        print(f"signed in as the demo borrower; product page {detail}")
        table = measure(args, ours_url, baseline_url, cookie, detail)
        rss = worker_rss_mb(ours.pid)
        print(f"\nLoanMart web worker RSS after load: {', '.join(f'{mb:.0f} MB' for mb in rss)}")
    finally:
        for process in (ours, baseline):
            if process is not None:
                stop_server(process)
        if database_url is not None:
            asyncio.run(recreate_database(server_url, args.database, create=False))
        asyncio.run(flush_redis(redis_url))
        shutil.rmtree(tmp, ignore_errors=True)
    rows = results_rows(table, args, rss)
    print("\n".join(rows))
    if not args.no_write:
        append_rows(HEADING, SECTION, rows)
        print("appended to bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
