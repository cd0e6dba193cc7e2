"""Journey steps 4–6: a borrower applies with consent; the institution works the lead;
another institution cannot see it."""

from __future__ import annotations

import re

from marketplace import jobs
from marketplace.accounts.tables import BorrowerProfile
from marketplace.applications.tables import Application
from marketplace.consents.tables import Consent
from marketplace.outbox.tables import OutboxMessage
from marketplace.products.services import change_listing
from tests.factories import application_form, listed_product, valid_id_number
from tests.fixtures import login, soup


async def _apply_page(client, product_id):
    page = await client.get(f"/products/{product_id}/apply")
    assert page.status_code == 200
    form = soup(page)
    return {
        "notice_digest": form.select_one("input[name=notice_digest]")["value"],
        "submission_key": form.select_one("input[name=submission_key]")["value"],
    }, page


async def test_apply_once_with_consent_and_follow_the_lead(client, world):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden, page = await _apply_page(client, product_id)
    assert "测试银行" in page.text and "单独同意" in page.text
    consent_box = soup(page).select_one("input[name=consent]")
    assert not consent_box.has_attr("checked"), "consent is never pre-ticked"

    form = application_form(**hidden)
    first = await client.submit(f"/products/{product_id}/apply", form)
    second = await client.submit(f"/products/{product_id}/apply", form)  # double click / resend
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert await Application.count() == 1
    application = await Application.objects().first()
    consent = await Consent.objects().first()
    assert consent.institution == world.bank_id
    assert consent.notice_hash == hidden["notice_digest"]
    assert application.consent == consent.id

    # Personal data is ciphertext at rest and absent from job payloads.
    id_number = form["id_number"]
    profile = await BorrowerProfile.objects().first()
    assert id_number not in profile.id_number_encrypted
    assert profile.id_number_masked == id_number[:3] + "*" * 11 + id_number[-4:]
    assert id_number not in application.shared_data_encrypted
    payloads = [m["payload"] for m in await OutboxMessage.select(OutboxMessage.payload)]
    assert all(id_number not in str(p) and "张伟" not in str(p) for p in payloads)

    timeline = await client.get(first.headers["location"])
    assert "已提交" in timeline.text

    await jobs.run_until_idle()
    assert (await Application.objects().first()).status == "delivered"

    await client.post("/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/console/login", "staff@test-bank.example")
    inbox = await client.get("/console/leads")
    assert application.reference in inbox.text
    lead = await client.get(f"/console/leads/{application.id}")
    assert lead.status_code == 200
    assert id_number not in lead.text
    assert id_number[:3] + "*" * 11 + id_number[-4:] in lead.text
    assert "张伟" in lead.text and "北京" in lead.text

    response = await client.submit(f"/console/leads/{application.id}/status", {"action": "review"})
    assert response.status_code == 303
    offer = {
        "amount": "50000",
        "term_months": "12",
        "repayment_method": "equal_installment",
        "rate": "7.2",
        "rate_period": "year",
    }
    response = await client.submit(f"/console/leads/{application.id}/offer", offer)
    assert response.status_code == 303
    assert (await Application.objects().first()).status == "approved"
    illegal = await client.submit(f"/console/leads/{application.id}/status", {"action": "review"})
    assert illegal.status_code == 409

    await client.post("/console/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/login", world.borrower_mobile)
    timeline = await client.get(first.headers["location"])
    labels = [item.get_text(" ", strip=True) for item in soup(timeline).select(".timeline__item")]
    assert any("审核中" in label for label in labels)
    assert any("已批复" in label for label in labels)


async def test_other_institution_gets_404(client, world):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden, _ = await _apply_page(client, product_id)
    await client.submit(f"/products/{product_id}/apply", application_form(**hidden))
    await jobs.run_until_idle()
    application = await Application.objects().first()
    await client.post("/logout", data={"_csrf_token": await client.csrf_token()})

    await login(client, "/console/login", "staff@other-bank.example")
    assert (await client.get(f"/console/leads/{application.id}")).status_code == 404
    moved = await client.submit(f"/console/leads/{application.id}/status", {"action": "review"})
    assert moved.status_code == 404
    inbox = await client.get("/console/leads")
    assert application.reference not in inbox.text
    assert (await Application.objects().first()).status == "delivered"


async def test_errors_are_shown_and_input_kept(client, world):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden, _ = await _apply_page(client, product_id)
    bad_id = valid_id_number()[:-1] + ("0" if valid_id_number()[-1] != "0" else "1")
    form = application_form(**hidden, id_number=bad_id, consent="", city="拉萨")
    response = await client.submit(f"/products/{product_id}/apply", form)
    assert response.status_code == 400
    page = soup(response)
    assert "校验位" in response.text
    assert "同意" in page.select_one(".error-summary").get_text()
    assert page.select_one("input[name=real_name]")["value"] == "张伟"
    assert page.select_one("input[name=id_number]")["value"] == bad_id
    assert page.select_one("input[name=submission_key]")["value"] == hidden["submission_key"]
    assert await Application.count() == 0


async def test_eligibility_and_duplicate_guard(client, world):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden, _ = await _apply_page(client, product_id)
    too_old = application_form(**hidden, id_number=valid_id_number(birth="19600101"))
    response = await client.submit(f"/products/{product_id}/apply", too_old)
    assert response.status_code == 400
    assert re.search(r"22至55周岁", response.text)

    ok = await client.submit(f"/products/{product_id}/apply", application_form(**hidden))
    assert ok.status_code == 303
    again, _ = await _apply_page(client, product_id)
    duplicate = await client.submit(f"/products/{product_id}/apply", application_form(**again))
    assert duplicate.status_code == 400
    assert "已申请过该产品" in duplicate.text
    assert await Application.count() == 1


async def test_a_product_delisted_after_a_submission_read_it_takes_no_more(client, world):
    """The submission reads the product from the catalogue cache: a delisting must reach it."""
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden, _ = await _apply_page(client, product_id)
    too_old = application_form(**hidden, id_number=valid_id_number(birth="19600101"))
    assert (await client.submit(f"/products/{product_id}/apply", too_old)).status_code == 400
    await change_listing(world.staff, product_id, "delist")
    response = await client.submit(f"/products/{product_id}/apply", application_form(**hidden))
    assert response.status_code == 404
    assert await Application.count() == 0


async def test_applying_needs_a_borrower_login(client, world):
    product_id = await listed_product(world.staff, world.operator)
    response = await client.get(f"/products/{product_id}/apply?amount=50000&term=12")
    assert response.status_code == 303
    login_url = response.headers["location"]
    assert login_url.startswith("/login?next=")
    next_url = soup(await client.get(login_url)).select_one("input[name=next]")["value"]
    assert next_url == f"/products/{product_id}/apply?amount=50000&term=12"
    await client.submit(
        "/login", {"login": world.borrower_mobile, "password": "Passw0rd!", "next": next_url}
    )
    form = soup(await client.get(next_url))
    assert form.select_one("input[name=amount]")["value"] == "50000"
