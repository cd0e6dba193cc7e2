"""Delivery settings and the delivery gate (issue 8, I6): caps, budget and filters an
institution sets; borrowers see them before applying and are refused with every typed value
kept; at delivery the gate runs again under the settings row's lock, so parallel deliveries
never overshoot a cap, and a lead that no longer fits ends 未送达 with the borrower told."""

from __future__ import annotations

import asyncio

from marketplace.agreements.tables import Agreement
from marketplace.applications.services import (
    deliver,
    parse_application_input,
    submit_application,
)
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.consents.notices import build_notice
from marketplace.delivery.services import admission
from marketplace.delivery.tables import DeliverySettings
from marketplace.inbox.tables import InboxItem
from marketplace.institutions.tables import Institution
from marketplace.products.tables import Product
from tests import factories
from tests.fixtures import apply_form_secrets, login, soup

SETTINGS = {
    "daily_lead_cap": "",
    "monthly_lead_cap": "",
    "monthly_budget": "",
    "cities": "",
    "amount_min": "",
    "amount_max": "",
    "min_monthly_income": "",
}


async def _settings(world, **values: object) -> None:
    """Save settings through the verb, as the admin would."""
    from marketplace.delivery.services import parse_limits, save_delivery_settings

    await save_delivery_settings(world.staff, parse_limits({**SETTINGS, **values}))


async def _submitted(world, product_id: int, **form: str) -> int:
    product = await Product.objects().get(Product.id == product_id)
    notice = build_notice("测试银行", "400-000-0000", product.name)
    data = factories.application_form(
        notice_digest=notice.digest, submission_key=f"delivery-test-{product_id:08d}", **form
    )
    await submit_application(world.borrower, parse_application_input(product_id, data))
    row = await Application.select(Application.id).where(Application.product == product_id).first()
    return row["id"]


async def test_the_admin_saves_settings_audited_with_before_and_after(staff_client, world):
    await login(staff_client, "/console/login", "staff@test-bank.example")
    page = soup(await staff_client.get("/console/delivery"))
    assert page.select_one("input[name=daily_lead_cap]") is not None
    saved = await staff_client.submit(
        "/console/delivery",
        {
            **SETTINGS,
            "daily_lead_cap": "20",
            "monthly_lead_cap": "300",
            "monthly_budget": "9000",
            "cities": "北京，上海",
            "min_monthly_income": "6000",
            "employment_types": ["employee", "civil_servant"],
        },
    )
    assert saved.status_code == 303
    again = await staff_client.submit(
        "/console/delivery", {**SETTINGS, "daily_lead_cap": "10", "cities": "北京"}
    )
    assert again.status_code == 303
    row = await DeliverySettings.objects().get(DeliverySettings.institution == world.bank_id)
    assert (row.daily_lead_cap, row.monthly_lead_cap, row.cities, row.version) == (
        10,
        None,
        ["北京市"],  # stored by its canonical name
        2,
    )
    entries = await AuditEntry.objects().where(AuditEntry.action == "delivery.settings_saved")
    assert len(entries) == 2
    last = max(entries, key=lambda e: e.id)
    detail = last.detail if isinstance(last.detail, dict) else __import__("json").loads(last.detail)
    assert detail["before"]["daily_lead_cap"] == 20 and detail["after"]["daily_lead_cap"] == 10
    assert detail["before"]["monthly_budget"] == "9000.00" and detail["after"]["cities"] == [
        "北京市"
    ]
    shown = soup(await staff_client.get("/console/delivery"))
    assert shown.select_one("input[name=daily_lead_cap]")["value"] == "10"


async def test_hostile_settings_are_field_errors_with_values_kept(staff_client, world):
    await login(staff_client, "/console/login", "staff@test-bank.example")
    for field, value in (
        ("daily_lead_cap", "-1"),
        ("daily_lead_cap", "２０"),
        ("daily_lead_cap", "99999999999999"),
        ("monthly_budget", "1e9"),
        ("monthly_budget", "-100"),
        ("amount_min", "abc"),
        ("min_monthly_income", "9" * 60),
        ("cities", "北" * 31),
        ("cities", "，".join(f"城{i}" for i in range(60))),
        ("cities", "北京\x00"),
        ("employment_types", "astronaut"),
    ):
        response = await staff_client.submit("/console/delivery", {**SETTINGS, field: value})
        assert response.status_code == 400, (field, value, response.status_code)
    crossed = await staff_client.submit(
        "/console/delivery", {**SETTINGS, "daily_lead_cap": "50", "monthly_lead_cap": "10"}
    )
    assert crossed.status_code == 400 and "不能大于每月线索上限" in crossed.text
    assert soup(crossed).select_one("input[name=daily_lead_cap]")["value"] == "50"
    assert await DeliverySettings.count() == 0
    bare = await staff_client.post("/console/delivery", data={**SETTINGS, "daily_lead_cap": "5"})
    assert bare.status_code == 403 and await DeliverySettings.count() == 0


