"""Issue 6 §7: the smaller defects, each tried the way it was found."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from marketplace import jobs
from marketplace.applications import services as application_services
from marketplace.applications.tables import Application
from marketplace.products.services import (
    change_listing,
    review_product,
    save_product,
    submit_for_review,
)
from marketplace.products.tables import Product, ProductRevision
from marketplace.products.validation import parse_product_input
from server.pagination import pagination
from tests import factories
from tests.factories import PRODUCT_FORM, application_form
from tests.fixtures import apply_form_secrets, login, soup


async def _version(product_id: int) -> int:
    return (await Product.select(Product.version).where(Product.id == product_id).first())[
        "version"
    ]


# -- a reviewer sees only what was submitted -----------------------------------------------


async def test_reviewer_gets_404_for_another_institutions_unsubmitted_draft(client, world):
    draft = await save_product(world.other_staff, None, parse_product_input(PRODUCT_FORM))
    await login(client, "/admin/login", "reviewer@loanmart.example")
    assert (await client.get(f"/admin/reviews/products/{draft}")).status_code == 404
    await client.submit(f"/admin/reviews/products/{draft}", {"decision": "approve"})
    assert (await Product.objects().get(Product.id == draft)).status == "draft"

    await submit_for_review(world.other_staff, draft, acknowledge_high_cost=True)
    submitted = await client.get(f"/admin/reviews/products/{draft}")
    assert submitted.status_code == 200 and "安居装修贷" in submitted.text

    # Edits to a listed product are work in progress again until they are resubmitted.
    await review_product(world.operator, draft, approve=True, note="")
    await change_listing(world.other_staff, draft, "pause")
    edited = parse_product_input({**PRODUCT_FORM, "name": "安居装修贷二期"})
    await save_product(world.other_staff, draft, edited)
    unsent = await client.get(f"/admin/reviews/products/{draft}")
    assert unsent.status_code == 404 and "二期" not in unsent.text


# -- the 403 page fits who sees it ---------------------------------------------------------


async def test_forbidden_page_tells_a_signed_in_user_whom_to_ask(client, world):
    await factories.user(
        "staff", "officer@test-bank.example", "loan_officer", world.bank_id, "赵刚"
    )
    await login(client, "/console/login", "officer@test-bank.example")
    refused = await client.get("/console/products/new")
    assert refused.status_code == 403
    page = soup(refused)
    message = page.select_one(".error-page__message").get_text(strip=True)
    assert "您的账号没有该权限" in message and "本机构的管理员" in message
    assert "登录" not in page.select_one(".error-page").get_text()
    assert [a["href"] for a in page.select(".error-page__actions a")] == ["/console"]
    assert "赵刚" in page.select_one(".account-menu").get_text(), "the header knows who this is"


async def test_forbidden_page_for_an_operator_names_the_super_admin(client, world):
    await login(client, "/admin/login", "auditor@loanmart.example")
    refused = await client.get("/admin/reviews/products")
    assert refused.status_code == 403
    assert "超级管理员" in soup(refused).select_one(".error-page__message").get_text()


async def test_a_refused_form_says_why_instead_of_asking_to_sign_in(client, world):
    response = await client.post(
        "/login", data={"login": world.borrower_mobile, "password": factories.PASSWORD}
    )
    assert response.status_code == 403
    message = soup(response).select_one(".error-page__message").get_text(strip=True)
    assert "页面已过期" in message and "没有该权限" not in message


# -- a page past the end -------------------------------------------------------------------


def test_pagination_knows_a_page_past_the_end():
    assert not pagination("/admin/audit", {}, 3, 101, 50)["past_end"]
    assert pagination("/admin/audit", {}, 4, 101, 50)["past_end"]
    assert not pagination("/console/leads", {}, 1, 0, 20)["past_end"], "page 1 is never past"
    assert pagination("/console/leads", {}, 2, 0, 20)["past_end"]


def _past_end_shown(response, empty_title: str, first_page: str) -> None:
    assert response.status_code == 200
    page = soup(response)
    state = page.select_one(".empty-state")
    assert state is not None and "没有更多结果了" in state.get_text()
    assert empty_title not in response.text, "no 'nothing here' state beside a total"
    assert state.select_one("a")["href"] == first_page


async def test_every_paged_list_says_no_more_results_past_its_end(client, world):
    product_id = await factories.listed_product(world.staff, world.operator)
    await jobs.run_until_idle()

    listing = await client.get("/products", params={"page": "7", "category": "consumer"})
    _past_end_shown(listing, "没有找到符合条件的产品", "/products?category=consumer&page=1")
    first = await client.get("/products", params={"category": "consumer"})
    assert f"/products/{product_id}" in first.text and "没有更多结果了" not in first.text

    await login(client, "/admin/login", "auditor@loanmart.example")
    audit = await client.get("/admin/audit", params={"page": "9", "q": "product"})
    _past_end_shown(audit, "没有匹配的记录", "/admin/audit?q=product&page=1")
    assert "没有更多结果了" not in (await client.get("/admin/audit?q=product")).text

    client.cookies.clear()
    await login(client, "/console/login", "staff@test-bank.example")
    leads = await client.get("/console/leads", params={"page": "3"})
    _past_end_shown(leads, "还没有线索", "/console/leads?page=1")
    fragment = await client.get("/console/leads?page=3", headers={"HX-Request": "true"})
    assert "没有更多结果了" in fragment.text and "还没有线索" not in fragment.text


# -- version numbers count listed revisions without gaps -----------------------------------


async def test_versions_do_not_skip_and_only_editing_a_listed_version_starts_the_next(world):
    staff, reviewer = world.staff, world.operator
    product_id = await save_product(staff, None, parse_product_input(PRODUCT_FORM))
    assert await _version(product_id) == 1
    await submit_for_review(staff, product_id, acknowledge_high_cost=True)
    assert await _version(product_id) == 1, "submitting does not bump the version"

    await review_product(reviewer, product_id, approve=False, note="请补充费用说明")
    await save_product(staff, product_id, parse_product_input(PRODUCT_FORM))
    await submit_for_review(staff, product_id, acknowledge_high_cost=True)
    await review_product(reviewer, product_id, approve=True, note="")
    assert await _version(product_id) == 1, "a rejected draft does not use up a number"

    await change_listing(staff, product_id, "pause")
    await change_listing(staff, product_id, "resume")  # the same terms back through review
    await review_product(reviewer, product_id, approve=True, note="")
    assert await _version(product_id) == 1

    # Version 1 was listed: however the product got back to editable, edits are version 2.
    await change_listing(staff, product_id, "pause")
    await change_listing(staff, product_id, "resume")
    await review_product(reviewer, product_id, approve=False, note="请更新宣传图")
    await save_product(staff, product_id, parse_product_input({**PRODUCT_FORM, "rate": "6.9"}))
    await save_product(staff, product_id, parse_product_input({**PRODUCT_FORM, "rate": "6.8"}))
    assert await _version(product_id) == 2, "editing listed terms starts version 2, once"
    await submit_for_review(staff, product_id, acknowledge_high_cost=True)
    await review_product(reviewer, product_id, approve=True, note="")
    assert await _version(product_id) == 2

    revisions = await ProductRevision.select(
        ProductRevision.version, ProductRevision.snapshot
    ).order_by(ProductRevision.version)
    assert [row["version"] for row in revisions] == [1, 2]
    rates = [json.loads(row["snapshot"])["rate"] for row in revisions]
    assert [Decimal(rate) * 100 for rate in rates] == [Decimal("7.2"), Decimal("6.8")]


# -- application references never clash into a 500 -----------------------------------------

REFERENCE = re.compile(r"LM\d{6}[0-9A-HJKMNP-TV-Z]{10}")


async def _apply(client, product_id: int):
    hidden = await apply_form_secrets(client, product_id)
    return await client.submit(f"/products/{product_id}/apply", application_form(**hidden))


async def test_a_reference_clash_takes_another_reference(client, world, monkeypatch):
    first_product = await factories.listed_product(world.staff, world.operator)
    second_product = await factories.listed_product(world.staff, world.operator, name="安居车贷")
    await login(client, "/login", world.borrower_mobile)

    first = await _apply(client, first_product)
    assert first.status_code == 303
    taken = (await Application.objects().first()).reference
    assert REFERENCE.fullmatch(taken), taken

    fresh = "LM260101ABCDEFGH23"
    tries = iter([taken, taken, fresh])
    monkeypatch.setattr(application_services, "_reference", lambda: next(tries))
    second = await _apply(client, second_product)
    assert second.status_code == 303, second.text[:300]
    assert second.headers["location"].endswith(fresh)
    references = {row["reference"] for row in await Application.select(Application.reference)}
    assert references == {taken, fresh}


def test_references_use_an_unambiguous_alphabet_and_vary():
    references = {application_services._reference() for _attempt in range(200)}
    assert len(references) == 200
    assert all(REFERENCE.fullmatch(reference) for reference in references)
