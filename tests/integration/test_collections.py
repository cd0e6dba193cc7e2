"""Collections (issue 7, A8): staff record contacts on their institution's overdue loans;
the platform refuses contacts outside 08:00–21:00 Asia/Shanghai and over the per-loan daily
cap, keeps every refused attempt, and operators see both per institution."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, time, timedelta

import openpyxl
import pytest

from marketplace import clock
from marketplace.audit.tables import AuditEntry
from marketplace.collections.queries import collection_queue, oversight, oversight_filters
from marketplace.collections.services import NOTE_CONTEXT, ContactRefused, record_contact
from marketplace.collections.tables import CollectionContact, CollectionRefusal
from marketplace.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from marketplace.loancalc import SHANGHAI, add_months, today_shanghai
from marketplace.loans.jobs import run_daily_overdue
from marketplace.parameters.tables import SystemParameter
from marketplace.security import decrypt_field
from tests.factories import user
from tests.fixtures import login, soup
from tests.loan_factories import disbursed_loan

STAFF = "staff@test-bank.example"
OTHER_STAFF = "staff@other-bank.example"
AUDITOR = "auditor@loanmart.example"
REVIEWER = "reviewer@loanmart.example"


def freeze(monkeypatch, hour: int, minute: int = 0) -> datetime:
    """Collections' clock at today's (Asia/Shanghai) `hour:minute`."""
    at = datetime.combine(today_shanghai(), time(hour, minute), tzinfo=SHANGHAI)
    monkeypatch.setattr(clock, "now", lambda: at)
    return at


async def overdue_loan(world) -> int:
    today = today_shanghai()
    loan_id = await disbursed_loan(world, add_months(today, -2) - timedelta(days=5), "6000", 6)
    await run_daily_overdue(today)
    return loan_id


def contact(**overrides: str) -> dict[str, str]:
    return {
        "contact_time": "10:30",
        "channel": "phone",
        "result": "promised",
        "note": "借款人承诺周五前还清",
        **overrides,
    }


async def test_a_contact_inside_the_hours_is_recorded_with_its_note_encrypted(world, monkeypatch):
    freeze(monkeypatch, 11)
    loan_id = await overdue_loan(world)
    contact_id = await record_contact(world.staff, loan_id, contact())
    row = await CollectionContact.objects().get(CollectionContact.id == contact_id)
    assert (row.channel, row.result, row.staff, row.institution) == (
        "phone",
        "promised",
        world.staff.user_id,
        world.bank_id,
    )
    assert row.contacted_at.astimezone(SHANGHAI).strftime("%H:%M") == "10:30"
    assert "承诺" not in row.note_encrypted
    assert decrypt_field(row.note_encrypted, context=NOTE_CONTEXT) == "借款人承诺周五前还清"
    audit = await AuditEntry.objects().get(AuditEntry.action == "collection.record")
    assert audit.object_id == str(loan_id)
    assert "承诺周五" not in str(audit.detail)


@pytest.mark.parametrize(("hour", "minute"), [(7, 59), (21, 0), (23, 30), (0, 5)])
async def test_a_contact_outside_the_hours_is_refused_and_the_attempt_kept(
    world, monkeypatch, hour, minute
):
    freeze(monkeypatch, hour, minute)
    loan_id = await overdue_loan(world)
    with pytest.raises(ContactRefused, match="08:00–21:00"):
        await record_contact(world.staff, loan_id, contact(contact_time=f"{hour:02}:{minute:02}"))
    assert await CollectionContact.count() == 0
    refusal = await CollectionRefusal.objects().first()
    assert refusal is not None
    assert (refusal.reason, refusal.loan, refusal.staff, refusal.institution) == (
        "outside_hours",
        loan_id,
        world.staff.user_id,
        world.bank_id,
    )
    assert await AuditEntry.exists().where(AuditEntry.action == "collection.refuse")


async def test_the_hours_follow_the_system_parameters(world, monkeypatch):
    freeze(monkeypatch, 21, 30)
    loan_id = await overdue_loan(world)
    await SystemParameter.insert(SystemParameter(key="collection_hours_end", value='"22:00"'))
    assert await record_contact(world.staff, loan_id, contact(contact_time="21:15"))


async def test_an_earlier_time_today_is_accepted_and_a_future_one_is_not(world, monkeypatch):
    freeze(monkeypatch, 21, 40)
    loan_id = await overdue_loan(world)
    # Logged after the call: made at 20:50, within the hours.
    assert await record_contact(world.staff, loan_id, contact(contact_time="20:50"))
    with pytest.raises(ValidationFailed) as refused:
        await record_contact(world.staff, loan_id, contact(contact_time="21:41"))
    assert refused.value.errors == {"contact_time": "联系时间不能晚于现在"}
    assert await CollectionContact.count() == 1
    assert await CollectionRefusal.count() == 0


async def test_over_the_daily_cap_is_refused_and_recorded(world, monkeypatch):
    freeze(monkeypatch, 15)
    loan_id = await overdue_loan(world)
    for minute in ("09:00", "10:00", "11:00"):
        await record_contact(world.staff, loan_id, contact(contact_time=minute))
    with pytest.raises(ContactRefused, match="上限"):
        await record_contact(world.staff, loan_id, contact(contact_time="14:00"))
    assert await CollectionContact.count() == 3
    assert [r["reason"] for r in await CollectionRefusal.select(CollectionRefusal.reason)] == [
        "over_cap"
    ]
    queue = await collection_queue(world.staff, "", page=1, per_page=10)
    assert [(r.loan_id, r.contacts_today) for r in queue.rows] == [(loan_id, 3)]


async def test_ten_parallel_contacts_with_a_cap_of_three_record_exactly_three(world, monkeypatch):
    freeze(monkeypatch, 12)
    loan_id = await overdue_loan(world)
    outcomes = await asyncio.gather(
        *(record_contact(world.staff, loan_id, contact()) for _ in range(10)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, int) for o in outcomes) == 3
    assert sum(isinstance(o, ContactRefused) for o in outcomes) == 7
    assert await CollectionContact.count() == 3
    assert await CollectionRefusal.count() == 7


async def test_only_overdue_loans_of_ones_own_institution_can_be_contacted(world, monkeypatch):
    freeze(monkeypatch, 10)
    loan_id = await overdue_loan(world)
    current = await disbursed_loan(world, today_shanghai() - timedelta(days=3), "3000", 3)
    with pytest.raises(InvalidTransition):
        await record_contact(world.staff, current, contact(contact_time="09:00"))
    with pytest.raises(NotFound):
        await record_contact(world.other_staff, loan_id, contact(contact_time="09:00"))
    manager = await user("staff", "pm@test-bank.example", "product_manager", world.bank_id, "周洁")
    with pytest.raises(PermissionDenied):
        await record_contact(manager, loan_id, contact(contact_time="09:00"))
    assert await CollectionContact.count() == 0
    assert await CollectionRefusal.count() == 0


async def test_console_queue_and_contact_page(client, world, monkeypatch):
    freeze(monkeypatch, 10)
    loan_id = await overdue_loan(world)
    await login(client, "/console/login", STAFF)
    page = soup(await client.get("/console/collections"))
    row = page.select_one(f"tr[data-loan='{loan_id}']")
    assert row is not None
    assert "0/3" in row.get_text()
    empty = soup(await client.get("/console/collections?bucket=90%2B"))
    assert empty.select_one(f"tr[data-loan='{loan_id}']") is None

    detail = await client.get(f"/console/collections/{loan_id}")
    assert detail.status_code == 200
    assert soup(detail).select_one("input[name=contact_time]")["value"] == "10:00"
    response = await client.submit(
        f"/console/collections/{loan_id}/contacts", contact(contact_time="09:45")
    )
    assert response.status_code == 303
    page = soup(await client.get(f"/console/collections/{loan_id}"))
    assert "借款人承诺周五前还清" in page.get_text()
    assert "1/3" in soup(await client.get("/console/collections")).get_text()


async def test_a_refusal_over_http_is_a_409_with_the_form_kept(client, world, monkeypatch):
    freeze(monkeypatch, 22)
    loan_id = await overdue_loan(world)
    await login(client, "/console/login", STAFF)
    response = await client.submit(
        f"/console/collections/{loan_id}/contacts",
        contact(contact_time="21:30", note="晚上打的电话"),
    )
    assert response.status_code == 409
    page = soup(response)
    assert "08:00–21:00" in page.get_text()
    assert page.select_one("input[name=contact_time]")["value"] == "21:30"
    assert page.select_one("textarea[name=note]").get_text() == "晚上打的电话"
    assert await CollectionRefusal.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("note", "很" * 501, "备注最多500个字"),
        ("note", "含\x00空字符", "备注含有无法识别的字符"),
        ("contact_time", "25:00", "请填写正确的联系时间"),
        ("contact_time", "１０:００", "请填写正确的联系时间"),
        ("contact_time", "-1:30", "请填写正确的联系时间"),
        ("contact_time", "+9:30", "请填写正确的联系时间"),
        ("contact_time", "10:00:00", "请填写正确的联系时间"),
        ("contact_time", "", "请填写联系时间"),
        ("channel", "pigeon", "请选择联系方式"),
        ("result", "😀", "请选择联系结果"),
    ],
)
async def test_hostile_values_are_field_errors_with_nothing_lost(
    client, world, monkeypatch, field, value, message
):
    freeze(monkeypatch, 15)
    loan_id = await overdue_loan(world)
    await login(client, "/console/login", STAFF)
    form = contact(**{field: value})
    response = await client.submit(f"/console/collections/{loan_id}/contacts", form)
    assert response.status_code == 400
    page = soup(response)
    assert message in page.get_text()
    if field != "note":
        assert page.select_one("textarea[name=note]").get_text() == form["note"]
    assert await CollectionContact.count() == 0


async def test_an_emoji_note_is_kept_as_typed(world, monkeypatch):
    freeze(monkeypatch, 15)
    loan_id = await overdue_loan(world)
    contact_id = await record_contact(world.staff, loan_id, contact(note="已沟通 👍"))
    row = await CollectionContact.objects().get(CollectionContact.id == contact_id)
    assert decrypt_field(row.note_encrypted, context=NOTE_CONTEXT) == "已沟通 👍"


async def test_another_institutions_loan_is_a_404_on_every_page(client, world, monkeypatch):
    freeze(monkeypatch, 10)
    loan_id = await overdue_loan(world)
    await login(client, "/console/login", OTHER_STAFF)
    assert (await client.get(f"/console/collections/{loan_id}")).status_code == 404
    response = await client.submit(f"/console/collections/{loan_id}/contacts", contact())
    assert response.status_code == 404
    assert f'data-loan="{loan_id}"' not in (await client.get("/console/collections")).text
    assert await CollectionContact.count() == 0


async def test_admin_oversight_numbers_match_and_export_is_audited(client, world, monkeypatch):
    freeze(monkeypatch, 10)
    loan_id = await overdue_loan(world)
    for _ in range(3):
        await record_contact(world.staff, loan_id, contact(contact_time="09:00"))
    with pytest.raises(ContactRefused):
        await record_contact(world.staff, loan_id, contact(contact_time="09:30"))
    with pytest.raises(ContactRefused):
        await record_contact(world.staff, loan_id, contact(contact_time="07:30"))

    report = await oversight(world.auditor, oversight_filters(None, None, None, ""))
    [bank] = report.institutions
    assert (bank.contacts, bank.loans_contacted, bank.refused_outside_hours) == (3, 1, 1)
    assert bank.refused_over_cap == 1
    assert str(bank.refused_share) == "0.4000"

    await login(client, "/admin/login", AUDITOR)
    page = soup(await client.get("/admin/collections"))
    cells = [
        td.get_text(strip=True) for td in page.select(f"tr[data-institution='{world.bank_id}'] td")
    ]
    assert cells == ["测试银行", "3", "1", "1", "1", "40.00%"]
    assert len(page.select("tr[data-refusal-reason]")) == 2
    only_cap = soup(await client.get("/admin/collections?reason=over_cap"))
    assert [tr["data-refusal-reason"] for tr in only_cap.select("tr[data-refusal-reason]")] == [
        "over_cap"
    ]
    # A period before any activity shows none; reversed or junk dates never error.
    old = await client.get("/admin/collections?from=2020-01-01&to=2020-01-31")
    assert old.status_code == 200
    assert not soup(old).select(f"tr[data-institution='{world.bank_id}']")
    for query in ("from=2026-99-01", "to=%00", "institution=-3", "reason=%F0%9F%98%80"):
        assert (await client.get(f"/admin/collections?{query}")).status_code == 200

    csv_file = await client.get("/admin/collections/export/csv")
    assert csv_file.status_code == 200
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert ["测试银行", "3", "1", "1", "1", "40.00%"] in rows
    xlsx = await client.get("/admin/collections/export/xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert any(row[0] == "测试银行" for row in sheet.iter_rows(values_only=True))
    assert await AuditEntry.count().where(AuditEntry.action == "collection.export") == 2
    assert (await client.get("/admin/collections/export/pdf")).status_code == 404


async def test_operators_without_the_permission_cannot_see_oversight(client, world):
    await login(client, "/admin/login", REVIEWER)
    assert (await client.get("/admin/collections")).status_code == 403
    assert (await client.get("/admin/collections/export/csv")).status_code == 403
    home = await client.get("/admin/")
    assert "/admin/collections" not in home.text


async def test_the_demo_has_contacts_and_a_refused_attempt_to_show(client):
    from marketplace.demo.seed import seed_demo

    assert await seed_demo()
    assert await CollectionContact.count() == 9
    assert await CollectionRefusal.count() == 1
    await login(client, "/console/login", "admin@huaxin-bank.example", "Demo12345")
    page = soup(await client.get("/console/collections"))
    rows = page.select("tr[data-loan]")
    assert len(rows) >= 3
    detail = soup(await client.get(f"/console/collections/{rows[0]['data-loan']}"))
    assert "借款人表示本周五前还清逾期款项" in detail.get_text()
    assert "超出允许催收时段" in detail.get_text()
