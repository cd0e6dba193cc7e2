"""The suite must run on its own fresh database, never on the server's default one."""

from __future__ import annotations

from marketplace.db import engine
from tests.conftest import TEST_DATABASE


async def test_suite_uses_its_own_database():
    rows = await engine().run_ddl("SELECT current_database() AS name")
    assert rows[0]["name"] == TEST_DATABASE
