"""`loanmart <command>`: demo, web, worker, migrate, seed, reindex, backup, restore.

Imports of the application happen inside the commands: `demo` first starts the embedded
services and exports their URLs, and settings are read once at import."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


async def _with_db(coro_factory):
    from marketplace.db import engine, start_pool

    await start_pool(max_size=4)
    try:
        return await coro_factory()
    finally:
        await engine().close_connection_pool()


def migrate() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from marketplace.parameters.services import sync_defaults

    async def run():
        result = await run_forwards("all")
        if not result.success:
            raise SystemExit(f"migrations failed: {result.message}")
        await sync_defaults()  # every system parameter has its row (A3)

    asyncio.run(_with_db(run))


def seed() -> None:
    from marketplace.demo.seed import seed_demo
    from server.demo_devices import seed_demo_devices
    from server.progress import progress

    async def run(report):
        from marketplace import cache

        created = await seed_demo(report)
        await seed_demo_devices()
        await cache.close()
        return created

    with progress("seed demo data") as (step,):
        created = asyncio.run(_with_db(lambda: run(step.report)))
    print("demo data seeded" if created else "demo data already present")  # noqa: T201


def reindex() -> None:
    from marketplace.content.indexing import reindex_articles
    from marketplace.content.search_port import set_article_backend
    from marketplace.products.indexing import reindex_all
    from marketplace.products.search_port import set_backend
    from marketplace.settings import settings
    from search import make_article_backend, make_backend
    from server.progress import progress

    with progress("rebuild search index") as (step,):

        async def run():
            set_backend(make_backend(settings))
            set_article_backend(make_article_backend(settings))
            return await reindex_all(progress=step.report), await reindex_articles()

        count, articles = asyncio.run(_with_db(run))
    print(f"indexed {count} listed products")  # noqa: T201
    print(f"indexed {articles} published articles")  # noqa: T201


def daily(business_date: str | None) -> None:
    """The post-loan day by hand: age the loans to a business date (default today in
    Asia/Shanghai), then send that date's reminders and overdue notices. The hourly crons
    do the same once per date; this re-runs a missed day or, in a test, a chosen one."""
    from datetime import date

    from marketplace.collections.jobs import send_notices
    from marketplace.loancalc import today_shanghai
    from marketplace.loans.jobs import run_daily_overdue

    try:
        day = date.fromisoformat(business_date) if business_date else today_shanghai()
    except ValueError:
        raise SystemExit(f"not a date (YYYY-MM-DD): {business_date!r}") from None

    async def run():
        changed = await run_daily_overdue(day)
        return changed, await send_notices(day)

    changed, sent = asyncio.run(_with_db(run))
    notices = ", ".join(f"{kind}={count}" for kind, count in sent.items())
    print(f"{day}: {changed} loans changed state; notices sent: {notices}")  # noqa: T201


def complaints_sla(at: str | None) -> None:
    """The complaints' SLA run by hand at a moment (ISO 8601, default now): reminders,
    overdue marks, automatic closes. The 10-minute cron does the same; a test moves time."""
    from datetime import UTC, datetime

    from marketplace.complaints.services import run_sla

    try:
        moment = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError:
        raise SystemExit(f"not a moment (ISO 8601): {at!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)

    async def run():
        return await run_sla(moment)

    result = asyncio.run(_with_db(run))
    print(  # noqa: T201
        f"{moment.isoformat()}: {result.reminded} reminded, {result.overdue} overdue, "
        f"{result.closed} closed"
    )


def backup(target: str | None) -> None:
    from server.backup import create_backup
    from server.progress import progress

    with progress("dump database tables", "archive stored files") as (tables, files):
        path = asyncio.run(
            _with_db(
                lambda: create_backup(
                    Path(target) if target else None, on_table=tables.report, on_file=files.report
                )
            )
        )
    print(f"backup written to {path}")  # noqa: T201


def restore(source: str, assume_yes: bool) -> None:
    from marketplace.content.search_port import set_article_backend
    from marketplace.products.search_port import set_backend
    from marketplace.settings import settings
    from search import make_article_backend, make_backend
    from server.backup import read_manifest, restore_backup
    from server.progress import progress

    path = Path(source)
    manifest = read_manifest(path)
    print(  # noqa: T201
        f"backup of {manifest['database']} taken {manifest['created_at']} "
        f"(LoanMart {manifest['app_version']}, {manifest['files']} stored files)"
    )
    if not assume_yes:
        if not sys.stdin.isatty():
            raise SystemExit("restore replaces the database and stored files: pass --yes")
        answer = input("Replace the current database and stored files with it? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise SystemExit("restore cancelled")

    with progress("restore database tables", "restore stored files") as (tables, files):

        async def run():
            set_backend(make_backend(settings))
            set_article_backend(make_article_backend(settings))
            return await restore_backup(path, on_table=tables.report, on_file=files.report)

        summary = asyncio.run(_with_db(run))
    print(  # noqa: T201
        f"restored {summary.tables} tables and {summary.files} files; "
        f"indexed {summary.indexed} listed products"
    )


def web(workers: int = 1) -> None:
    import uvicorn

    from marketplace.settings import settings

    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        proxy_headers=False,
        access_log=False,
        # Our JSON handler on the root logger (the app's lifespan) formats uvicorn's lines too.
        log_config=None,
    )


def worker() -> None:
    from marketplace.jobs import run_worker
    from server.lifecycle import start_services, stop_services

    run_worker(start_services, stop_services)


def demo() -> None:
    """Everything on the embedded default: Postgres, Redis, search, web and worker."""
    from marketplace.demo.api_clients import demo_api_line
    from marketplace.i18n import _
    from marketplace.settings import load_settings
    from server.embedded import ensure_services

    config = load_settings()
    var_dir = config.var_dir
    started = time.monotonic()
    services = ensure_services(var_dir)
    env = {**os.environ, "LOANMART_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}
    me = [sys.executable, "-m", "server.cli"]
    children: list[Supervised] = []

    def stop() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        running = [child.process for child in children if child.process]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        services.stop()
        print(_("LoanMart 已停止。"), flush=True)  # noqa: T201

    def on_signal(*_signal: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for step in ("migrate", "seed", "reindex"):
            subprocess.run([*me, step], env=env, check=True, cwd=PROJECT_ROOT)  # noqa: S603
        for role in ("worker", "web"):
            children.append(Supervised(role, [*me, role], env))
        for child in children:
            child.start(time.monotonic())
        base = f"http://127.0.0.1:{config.port}"
        _wait_ready(f"{base}/readyz", [child.process for child in children if child.process])
        seconds = f"{time.monotonic() - started:.1f}"
        print("\n" + _("LoanMart 已就绪（{seconds} 秒）", seconds=seconds), flush=True)  # noqa: T201
        logins = _(
            """
  借款人门户   {base}/            手机号 13800138000 / Demo12345（也可自行注册，验证码打印在本终端）
  机构工作台   {base}/console/    admin@huaxin-bank.example / Demo12345
  运营后台     {base}/admin/      reviewer@loanmart.example / Demo12345（两步验证码打印在本终端）
