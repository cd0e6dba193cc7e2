"""Pages offer exactly the actions the transition table allows for the state and the role;
a transition that is no longer allowed answers 409 with the page and its message."""

from __future__ import annotations

from marketplace import jobs
from marketplace.applications.tables import Application
from marketplace.products.services import save_product, submit_for_review
from marketplace.products.tables import Product
from marketplace.products.validation import parse_product_input
from tests import factories
from tests.factories import PRODUCT_FORM, application_form, listed_product
from tests.fixtures import apply_form_secrets, login, soup


def _buttons(response, name: str) -> list[str]:
    """The values of the submit buttons named `name` on the page, in page order."""
    return [b["value"] for b in soup(response).select(f"button[type=submit][name={name}]")]


def _listing_actions(response) -> list[str]:
    page = soup(response)
    return [i["value"] for i in page.select("form[action$='/listing'] input[name=action]")]


async def _delivered_lead(client, world) -> int:
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    response = await client.submit(f"/products/{product_id}/apply", application_form(**hidden))
    assert response.status_code == 303
    await jobs.run_until_idle()
    await client.post("/logout", data={"_csrf_token": await client.csrf_token()})
    application = await Application.objects().first()
    assert application.status == "delivered"
    return application.id


async def test_lead_page_offers_the_moves_of_its_state_to_those_who_work_leads(client, world):
    lead_id = await _delivered_lead(client, world)
    url = f"/console/leads/{lead_id}"
    await factories.user("staff", "officer@test-bank.example", "loan_officer", world.bank_id)
    await factories.user("staff", "risk@test-bank.example", "risk_officer", world.bank_id)

    await login(client, "/console/login", "officer@test-bank.example")
    # Rejecting and asking for documents have their own forms (test_lead_decisions.py).
    first = await client.get(url)
    assert _buttons(first, "action") == ["review"]
    assert soup(first).select_one(f"form[action='{url}/reject']") is not None
    assert (await client.submit(f"{url}/status", {"action": "review"})).status_code == 303
    page = await client.get(url)
    # Approving is sending an offer: a form of its own (test_offers.py), no move button.
    assert _buttons(page, "action") == []
    assert soup(page).select_one(f"a[href='{url}/offer']") is not None
    offer = {
        "amount": "50000",
        "term_months": "12",
        "repayment_method": "equal_installment",
        "rate": "7.2",
        "rate_period": "year",
    }
    assert (await client.submit(f"{url}/offer", offer)).status_code == 303

    done = await client.get(url)
    assert _buttons(done, "action") == []
    assert "无需进一步处理" in done.text
    await client.post("/console/logout", data={"_csrf_token": await client.csrf_token()})

    # Viewing leads is not working them: no buttons, and the verb refuses the same way.
    await Application.update({Application.status: "reviewing"}).where(Application.id == lead_id)
    await login(client, "/console/login", "risk@test-bank.example")
    assert _buttons(await client.get(url), "action") == []
    assert (await client.submit(f"{url}/status", {"action": "approve"})).status_code == 403


async def test_a_stale_lead_move_answers_409_with_the_page_and_why(client, world):
    lead_id = await _delivered_lead(client, world)
    url = f"/console/leads/{lead_id}"
    await login(client, "/console/login", "staff@test-bank.example")
    assert (await client.submit(f"{url}/reject", {"reason": "income"})).status_code == 303

    for action in ("review", "accept", "deliver", "rejected", ""):
        response = await client.submit(f"{url}/status", {"action": action})
        assert response.status_code == 409, action
        page = soup(response)
        assert page.select_one("h1") is not None, "the lead page itself, re-rendered"
        assert "当前状态不能执行该操作" in response.text and "已拒绝" in response.text
        assert _buttons(response, "action") == []
    assert (await Application.objects().first()).status == "rejected"


