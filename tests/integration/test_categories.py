"""Operators create, rename, reorder and hide categories; codes stay, so filters keep
working; a hidden category is not offered to products, except the one a product has."""

from __future__ import annotations

import asyncio

import pytest

from marketplace import jobs
from marketplace.audit.tables import AuditEntry
from marketplace.categories.queries import category_labels
from marketplace.categories.services import create_category, update_category
from marketplace.categories.tables import ProductCategory
from marketplace.errors import DomainError, PermissionDenied
from marketplace.products.search_port import SearchQuery, backend
from marketplace.products.services import save_product
from marketplace.products.tables import Product
from marketplace.products.validation import parse_product_input
from marketplace.products.versions import diff_snapshots
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
        page = soup(response)
        # The summary leads to the refused row's input, not the creation form's.
        link = page.select_one(".error-summary a")["href"]
        assert link.startswith("#f-category-consumer-"), link
        assert page.select_one(link).get("aria-invalid") == "true"
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


async def test_operators_create_a_category_products_can_use_at_once(client, staff_client, world):
    await login(client, "/admin/login", "reviewer@loanmart.example")
    page = soup(await client.get("/admin/categories"))
    assert page.select_one("form[action='/admin/categories'] input[name=code]")
    response = await client.submit(
        "/admin/categories", {"code": "student", "name": "学生贷", "position": "6", "active": "1"}
    )
    assert response.status_code == 303, response.text[:500]
    entry = await AuditEntry.select().where(AuditEntry.action == "category.create").first()
    assert entry["object_id"] == "student"
    page = soup(await client.get("/admin/categories"))
    assert [th.text for th in page.select("tbody th code")][-1] == "student"

    # Institutions may choose it; its product is listed and filtered under it.
    await login(staff_client, "/console/login", "staff@test-bank.example")
    form = soup(await staff_client.get("/console/products/new"))
    options = {o["value"]: o.text for o in form.select("#f-category option") if o["value"]}
    assert options["student"] == "学生贷"
    product = await factories.listed_product(
        world.staff, world.operator, name="助学分期", category="student"
    )
    await jobs.run_until_idle()
    listing = soup(await client.get("/products?category=student"))
    assert [a["href"] for a in listing.select("#results article h2 a")] == [f"/products/{product}"]
    assert "学生贷" in soup(await client.get("/")).select_one(".category-links").text
    assert "学生贷" in (await client.get(f"/products/{product}")).text
    hits = (await backend().search(SearchQuery(text="学生贷"))).hits
    assert [hit.id for hit in hits] == [product]
    # Version differences name it too.
    names = await category_labels(active_only=False)
    [row] = [
        r
        for r in diff_snapshots({"category": "consumer"}, {"category": "student"}, names)
        if r.label == "产品类别"
    ]
    assert (row.old, row.new, row.changed) == ("消费贷", "学生贷", True)

    # It is edited like a shipped one (renamed, hidden), and audited.
    response = await client.submit("/admin/categories/student", {"name": "校园贷", "position": "6"})
    assert response.status_code == 303
    assert await AuditEntry.exists().where(
        (AuditEntry.action == "category.update") & (AuditEntry.object_id == "student")
    )
    form = soup(await staff_client.get("/console/products/new"))
    assert "student" not in [o["value"] for o in form.select("#f-category option")]


