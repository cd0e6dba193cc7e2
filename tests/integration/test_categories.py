"""Operators rename, reorder and hide categories; codes stay, so filters keep working."""

from __future__ import annotations

import asyncio

from marketplace import jobs
from marketplace.audit.tables import AuditEntry
from marketplace.categories.services import update_category
from marketplace.errors import DomainError
from marketplace.products.search_port import SearchQuery, backend
from tests import factories
from tests.fixtures import login, soup


async def test_rename_keeps_filters_and_shows_everywhere(client, world):
    consumer = await factories.listed_product(world.staff, world.operator, name="安居装修贷")
    car = await factories.listed_product(
        world.staff, world.operator, name="速达车贷", category="car"
    )
    await jobs.run_until_idle()
    await login(client, "/admin/login", "reviewer@loanmart.example")
    page = soup(await client.get("/admin/categories"))
    assert [th.text for th in page.select("tbody th code")][:2] == ["consumer", "business"]
    response = await client.submit(
        "/admin/categories/consumer", {"name": "白领专享", "position": "9", "active": "1"}
    )
    assert response.status_code == 303, response.text[:500]
    entry = await AuditEntry.select().where(AuditEntry.action == "category.update").first()
    assert entry["object_id"] == "consumer"
    assert await jobs.run_until_idle() >= 1  # the category's products are reindexed

    listing = soup(await client.get("/products?category=consumer"))
    assert [a["href"] for a in listing.select("#results article h2 a")] == [f"/products/{consumer}"]
    options = listing.select("select[name=category] option")
    assert options[-1]["value"] == "consumer" and options[-1].text == "白领专享", "moved last"
    assert "白领专享" in soup(await client.get("/")).select_one(".category-links").text
    assert "白领专享" in (await client.get(f"/products/{consumer}")).text
    hits = (await backend().search(SearchQuery(text="白领专享"))).hits
    assert [hit.id for hit in hits] == [consumer]

    # Hidden: gone from browsing, its products still listed; a stale filter URL shows all.
    response = await client.submit("/admin/categories/car", {"name": "车贷", "position": "3"})
    assert response.status_code == 303
    listing = soup(await client.get("/products?category=car"))
    assert "car" not in [o["value"] for o in listing.select("select[name=category] option")]
    assert {a["href"] for a in listing.select("#results article h2 a")} == {
        f"/products/{consumer}",
        f"/products/{car}",
    }


async def test_hostile_category_edits(client, world):
    await login(client, "/admin/login", "reviewer@loanmart.example")
    for form in (
        {"name": "", "position": "1"},
        {"name": "长" * 21, "position": "1"},
        {"name": "消费贷", "position": "１"},
        {"name": "消费贷", "position": "100"},
        {"name": "经营贷", "position": "1"},  # another category's name
    ):
        response = await client.submit("/admin/categories/consumer", form)
        assert response.status_code == 400, form
        assert soup(response).select_one(".error-summary")
    response = await client.submit("/admin/categories/nope", {"name": "新类别", "position": "1"})
    assert response.status_code == 404
    assert not await AuditEntry.exists().where(AuditEntry.action == "category.update")


async def test_parallel_renames_to_one_name_leave_one_winner(world):
    operator = world.operator
    results = await asyncio.gather(
        update_category(operator, "consumer", name="小额贷", position=1, active=True),
        update_category(operator, "business", name="小额贷", position=2, active=True),
        return_exceptions=True,
    )
    assert sum(isinstance(r, DomainError) for r in results) == 1


async def test_staff_cannot_manage_categories(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.submit("/admin/categories/consumer", {"name": "x", "position": "1"})
    assert response.status_code in (302, 303, 401, 403)
    assert not await AuditEntry.exists().where(AuditEntry.action == "category.update")
