"""The notification centre's SMS settings: the borrower chooses which kinds of notice also
come by SMS; an opted-out kind still shows in-site but sends no SMS; security codes and
notices the law requires are always sent and cannot be switched off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from marketplace.applications.decisions import Rejection, reject_lead
from marketplace.audit.tables import AuditEntry
from marketplace.db import transaction
from marketplace.erasure.services import process_due_deletions, request_deletion
from marketplace.erasure.tables import DeletionRequest
from marketplace.inbox.services import notify_borrower
from marketplace.inbox.tables import InboxItem
from marketplace.notifications.tables import Notification, SmsPreference
from tests.fixtures import delivered_application, login, soup

SETTINGS = "/me/notifications/settings"


def _ticked(page) -> dict[str, bool]:
    return {box["value"]: box.has_attr("checked") for box in page.select("input[name=sms]")}


async def _sms_count(kind: str) -> int:
    return await Notification.count().where(
        (Notification.channel == "sms") & (Notification.template == kind)
    )


async def _inbox_kinds(user_id: int) -> list[str]:
    rows = await InboxItem.select(InboxItem.kind).where(InboxItem.recipient == user_id)
    return [row["kind"] for row in rows]


async def test_the_settings_page_shows_defaults_and_what_cannot_be_switched(client, world):
    await login(client, "/login", world.borrower_mobile)
    inbox = soup(await client.get("/me/notifications"))
    assert inbox.select_one(f"a[href='{SETTINGS}']") is not None

    page = soup(await client.get(SETTINGS))
    assert _ticked(page) == {
        "decisions": True,
        "progress": True,
        "reminders": True,
        "marketing": False,
    }
    always = page.select("[data-category]")
    assert [li["data-category"] for li in always] == ["security", "legal"]
    assert all("不可关闭" in li.text for li in always)
    assert not page.select("input[value=security], input[value=legal]")
    labels = [label.get_text(" ", strip=True) for label in page.select("label.choice")]
    assert any(text.startswith("审批结果") for text in labels)
    assert any(text.startswith("还款提醒") for text in labels)
    assert any(text.startswith("营销活动") for text in labels)


async def test_an_opted_out_kind_sends_no_sms_but_still_shows_in_site(client, world):
    application = await delivered_application(client, world)
    response = await client.submit(SETTINGS, {"sms": ["progress", "reminders"]})
    assert response.status_code == 303
    assert _ticked(soup(await client.get(SETTINGS)))["decisions"] is False
    assert await AuditEntry.exists().where(AuditEntry.action == "notifications.sms_preferences")

    await reject_lead(world.staff, application.id, Rejection("income", "收入不足", ""))
    assert "application.rejected" in await _inbox_kinds(world.borrower.user_id)
    assert await _sms_count("application.rejected") == 0

    # A kind still switched on keeps its SMS.
    async with transaction():
        await notify_borrower(
            world.borrower.user_id, "message.new", "机构给您发来新消息", "/me", sms="新消息"
        )
    assert await _sms_count("message.new") == 1


async def test_security_and_legally_required_notices_are_always_sent(client, world):
    await login(client, "/login", world.borrower_mobile)
    # Nothing ticked: every switchable kind off.
    response = await client.submit(SETTINGS, {})
    assert response.status_code == 303
    assert _ticked(soup(await client.get(SETTINGS))) == dict.fromkeys(
        ("decisions", "progress", "reminders", "marketing"), False
    )
    async with transaction():
        for kind in ("account.password_changed", "loan.overdue", "loan.reminder", "marketing.x"):
            await notify_borrower(world.borrower.user_id, kind, "通知", "/me", sms="短信")
    assert await _sms_count("account.password_changed") == 1
    assert await _sms_count("loan.overdue") == 1
    assert await _sms_count("loan.reminder") == 0
    assert await _sms_count("marketing.x") == 0
    assert len(await _inbox_kinds(world.borrower.user_id)) == 4


async def test_marketing_sms_only_after_opting_in(client, world):
    await login(client, "/login", world.borrower_mobile)
    async with transaction():
        await notify_borrower(world.borrower.user_id, "marketing.spring", "活动", "/", sms="活动")
    assert await _sms_count("marketing.spring") == 0
    await client.submit(SETTINGS, {"sms": ["marketing", "decisions"]})
    async with transaction():
        await notify_borrower(world.borrower.user_id, "marketing.spring", "活动", "/", sms="活动")
    assert await _sms_count("marketing.spring") == 1


@pytest.mark.parametrize(
    "value",
    ["security", "legal", "\x00", "营销", "😀", "x" * 20_000, "decisions\x00", "-1"],
)
async def test_hostile_or_unswitchable_values_are_refused_with_the_form_kept(client, world, value):
    await login(client, "/login", world.borrower_mobile)
    response = await client.submit(SETTINGS, {"sms": ["reminders", value]})
    assert response.status_code == 400, value
    page = soup(response)
    assert "不能关闭" in page.select_one(".error-summary").text
    assert _ticked(page)["reminders"] is True and _ticked(page)["decisions"] is False
    assert await SmsPreference.count() == 0


async def test_only_a_signed_in_borrower_reaches_the_settings(client, world):
    response = await client.get(SETTINGS)
    assert response.status_code in (302, 303)
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.submit(SETTINGS, {"sms": ["decisions"]})
    assert response.status_code in (302, 303, 403)
    assert await SmsPreference.count() == 0


async def test_account_deletion_takes_the_choices_with_it(client, world):
    await login(client, "/login", world.borrower_mobile)
    assert (await client.submit(SETTINGS, {"sms": ["marketing"]})).status_code == 303
    await request_deletion(world.borrower)
    await DeletionRequest.update(
        {DeletionRequest.due_at: datetime.now(UTC) - timedelta(minutes=1)}
    ).where(DeletionRequest.status == "pending")
    assert await process_due_deletions() == 1
    assert await SmsPreference.count() == 0
