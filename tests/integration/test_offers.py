"""Approving with an offer (issue 7, I3/P6): the officer previews the cost engine's APR and
schedule, offers outside the product or above the block line are refused with every typed
value kept, approving without an offer is impossible; the borrower compares every open
offer by APR, declines or withdraws with one click and no data flows afterwards."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace.applications.tables import Application
from marketplace.consents.tables import Consent
from marketplace.loancalc import quote
from marketplace.money import format_rate
from marketplace.offers.jobs import expire_open_offers
from marketplace.offers.tables import Offer
from tests import factories
from tests.fixtures import Client, delivered_application, login, soup

OFFER = {
    "amount": "40000",
    "term_months": "12",
    "repayment_method": "equal_installment",
    "rate": "8.4",
    "rate_period": "year",
    "fee_service_rate": "0.1",
}


async def _reviewing_lead(client: Client, world: factories.World) -> Application:
    """A lead the bank is reviewing; `client` ends signed in as the bank's admin."""
    application = await delivered_application(client, world)
    await client.submit("/logout")
    await login(client, "/console/login", "staff@test-bank.example")
    moved = await client.submit(
        f"/console/leads/{application.id}/status", {"action": "review", "note": ""}
    )
    assert moved.status_code == 303
    return application


async def test_the_officer_previews_the_engines_apr_and_sends_the_offer(client, world):
    lead = await _reviewing_lead(client, world)
    page = soup(await client.get(f"/console/leads/{lead.id}"))
    # The old approve button is gone; approving is the offer form.
    assert not page.select("button[name=action][value=approve]")
    assert page.select_one(f"a[href='/console/leads/{lead.id}/offer']")
    refused = await client.submit(
        f"/console/leads/{lead.id}/status", {"action": "approve", "note": ""}
    )
    assert refused.status_code == 400
    desk = soup(await client.get("/console/leads"))
    assert not desk.select("select[name=action] option[value=approve]"), "no bulk approve"
    bulk = await client.submit(
        "/console/leads/bulk-status", {"lead": str(lead.id), "action": "approve"}
    )
    assert bulk.status_code in (303, 400)
    assert (await Application.objects().get(Application.id == lead.id)).status == "reviewing"

    form = soup(await client.get(f"/console/leads/{lead.id}/offer"))
    assert form.select_one("input[name=amount]")["value"] == "50000.00"  # what was asked
    assert form.select_one("input[name=rate]")["value"] == "7.2"  # the product's rate
    asked = quote(Decimal(50000), 12, "equal_installment", Decimal("0.072"), "year")
    assert format_rate(asked.apr) in form.select_one("#offer-preview").text, "shown at once"

    plan = quote(
        Decimal(40000),
        12,
        "equal_installment",
        Decimal("0.084"),
        "year",
        [{"kind": "service", "timing": "per_period", "rate": "0.001"}],
    )
    preview = await client.submit(f"/console/leads/{lead.id}/offer/preview", OFFER)
    assert preview.status_code == 200
    assert f"{plan.apr * 100:.2f}" in preview.text
    nojs = await client.submit(f"/console/leads/{lead.id}/offer", {**OFFER, "preview": "1"})
    assert nojs.status_code == 200 and f"{plan.apr * 100:.2f}" in nojs.text
    assert await Offer.count() == 0, "a preview writes nothing"

    sent = await client.submit(f"/console/leads/{lead.id}/offer", OFFER)
    assert sent.status_code == 303
    offer = await Offer.objects().first()
    assert offer.status == "open" and offer.amount == Decimal("40000.00")
    assert offer.apr == plan.apr.quantize(Decimal("0.000001"))
    assert offer.first_payment == plan.first_payment
    assert offer.total_cost == plan.total_cost
    assert timedelta(days=6, hours=23) < offer.expires_at - datetime.now(UTC) <= timedelta(days=7)
    assert (await Application.objects().get(Application.id == lead.id)).status == "approved"
    again = await client.submit(f"/console/leads/{lead.id}/offer", OFFER)
    assert again.status_code == 409 and await Offer.count() == 1

    # The borrower sees the same APR as the engine's.
    await client.submit("/logout")
    await login(client, "/login", world.borrower_mobile)
    mine = soup(await client.get("/me/offers"))
    assert format_rate(plan.apr) in mine.select_one(f"#offer-{offer.id}").text


