"""The daily licence check: reminders 30 and 7 days before a licence expires, once each,
in-site to the institution's admins and by e-mail; suspension once it has expired."""

from __future__ import annotations

import json
from datetime import date, timedelta

from marketplace import jobs
from marketplace.audit.tables import AuditEntry
from marketplace.inbox.tables import InboxItem
from marketplace.institutions.tables import Institution
from marketplace.notifications.tables import Notification
from marketplace.partners.licences import check_licences, lead_reached
from marketplace.products.queries import featured_products
from tests import factories
from tests.fixtures import login

TODAY = date(2026, 12, 1)


async def _expiring(world, days: int, column=Institution.licence_expires_on) -> None:
    await Institution.update(
        {column: TODAY + timedelta(days=days), Institution.contact_email: "ops@test-bank.example"}
    ).where(Institution.id == world.bank_id)


def test_the_tightest_lead_reached_wins():
    assert lead_reached(45, [30, 7]) is None
    assert lead_reached(30, [30, 7]) == 30
    assert lead_reached(8, [30, 7]) == 30
    assert lead_reached(7, [30, 7]) == 7
    assert lead_reached(1, [30, 7]) == 7
    assert lead_reached(0, [30, 7]) is None


async def test_reminders_go_out_once_at_30_and_once_at_7_days(world):
    await _expiring(world, 30)
    assert await check_licences(TODAY) == {"reminded": 1, "suspended": 0}
    assert await check_licences(TODAY) == {"reminded": 0, "suspended": 0}
    assert await check_licences(TODAY + timedelta(days=10)) == {"reminded": 0, "suspended": 0}
    assert await check_licences(TODAY + timedelta(days=23)) == {"reminded": 1, "suspended": 0}
    assert await check_licences(TODAY + timedelta(days=25)) == {"reminded": 0, "suspended": 0}
    notices = await InboxItem.select(InboxItem.title).where(
        InboxItem.recipient == world.staff.user_id
    )
    assert len(notices) == 2 and all("金融许可证" in n["title"] for n in notices)
    emails = await Notification.select(Notification.recipient_masked).where(
        Notification.template == "institution.licence"
    )
    # The admin and the institution's contact, at each of the two leads.
    assert len(emails) == 4
    assert await AuditEntry.count().where(AuditEntry.action == "institution.licence_reminder") == 2


async def test_a_renewed_licence_is_reminded_again(world):
    await _expiring(world, 7)
    assert (await check_licences(TODAY))["reminded"] == 1
    await _expiring(world, 372)  # renewed for a year: the next expiry gets its own reminders
    assert (await check_licences(TODAY + timedelta(days=342)))["reminded"] == 1


async def test_an_expired_licence_suspends_and_takes_products_off_the_portal(world):
    product_id = await factories.listed_product(world.staff, world.operator)
    await jobs.run_until_idle()
    assert [c.id for c in await featured_products()] == [product_id]
    await _expiring(world, 0, Institution.business_licence_expires_on)
    assert (await check_licences(TODAY))["suspended"] == 1
    await jobs.run_until_idle()
    row = await Institution.select().where(Institution.id == world.bank_id).first()
    assert row["status"] == "suspended" and "过期" in row["status_reason"]
    assert await featured_products() == []
    # Already suspended: the next run leaves it alone and does not count it.
    assert (await check_licences(TODAY))["suspended"] == 0
    entry = await AuditEntry.select().where(AuditEntry.action == "institution.suspend").first()
    assert entry["actor_kind"] == "system" and json.loads(entry["detail"])["licence"] == "business"


async def test_operators_record_renewed_licences_with_checked_dates(client, world):
    await factories.user(
        "operator", "inst-reviewer@loanmart.example", "institution_reviewer", None, "机构审核员"
    )
    await login(client, "/admin/login", "inst-reviewer@loanmart.example")
    url = f"/admin/institutions/{world.bank_id}/licences"
    for bad in ("2020-01-01", "2026-02-30", "２０３０-01-01", "9999-01-01", ""):
        response = await client.submit(url, {"licence_expires_on": bad})
        assert response.status_code == 400, bad
        assert bad in response.text  # the typed value comes back
    next_year = (date.today() + timedelta(days=365)).isoformat()
    response = await client.submit(
        url, {"licence_expires_on": next_year, "business_licence_expires_on": ""}
    )
    assert response.status_code == 303
    row = await Institution.select().where(Institution.id == world.bank_id).first()
    assert row["licence_expires_on"].isoformat() == next_year
    assert row["business_licence_expires_on"] is None
    assert await AuditEntry.count().where(AuditEntry.action == "institution.licences") == 1
    # A product reviewer may not.
    await login(client, "/admin/login", "reviewer@loanmart.example")
    assert (await client.submit(url, {"licence_expires_on": next_year})).status_code == 403
