"""Test services: real PostgreSQL and Redis.

DATABASE_URL / REDIS_URL (as CI sets them) point at running servers; when unset, the
embedded PostgreSQL and Redis are started under var/test/. Each xdist worker gets its own
fresh database and Redis db number. This module sets the environment BEFORE anything
imports marketplace.settings, which reads it once."""

from __future__ import annotations

import asyncio
import atexit
import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import asyncpg
from hypothesis import settings as hypothesis_settings

# Timing is measured in bench/, never asserted: no per-example deadline on a busy CI box.
hypothesis_settings.register_profile("loanmart", deadline=None)
hypothesis_settings.load_profile("loanmart")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
WORKER_NUMBER = int(WORKER.removeprefix("gw") or 0)
# Lets several checkouts or people share one PostgreSQL server without sharing databases.
NAMESPACE = os.environ.get("LOANMART_TEST_NAMESPACE", "")


def _start_services() -> tuple[str, str]:
    from server.embedded import ensure_services

    services = ensure_services(PROJECT_ROOT / "var" / "test")
    atexit.register(services.stop)
    return services.database_url, services.redis_url


def _with_database(url: str, name: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path="/" + name))


async def _recreate_database(base_url: str, name: str) -> None:
    from marketplace.dburl import engine_config

    config = engine_config(_with_database(base_url, "postgres"))
    connection = await asyncpg.connect(**config)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def _with_redis_db(url: str, number: int) -> str:
    if url.startswith("unix://"):
        return url.split("?")[0] + f"?db={number}"
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=f"/{number}"))


BASE_DATABASE_URL, BASE_REDIS_URL = _start_services()
TEST_DATABASE = f"loanmart_test_{NAMESPACE}{WORKER}"
E2E_DATABASE = f"loanmart_e2e_{NAMESPACE}{WORKER}"
asyncio.run(_recreate_database(BASE_DATABASE_URL, TEST_DATABASE))

os.environ["DATABASE_URL"] = _with_database(BASE_DATABASE_URL, TEST_DATABASE)
os.environ["REDIS_URL"] = _with_redis_db(BASE_REDIS_URL, 1 + 2 * WORKER_NUMBER)
os.environ["LOANMART_VAR_DIR"] = tempfile.mkdtemp(prefix=f"loanmart-test-{NAMESPACE}{WORKER}-")
os.environ["LOANMART_DEMO"] = "0"
# Values the e2e server process gets: its own database and Redis db.
E2E_ENV = {
    "DATABASE_URL": _with_database(BASE_DATABASE_URL, E2E_DATABASE),
    "REDIS_URL": _with_redis_db(BASE_REDIS_URL, 2 + 2 * WORKER_NUMBER),
}

pytest_plugins = ["tests.fixtures"]