""",
            base=base,
        )
        print(logins, flush=True)  # noqa: T201
        print(demo_api_line(base) + "\n", flush=True)  # noqa: T201
        print(_("按 Ctrl-C 停止。"), flush=True)  # noqa: T201
        while True:
            for child in children:
                if news := child.tick(time.monotonic()):
                    print(news, flush=True)  # noqa: T201
            time.sleep(0.5)
    finally:
        stop()


class Supervised:
    """One demo child (web or worker): restarted when it dies, after a pause that doubles
    while it keeps dying young, so a crash loop does not spin."""

    FIRST_PAUSE = 1.0
    MAX_PAUSE = 30.0
    STABLE_AFTER = 60.0  # a child that ran this long starts over from the first pause

    def __init__(self, role: str, command: list[str], env: dict[str, str]) -> None:
        self.role = role
        self.command = command
        self.env = env
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.pause = self.FIRST_PAUSE
        self.restart_at: float | None = None

    def start(self, now: float) -> None:
        # Own session: a terminal's Ctrl-C reaches only the supervisor, which then stops
        # each child exactly once (a second SIGINT would make uvicorn quit hard).
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI
            self.command, env=self.env, cwd=PROJECT_ROOT, start_new_session=True
        )
        self.started_at = now
        self.restart_at = None

    def tick(self, now: float) -> str | None:
        """Notice a death or restart when due; returns what to tell the operator."""
        from marketplace.i18n import _

        if self.process is None or self.process.poll() is None:
            return None
        if self.restart_at is None:
            if now - self.started_at >= self.STABLE_AFTER:
                self.pause = self.FIRST_PAUSE
            self.restart_at = now + self.pause
            news = _(
                "{role} 进程意外退出（退出码 {code}），{seconds} 秒后重启。",
                role=self.role,
                code=self.process.returncode,
                seconds=f"{self.pause:g}",
            )
            self.pause = min(self.pause * 2, self.MAX_PAUSE)
            return news
        if now < self.restart_at:
            return None
        self.start(now)
        return _("{role} 进程已重启。", role=self.role)


def _wait_ready(url: str, children: list[subprocess.Popen], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise SystemExit("a demo process exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"not ready after {timeout:.0f}s: {url}")


def _ran_on_embedded_postgres(argv: list[str] | None) -> bool:
    """Without DATABASE_URL (the embedded default), start the embedded PostgreSQL and run
    the command again in a child that sees its URL: settings are read once, at import."""
    from marketplace.settings import load_settings
    from server.embedded import start_postgres

    config = load_settings()
    if config.database_url:
        return False
    env = {
        **os.environ,
        "DATABASE_URL": start_postgres(config.var_dir / "postgres"),
        "LOANMART_VAR_DIR": str(config.var_dir),
    }
    command = [sys.executable, "-m", "server.cli", *(sys.argv[1:] if argv is None else argv)]
    returncode = subprocess.run(command, env=env, cwd=PROJECT_ROOT).returncode  # noqa: S603
    if returncode:
        raise SystemExit(returncode)
    return True


def _configure_logging() -> None:
    from server.logs import configure_logging

    configure_logging()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="loanmart")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("demo", "worker", "migrate", "seed", "reindex"):
        sub.add_parser(name)
    web_parser = sub.add_parser("web")
    web_parser.add_argument("--workers", type=int, default=None)
    backup_parser = sub.add_parser("backup", help="database, stored files and manifest in one tar")
    backup_parser.add_argument("path", nargs="?", help="file or directory (default var/backups/)")
    restore_parser = sub.add_parser("restore", help="replace database and files from a backup")
    restore_parser.add_argument("path")
    restore_parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    daily_parser = sub.add_parser("daily", help="age loans and send notices for a business date")
    daily_parser.add_argument("--date", help="YYYY-MM-DD (default: today, Asia/Shanghai)")
    sla_parser = sub.add_parser("complaints-sla", help="run the complaints' SLA step at a moment")
    sla_parser.add_argument("--at", help="ISO 8601 moment (default: now)")
    args = parser.parse_args(argv)
    needs_database = ("migrate", "seed", "reindex", "backup", "restore", "daily", "complaints-sla")
    if args.command in needs_database and _ran_on_embedded_postgres(argv):
        return
    _configure_logging()
    if args.command == "web":
        from marketplace.settings import settings

        web(args.workers or settings.web_concurrency)
    elif args.command == "backup":
        backup(args.path)
    elif args.command == "restore":
        restore(args.path, args.yes)
    elif args.command == "daily":
        daily(args.date)
    elif args.command == "complaints-sla":
        complaints_sla(args.at)
    else:
        {"demo": demo, "worker": worker, "migrate": migrate, "seed": seed, "reindex": reindex}[
            args.command
        ]()


if __name__ == "__main__":
    main()