async def test_filters_are_shown_and_refuse_the_apply_form_keeping_values(client, world):
    product_id = await factories.listed_product(world.staff, world.operator)
    await _settings(world, cities="上海", min_monthly_income="20000")
    page = soup(await client.get(f"/products/{product_id}"))
    conditions = page.select_one("#delivery-conditions").text
    assert "上海" in conditions and "20,000" in conditions

    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    refused = await client.submit(
        f"/products/{product_id}/apply", factories.application_form(**hidden, city="北京")
    )
    assert refused.status_code == 400
    assert "暂不符合该机构的接收条件" in refused.text and "所在城市须为 上海" in refused.text
    form = soup(refused)
    assert form.select_one("input[name=city]")["value"] == "北京"
    assert form.select_one("input[name=real_name]")["value"] == "张伟"
    assert await Application.count() == 0


async def test_a_full_day_closes_the_product_page_and_the_form(client, world):
    product_id = await factories.listed_product(world.staff, world.operator)
    other_product = await factories.listed_product(world.staff, world.operator, name="第二款产品")
    await _settings(world, daily_lead_cap="1")
    await _submitted(world, product_id)
    from marketplace.jobs import run_until_idle

    await run_until_idle()
    assert (await Application.objects().first()).status == "delivered"
    page = soup(await client.get(f"/products/{other_product}"))
    assert "今日名额已满" in page.select_one("#delivery-closed").text
    assert not page.select(f"a[href='/products/{other_product}/apply']"), "no apply button"
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, other_product)
    refused = await client.submit(
        f"/products/{other_product}/apply", factories.application_form(**hidden)
    )
    assert refused.status_code == 400 and "今日名额已满" in refused.text
    assert await Application.count() == 1


async def test_no_agreement_or_inactive_institution_means_no_leads(client, world):
    product_id = await factories.listed_product(world.staff, world.operator)
    await Agreement.delete().where(Agreement.institution == world.bank_id)
    page = await client.get(f"/products/{product_id}")
    assert "该机构暂未开通接收申请" in page.text
    await factories.agreement_in_force(world.bank_id)
    await Institution.update({Institution.status: "suspended"}).where(
        Institution.id == world.bank_id
    )
    # A suspended institution's products leave the portal; the gate says why, should a
    # submitted application still reach delivery.
    verdict = await admission(world.bank_id, None)
    assert (verdict.reason_code, verdict.label) == ("inactive", "该机构已暂停合作")


async def test_parallel_deliveries_never_overshoot_the_cap(client, staff_client, world):
    products = [
        await factories.listed_product(world.staff, world.operator, name=f"并发产品{n}")
        for n in range(5)
    ]
    ids = [await _submitted(world, product_id) for product_id in products]
    await _settings(world, daily_lead_cap="2")  # filled up after the borrower applied
    results = await asyncio.gather(*(deliver(application_id) for application_id in ids))
    assert sum(results) == 2
    statuses = sorted(a.status for a in await Application.objects())
    assert statuses == ["delivered"] * 2 + ["not_delivered"] * 3
    notices = await InboxItem.objects().where(InboxItem.kind == "application_not_delivered")
    assert len(notices) == 3 and all("今日名额已满" in n.title for n in notices)
    refused = await AuditEntry.objects().where(AuditEntry.action == "application.not_delivered")
    assert len(refused) == 3
    # A job that runs again changes nothing.
    assert not any(await asyncio.gather(*(deliver(i) for i in ids)))
    # The borrower's page says where it ended and why; it is no lead of the institution's.
    refused_one = await Application.objects().where(Application.status == "not_delivered").first()
    await login(client, "/login", world.borrower_mobile)
    page = await client.get(f"/me/applications/{refused_one.reference}")
    assert page.status_code == 200 and "未送达" in page.text and "今日名额已满" in page.text
    from marketplace.applications.queries import institution_lead_counts

    assert (await institution_lead_counts(world.staff)).total == 2
    await login(staff_client, "/console/login", "staff@test-bank.example")
    assert (await staff_client.get(f"/console/leads/{refused_one.id}")).status_code == 404


async def test_the_budget_stops_cpl_leads_at_the_price_that_would_pass_it(world):
    products = [
        await factories.listed_product(world.staff, world.operator, name=f"预算产品{n}")
        for n in range(3)
    ]
    ids = [await _submitted(world, product_id) for product_id in products]
    # The factory's agreement: CPL at 30 yuan a lead. 60 yuan buys two leads.
    await _settings(world, monthly_budget="60")
    results = await asyncio.gather(*(deliver(application_id) for application_id in ids))
    assert sorted(results) == [False, True, True]
    item = await InboxItem.objects().where(InboxItem.kind == "application_not_delivered").first()
    assert "本月名额已满" in item.title


async def test_parallel_first_saves_both_land_as_versions(world):
    from marketplace.delivery.services import parse_limits, save_delivery_settings

    versions = await asyncio.gather(
        save_delivery_settings(world.staff, parse_limits({**SETTINGS, "daily_lead_cap": "5"})),
        save_delivery_settings(world.staff, parse_limits({**SETTINGS, "daily_lead_cap": "7"})),
    )
    assert sorted(versions) == [1, 2]
    row = await DeliverySettings.objects().get(DeliverySettings.institution == world.bank_id)
    assert row.version == 2 and row.daily_lead_cap in (5, 7)
    audits = await AuditEntry.count().where(AuditEntry.action == "delivery.settings_saved")
    assert audits == 2
