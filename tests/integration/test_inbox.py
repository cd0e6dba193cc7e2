"""In-site notifications (issue 7, "notifies the other side through the notifier"): a new
message reaches the other side's inbox once per unread batch; the bell counts unread; opening
a notice marks it read and follows it; nobody opens someone else's; links stay on the site."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.applications.decisions import Rejection, reject_lead
from marketplace.applications.services import move_lead
from marketplace.inbox.services import notify_institution, notify_users
from marketplace.inbox.tables import InboxItem
from marketplace.loancalc import today_shanghai
from marketplace.loans import ledger
from marketplace.loans.services import report_repayment
from marketplace.loans.tables import Instalment
from marketplace.notifications.services import BODY_CONTEXT as SMS_BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.security import decrypt_field
from tests.factories import user
from tests.fixtures import delivered_application, login, soup
from tests.loan_factories import disbursed_loan


def _bell(response) -> str:
    bell = soup(response).select_one("a.inbox-bell")
    assert bell is not None
    return bell.get("aria-label", "")


async def test_a_message_reaches_the_other_sides_inbox_and_the_bell_counts_it(
    client, staff_client, world
):
    application = await delivered_application(client, world)
    borrower_thread = f"/me/applications/{application.reference}/messages"
    await client.submit(borrower_thread, {"body": "请问进度如何？"})
    await client.submit(borrower_thread, {"body": "还未读时不再通知"})

    await login(staff_client, "/console/login", "staff@test-bank.example")
    home = await staff_client.get("/console/")
    assert "2条未读" in _bell(home)  # the new lead, then one notice for both messages
    inbox = await staff_client.get("/console/notifications")
    items = [a for a in soup(inbox).select(".inbox__item--unread a") if "新消息" in a.get_text()]
    assert len(items) == 1
    assert application.reference in items[0].get_text()
    assert "请问" not in inbox.text, "the notice does not quote the message"

    opened = await staff_client.get(items[0]["href"])
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/console/leads/{application.id}/messages"
    assert "1条未读" in _bell(await staff_client.get("/console/"))

    # The borrower hears back in-site (and by SMS, tested with the messages).
    await staff_client.submit(f"/console/leads/{application.id}/messages", {"body": "已收到"})
    page = await client.get("/me/notifications")
    assert len(soup(page).select(".inbox__item--unread")) == 1
    marked = await client.submit("/me/notifications/read", {})
    assert marked.status_code == 303
    assert not soup(await client.get("/me/notifications")).select(".inbox__item--unread")


async def test_only_staff_who_work_leads_are_told_and_only_the_assignee_once_assigned(world):
    officer = await user("staff", "officer@test-bank.example", "loan_officer", world.bank_id, "赵")
    await user("staff", "pm@test-bank.example", "product_manager", world.bank_id, "钱")
    told = await notify_institution(world.bank_id, "test", "有新线索", "/console/leads")
    assert told == 2  # the admin and the officer; the product manager does not work leads
    told = await notify_institution(
        world.bank_id, "test", "有新消息", "/console/leads", assignee_id=officer.user_id
    )
    assert told == 1
    assert await InboxItem.count().where(InboxItem.recipient == officer.user_id) == 2


async def test_someone_elses_notice_is_a_404_and_links_never_leave_the_site(client, world):
    other = await user("borrower", "13800001111", "borrower", None, "李")
    await notify_users([other.user_id], "test", "别人的通知", "/me/applications")
    item = await InboxItem.objects().first()
    await login(client, "/login", world.borrower_mobile)
    assert (await client.get(f"/me/notifications/{item.id}")).status_code == 404
    assert await InboxItem.count().where(InboxItem.read_at.is_not_null()) == 0
    for hostile in ("/me/notifications/abc", "/me/notifications/99999999999999999999"):
        assert (await client.get(hostile)).status_code in (400, 404)
    for link in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\\evil"):
        with pytest.raises(ValueError):
            await notify_users([other.user_id], "test", "x", link)


async def test_the_inbox_needs_sign_in_and_pages_past_the_end(client, world):
    response = await client.get("/me/notifications")
    assert response.status_code in (302, 303, 401)
    await login(client, "/login", world.borrower_mobile)
    empty = await client.get("/me/notifications")
    assert "暂无通知" in empty.text
    await notify_users([world.borrower.user_id], "test", "一条通知", "/me/applications")
    past = await client.get("/me/notifications?page=9")
    assert "没有更多结果了" in past.text


async def _titles(user_id: int) -> list[str]:
    rows = await InboxItem.select(InboxItem.title).where(InboxItem.recipient == user_id)
    return [row["title"] for row in rows]


async def test_each_step_of_an_application_and_its_loan_tells_the_other_side(client, world):
    application = await delivered_application(client, world)
    assert any("收到新的借款申请" in t for t in await _titles(world.staff.user_id))

    await move_lead(world.staff, application.id, "review")
    assert any("进度更新：审核中" in t for t in await _titles(world.borrower.user_id))
    await reject_lead(
        world.staff, application.id, Rejection("credit_history", "收入不足", "内部备注")
    )
    titles = await _titles(world.borrower.user_id)
    assert any("未获批准：收入不足" in t for t in titles)
    assert not any("内部备注" in t for t in titles), "the internal note stays internal"
    sms = decrypt_field(
        (
            await Notification.objects().order_by(Notification.id, ascending=False).first()
        ).body_encrypted,
        context=SMS_BODY_CONTEXT,
    )
    assert "收入" not in sms and "张伟" not in sms

    loan_id = await disbursed_loan(world, today_shanghai() - timedelta(days=3), "3000", 3)
    assert any("已放款" in t for t in await _titles(world.borrower.user_id))
    first = await Instalment.objects().where(Instalment.loan == loan_id).first()
    due = first.principal_due + first.interest_due + first.fee_due
    await report_repayment(world.staff, loan_id, due, today_shanghai(), "instalment", "R-1")
    assert any("已登记您的还款" in t for t in await _titles(world.borrower.user_id))
    plan = await Instalment.select().where(Instalment.loan == loan_id)
    await report_repayment(
        world.staff,
        loan_id,
        ledger.settlement_amount(ledger.lines_from_rows(plan), today_shanghai()),
        today_shanghai(),
        "early_settlement",
        "R-2",
    )
    assert any("已全部结清" in t for t in await _titles(world.borrower.user_id))