async def test_a_hidden_category_is_not_offered_but_a_product_keeps_its_own(
    client, staff_client, world
):
    # Drafts: the institution is still working on them.
    car = await save_product(
        world.staff, None, parse_product_input({**factories.PRODUCT_FORM, "category": "car"})
    )
    consumer = await save_product(world.staff, None, parse_product_input(factories.PRODUCT_FORM))
    await update_category(world.operator, "car", name="车贷", position=3, active=False)
    await login(staff_client, "/console/login", "staff@test-bank.example")

    new = soup(await staff_client.get("/console/products/new"))
    assert "car" not in [o["value"] for o in new.select("#f-category option")]
    edit = soup(await staff_client.get(f"/console/products/{car}/edit"))
    kept = edit.select_one("#f-category option[value=car]")
    assert kept is not None and kept.has_attr("selected") and kept.text == "车贷（已隐藏）"
    other = soup(await staff_client.get(f"/console/products/{consumer}/edit"))
    assert "car" not in [o["value"] for o in other.select("#f-category option")]

    # Saving the product keeps its category; nothing else may be moved into it.
    form = {**factories.PRODUCT_FORM, "category": "car", "summary": "车贷分期，线上申请"}
    response = await staff_client.submit(f"/console/products/{car}/edit", form)
    assert response.status_code == 303, response.text[:500]
    assert (await Product.select(Product.category).where(Product.id == car).first()) == {
        "category": "car"
    }
    for url in ("/console/products/new", f"/console/products/{consumer}/edit"):
        response = await staff_client.submit(url, form)
        assert response.status_code == 400, url
        page = soup(response)
        assert page.select_one("#f-category").get("aria-invalid") == "true"
        assert page.select_one("#f-name")["value"] == form["name"]
    assert await Product.count() == 2
    # The service holds the rule too, whoever calls it.
    with pytest.raises(DomainError):
        await save_product(world.staff, consumer, parse_product_input(form))


HOSTILE_CODES = [
    "",
    "a",
    "Student",
    "1student",
    "_student",
    "stu-dent",
    "stu dent",
    "stu\x00dent",
    "学生",
    "ｓｔｕｄｅｎｔ",  # full-width letters
    "student😀",
    "x" * 31,
    "x" * 20_000,
    "consumer",  # a shipped code
    "<script>",
]


@pytest.mark.parametrize("code", HOSTILE_CODES)
async def test_hostile_category_codes_are_refused_with_what_was_typed(client, world, code):
    await login(client, "/admin/login", "reviewer@loanmart.example")
    response = await client.submit(
        "/admin/categories", {"code": code, "name": "学生贷", "position": "6", "active": "1"}
    )
    assert response.status_code == 400, code
    page = soup(response)
    assert page.select_one(".error-summary")
    assert page.select_one("#f-code").get("aria-invalid") == "true"
    assert page.select_one("#f-name")["value"] == "学生贷"
    assert not await AuditEntry.exists().where(AuditEntry.action == "category.create")
    assert await ProductCategory.count() == 0


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "长" * 21}, "name"),
        ({"name": "学生\x00贷"}, "name"),
        ({"name": "经营贷"}, "name"),  # a shipped category's name
        ({"position": "0"}, "position"),
        ({"position": "100"}, "position"),
        ({"position": "-1"}, "position"),
        ({"position": "１"}, "position"),
        ({"position": "9" * 400}, "position"),
    ],
)
async def test_hostile_new_category_settings(client, world, form, field):
    await login(client, "/admin/login", "reviewer@loanmart.example")
    typed = {"code": "student", "name": "学生贷", "position": "6", **form}
    response = await client.submit("/admin/categories", typed)
    assert response.status_code == 400, form
    page = soup(response)
    assert page.select_one(f"#f-{field}").get("aria-invalid") == "true"
    assert page.select_one("#f-code")["value"] == "student"
    assert await ProductCategory.count() == 0


async def test_one_code_created_in_parallel_has_one_winner(world):
    results = await asyncio.gather(
        *(
            create_category(world.operator, "student", name=f"学生贷{n}", position=6, active=True)
            for n in range(4)
        ),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, DomainError) and r.field == "code" for r in results if r is not None)
    assert await ProductCategory.count().where(ProductCategory.code == "student") == 1
    assert await AuditEntry.count().where(AuditEntry.action == "category.create") == 1


async def test_two_codes_created_in_parallel_with_one_name_have_one_winner(world):
    results = await asyncio.gather(
        create_category(world.operator, "student", name="学生贷", position=6, active=True),
        create_category(world.operator, "campus", name="学生贷", position=7, active=True),
        return_exceptions=True,
    )
    assert sum(isinstance(r, DomainError) for r in results) == 1
    assert await ProductCategory.count() == 1


async def test_staff_cannot_create_categories(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.submit(
        "/admin/categories", {"code": "student", "name": "学生贷", "position": "6"}
    )
    assert response.status_code in (302, 303, 401, 403)
    with pytest.raises(PermissionDenied):
        await create_category(world.staff, "student", name="学生贷", position=6, active=True)
    assert await ProductCategory.count() == 0