async def test_an_offer_outside_the_product_or_above_the_block_line_is_refused(client, world):
    lead = await _reviewing_lead(client, world)
    url = f"/console/leads/{lead.id}/offer"
    cases = {
        "amount": [
            "60000",
            "5000",
            "-1",
            "abc",
            "1e5",
            "４００００",
            "4\x000000",
            "💸",
            "9" * 400,
            "",
        ],
        "term_months": ["7", "0", "-12", "12.5", "x" * 5000, "\x00"],
        "rate": ["0", "-3", "101", "abc", "7.2\x00", "🙂"],
        "rate_period": ["week", "\x00", "y" * 300],
        "repayment_method": ["bullet", "", "<script>"],
        "fee_upfront_amount": ["-5", "abc"],
        "fee_service_rate": ["101", "-1", "x"],
    }
    for field, values in cases.items():
        for value in values:
            response = await client.submit(url, {**OFFER, field: value})
            assert response.status_code == 400, (field, value, response.status_code)
            page = soup(response)
            assert page.select_one(f"#f-{field}").get("aria-invalid") == "true", (field, value)
            kept = page.select_one("input[name=fee_service_rate]")["value"]
            assert kept == (value if field == "fee_service_rate" else "0.1"), "nothing lost"
    # 24% block line: 2%/period service fee pushes the all-in APR far above it.
    high = await client.submit(url, {**OFFER, "fee_service_rate": "2"})
    assert high.status_code == 400 and "超过平台上限" in high.text
    assert await Offer.count() == 0
    assert (await Application.objects().get(Application.id == lead.id)).status == "reviewing"


async def test_another_institution_cannot_offer_on_or_see_the_lead(client, world):
    lead = await _reviewing_lead(client, world)
    await client.submit("/logout")
    await login(client, "/console/login", "staff@other-bank.example")
    assert (await client.get(f"/console/leads/{lead.id}/offer")).status_code == 404
    assert (await client.submit(f"/console/leads/{lead.id}/offer", OFFER)).status_code == 404
    assert (await client.get(f"/console/leads/{lead.id}/contract")).status_code == 404
    assert await Offer.count() == 0


async def _offer(world: factories.World, bank_staff, rate: str, product_id=None) -> int:
    """An application of the borrower to `bank_staff`'s institution, approved with an offer
    through the verbs."""
    from marketplace.applications.services import move_lead
    from marketplace.offers.services import make_offer

    application_id = await factories.application_in(world, "delivered")
    if bank_staff.institution_id != world.bank_id:
        await Application.update({Application.institution: bank_staff.institution_id}).where(
            Application.id == application_id
        )
    await move_lead(bank_staff, application_id, "review")
    return await make_offer(bank_staff, application_id, {**OFFER, "rate": rate})


async def test_the_borrower_compares_offers_across_institutions_by_apr(client, world):
    dear = await _offer(world, world.staff, "9.6")
    cheap = await _offer(world, world.other_staff, "6.0")
    await login(client, "/login", world.borrower_mobile)
    home = soup(await client.get("/me/applications"))
    assert home.select_one("a[href='/me/offers']"), "linked from the navigation"
    page = soup(await client.get("/me/offers"))
    rows = [tr["id"] for tr in page.select("tr[id^=offer-]")]
    assert rows == [f"offer-{cheap}", f"offer-{dear}"]
    cheap_row = page.select_one(f"#offer-{cheap}").text
    assert "别家银行" in cheap_row and "剩余" in cheap_row

    # Past its expiry an offer is expired on the page before the cron has run.
    await Offer.update({Offer.expires_at: datetime.now(UTC) - timedelta(minutes=1)}).where(
        Offer.id == dear
    )
    page = soup(await client.get("/me/offers"))
    assert [tr["id"] for tr in page.select("tr[id^=offer-]")] == [f"offer-{cheap}", f"offer-{dear}"]
    assert "已过期" in page.select_one(f"#offer-{dear}").text
    assert await expire_open_offers() == 1
    assert await expire_open_offers() == 0, "idempotent"
    assert (await Offer.objects().get(Offer.id == dear)).status == "expired"
    assert (await Offer.objects().get(Offer.id == cheap)).status == "open"


