"""Backup and restore round trip: the data after a restore is the data at the backup."""

from __future__ import annotations

import io
import json
import stat
import tarfile

import pytest

from marketplace import jobs
from marketplace.db import engine
from marketplace.institutions.tables import Institution
from marketplace.products.search_port import SearchQuery, backend
from marketplace.products.tables import Product, ProductRevision
from marketplace.settings import settings
from server.backup import (
    BackupError,
    create_backup,
    files_dir,
    find_pg_tool,
    read_manifest,
    restore_backup,
)
from tests.factories import listed_product
from tests.fixtures import login

ROWS_TEXT = "coalesce(string_agg(t::text, chr(10) ORDER BY t::text), '')"


async def _tables() -> list[str]:
    rows = await engine().run_ddl(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    return [row["tablename"] for row in rows]


async def _snapshot() -> dict[str, tuple[int, str]]:
    """Row count and a checksum of the sorted rows, per table."""
    snapshot = {}
    for table in await _tables():
        # Names come from pg_tables, not from input.
        query = f'SELECT count(*) AS n, md5({ROWS_TEXT}) AS sum FROM "{table}" t'  # noqa: S608
        rows = await engine().run_ddl(query)
        snapshot[table] = (rows[0]["n"], rows[0]["sum"])
    return snapshot


def _stored_files() -> dict[str, bytes]:
    root = files_dir()
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def _search_ids(text: str) -> set[int]:
    result = await backend().search(SearchQuery(text=text))
    return {hit.id for hit in result.hits}


async def test_round_trip_restores_rows_files_and_search(client, world, tmp_path):
    first = await listed_product(world.staff, world.operator)
    second = await listed_product(
        world.staff,
        world.operator,
        name="安心经营贷",
        summary="小微经营周转，随借随还",
        description="面向个体工商户。",
    )
    await jobs.run_until_idle()
    await login(client, "/login", world.borrower_mobile)
    page = await client.get(f"/products/{first}/apply")
    assert page.status_code == 200
    (files_dir() / "documents" / "2026").mkdir(parents=True)
    (files_dir() / "documents" / "2026" / "contract.pdf").write_bytes(b"%PDF-1.7 \x00\xff binary")
    (files_dir() / "note.txt").write_text("借款合同", encoding="utf-8")
    before, files_before = await _snapshot(), _stored_files()
    assert before["product"][0] == 2 and before["audit_entry"][0] > 0
    assert await _search_ids("装修") == {first}

    steps: list[tuple[int, int]] = []
    archive = await create_backup(tmp_path, on_table=lambda n, total: steps.append((n, total)))
    assert archive.parent == tmp_path and archive.suffix == ".tar"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600, "backups hold personal data"
    assert steps and all(total == len(before) for _n, total in steps)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "database.dump", "files/documents/2026/contract.pdf"} <= names
    manifest = read_manifest(archive)
    assert manifest["files"] == 2 and manifest["app_version"]
    assert manifest["migration_head"]["products"].startswith("20")

    # Everything changes after the backup: rows updated, deleted, added; files and index.
    await Product.update({Product.name: "改过的名字"}).where(Product.id == first)
    await ProductRevision.delete().where(ProductRevision.product == second)
    await Institution.insert(Institution(code="late-bank", name="后来银行", short_name="后来"))
    (files_dir() / "note.txt").unlink()
    (files_dir() / "stray.txt").write_text("added later")
    await backend().clear()
    assert await _snapshot() != before

    summary = await restore_backup(archive)

    assert await _snapshot() == before
    assert _stored_files() == files_before
    assert summary.tables == len(before) and summary.files == 2 and summary.indexed == 2
    assert await _search_ids("装修") == {first}
    assert await _search_ids("经营") == {second}
    # The borrower's session (in Redis) still names a user that exists again.
    assert (await client.get(f"/products/{first}/apply")).status_code == 200


async def test_restore_refuses_an_archive_with_foreign_entries(tmp_path):
    archive = tmp_path / "evil.tar"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format": 1}))
    outside = tmp_path / "payload"
    outside.write_text("x")
    with tarfile.open(archive, "w") as tar:
        tar.add(manifest, "manifest.json")
        tar.add(outside, "../../escape")
    with pytest.raises(BackupError, match="unexpected entry"):
        await restore_backup(archive)
    assert not (settings.var_dir.parent / "escape").exists()


async def test_pg_tools_match_the_server_version():
    rows = await engine().run_ddl("SELECT current_setting('server_version_num')::int AS v")
    major = rows[0]["v"] // 10000
    for tool in ("pg_dump", "pg_restore"):
        binary = await find_pg_tool(tool, major)
        assert binary.name == tool and binary.exists()
    with pytest.raises(BackupError, match="no pg_dump"):
        await find_pg_tool("pg_dump", 99)


async def test_a_broken_dump_changes_nothing(world, tmp_path):
    await listed_product(world.staff, world.operator)
    archive = await create_backup(tmp_path)
    before = await _snapshot()
    broken = tmp_path / "broken.tar"
    with tarfile.open(archive) as source, tarfile.open(broken, "w") as target:
        manifest = source.getmember("manifest.json")
        target.addfile(manifest, source.extractfile(manifest))
        dump = source.getmember("database.dump")
        data = source.extractfile(dump).read()
        # The table of contents stays readable; the data after it is cut off.
        dump.size = len(data) // 2
        target.addfile(dump, io.BytesIO(data[: dump.size]))
    with pytest.raises(BackupError):
        await restore_backup(broken)
    assert await _snapshot() == before
    assert await Product.count() == 1
