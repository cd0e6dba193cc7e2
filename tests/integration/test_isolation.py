"""The suite must run on its own fresh database, never on the server's default one."""

from __future__ import annotations

from marketplace.db import engine
from tests.conftest import TEST_DATABASE


async def test_suite_uses_its_own_database():
    rows = await engine().run_ddl("SELECT current_database() AS name")
    assert rows[0]["name"] == TEST_DATABASE


def test_suite_keeps_its_search_index_out_of_the_demo_data():
    from marketplace.settings import PROJECT_ROOT, settings

    assert not settings.search_dir.is_relative_to(PROJECT_ROOT / "var")
    assert not settings.demo_mode