async def test_product_page_offers_the_actions_of_its_state_and_role(client, world):
    product_id = await listed_product(world.staff, world.operator)
    url = f"/console/products/{product_id}"
    await factories.user("staff", "officer@test-bank.example", "loan_officer", world.bank_id)

    await login(client, "/console/login", "staff@test-bank.example")
    listed = await client.get(url)
    assert _listing_actions(listed) == ["pause", "delist"]
    assert not soup(listed).select(f"a[href='{url}/edit']"), "a listed product is paused first"
    assert not soup(listed).select("form[action$='/submit']")

    assert (await client.submit(f"{url}/listing", {"action": "pause"})).status_code == 303
    paused = await client.get(url)
    assert _listing_actions(paused) == ["resume", "delist"]
    assert soup(paused).select(f"a[href='{url}/edit']")

    assert (await client.submit(f"{url}/listing", {"action": "delist"})).status_code == 303
    delisted = await client.get(url)
    assert _listing_actions(delisted) == []
    assert not soup(delisted).select(f"a[href='{url}/edit']")
    assert "不能再恢复" in delisted.text
    await client.post("/console/logout", data={"_csrf_token": await client.csrf_token()})

    draft_id = await save_product(world.staff, None, parse_product_input(PRODUCT_FORM))
    await login(client, "/console/login", "officer@test-bank.example")
    for product in (product_id, draft_id):
        page = await client.get(f"/console/products/{product}")
        assert page.status_code == 200
        assert _listing_actions(page) == [], "a loan officer neither pauses nor delists"
        assert not soup(page).select("form[action$='/submit']")
        assert not soup(page).select(f"a[href='/console/products/{product}/edit']")


async def test_draft_offers_submit_and_edit(client, world):
    draft_id = await save_product(world.staff, None, parse_product_input(PRODUCT_FORM))
    await login(client, "/console/login", "staff@test-bank.example")
    page = soup(await client.get(f"/console/products/{draft_id}"))
    assert page.select(f"form[action='/console/products/{draft_id}/submit'] button")
    assert page.select(f"a[href='/console/products/{draft_id}/edit']")
    assert not page.select("form[action$='/listing']")


async def test_a_wrong_product_transition_answers_409_with_the_page(client, world):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/console/login", "staff@test-bank.example")
    for action in ("resume", "approve", "edit", "bogus"):
        response = await client.submit(
            f"/console/products/{product_id}/listing", {"action": action}
        )
        assert response.status_code == 409, action
        assert soup(response).select_one("h1").get_text(strip=True) == "安居装修贷"
    response = await client.submit(f"/console/products/{product_id}/submit")
    assert response.status_code == 409
    assert "当前状态不能执行该操作" in response.text and "已上架" in response.text
    assert (await Product.objects().first()).status == "listed"


async def test_review_page_offers_decisions_only_while_pending(client, world):
    product_id = await save_product(world.staff, None, parse_product_input(PRODUCT_FORM))
    await submit_for_review(world.staff, product_id, acknowledge_high_cost=True)
    url = f"/admin/reviews/products/{product_id}"
    await login(client, "/admin/login", "reviewer@loanmart.example")
    assert _buttons(await client.get(url), "decision") == ["approve", "reject"]
    assert (await client.submit(url, {"decision": "approve"})).status_code == 303

    decided = await client.get(url)
    assert _buttons(decided, "decision") == []
    assert "不在待审核状态" in decided.text
    again = await client.submit(url, {"decision": "reject", "note": "重复提交"})
    assert again.status_code == 409
    assert "当前状态不能执行该操作" in again.text
    assert (await Product.objects().first()).status == "listed"
    await client.post("/admin/logout", data={"_csrf_token": await client.csrf_token()})

    # An auditor reads the audit log; review decisions are not theirs to see or take.
    await login(client, "/admin/login", "auditor@loanmart.example")
    assert (await client.get(url)).status_code == 403


async def test_dashboard_points_at_the_leads_waiting(client, world):
    await _delivered_lead(client, world)
    await login(client, "/console/login", "staff@test-bank.example")
    page = soup(await client.get("/console/"))
    waiting = page.select("a.stat-link--attention")
    assert [a["href"] for a in waiting] == ["/console/leads?status=delivered"]
    assert "1" in waiting[0].get_text()
    assert "有 1 条新线索等待处理" in page.get_text()
    filtered = await client.get(waiting[0]["href"])
    assert len(soup(filtered).select("#lead-rows tbody tr")) == 1