async def test_declining_is_one_click_and_stops_data_flowing(client, staff_client, world):
    offer_id = await _offer(world, world.staff, "8.4")
    offer = await Offer.objects().get(Offer.id == offer_id)
    await login(client, "/login", world.borrower_mobile)
    confirm = soup(await client.get(f"/me/offers/{offer_id}/decline"))
    assert confirm.select_one(f"form[action='/me/offers/{offer_id}/decline']")
    assert (await client.submit(f"/me/offers/{offer_id}/decline")).status_code == 303
    assert (await Offer.objects().get(Offer.id == offer_id)).status == "declined"
    application = await Application.objects().get(Application.id == offer.application)
    assert application.status == "withdrawn"
    consent = await Consent.objects().get(Consent.id == application.consent)
    assert consent.withdrawn_at is not None
    again = await client.submit(f"/me/offers/{offer_id}/decline")
    assert again.status_code == 409

    await login(staff_client, "/console/login", "staff@test-bank.example")
    lead = await staff_client.get(f"/console/leads/{application.id}")
    assert "借款人已撤回授权" in lead.text
    assert "借款人婉拒了批复方案" in lead.text


async def test_withdrawing_before_signing_withdraws_the_open_offer(client, world):
    offer_id = await _offer(world, world.staff, "8.4")
    offer = await Offer.objects().get(Offer.id == offer_id)
    application = await Application.objects().get(Application.id == offer.application)
    await login(client, "/login", world.borrower_mobile)
    page = soup(await client.get(f"/me/applications/{application.reference}"))
    link = page.select_one(f"a[href='/me/applications/{application.reference}/withdraw']")
    assert link is not None
    assert (
        await client.submit(f"/me/applications/{application.reference}/withdraw")
    ).status_code == 303
    assert (await Offer.objects().get(Offer.id == offer_id)).status == "withdrawn"
    application = await Application.objects().get(Application.id == application.id)
    assert application.status == "withdrawn"
    assert (await Consent.objects().get(Consent.id == application.consent)).withdrawn_at
    # Nothing left to withdraw, and someone else's application is not there at all.
    assert (
        await client.submit(f"/me/applications/{application.reference}/withdraw")
    ).status_code == 409
    other = await factories.user("borrower", "13900002222", "borrower", None, "李四")
    await client.submit("/logout")
    await login(client, "/login", "13900002222")
    assert other.user_id
    assert (
        await client.submit(f"/me/applications/{application.reference}/withdraw")
    ).status_code == 404
    assert (await client.get(f"/me/offers/{offer_id}")).status_code == 404


async def test_withdrawing_a_lead_under_review(client, world):
    application = await delivered_application(client, world)
    ref = application.reference
    assert (await client.submit(f"/me/applications/{ref}/withdraw")).status_code == 303
    assert (await Application.objects().get(Application.id == application.id)).status == "withdrawn"
    assert re.search("撤回", (await client.get(f"/me/applications/{ref}")).text)


async def test_the_demo_borrower_has_offers_to_compare(client):
    from marketplace.demo.offers import seed_offers
    from marketplace.demo.seed import seed_demo

    assert await seed_demo()
    assert await seed_offers() == 0, "seeded once"
    statuses = [o["status"] for o in await Offer.select(Offer.status).order_by(Offer.id)]
    for status, n in (("open", 2), ("declined", 1), ("expired", 1)):
        assert statuses.count(status) == n, (status, statuses)
    assert "signed" in statuses
    from marketplace.demo.catalogue import DEMO_PASSWORD

    await login(client, "/login", "13800138000", DEMO_PASSWORD)
    page = soup(await client.get("/me/offers"))
    open_rows = page.select("section[aria-labelledby=open-title] tr[id^=offer-]")
    assert len(open_rows) == 2
