"""Messages between a borrower and the institution working their application (issue 7):
both sides post and read, live updates for htmx, tenancy and consent, limits, SMS wording,
encryption at rest and hostile text."""

from __future__ import annotations

import asyncio

import httpx

from marketplace.audit.tables import AuditEntry
from marketplace.consents.tables import Consent
from marketplace.messages.services import POST_LIMIT
from marketplace.messages.tables import BODY_MAX_LENGTH, Message
from marketplace.notifications.services import BODY_CONTEXT as SMS_BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.security import decrypt_field
from tests.factories import user
from tests.fixtures import delivered_application, login, soup

HTMX = {"HX-Request": "true"}


def _bodies(response: httpx.Response) -> list[str]:
    return [p.get_text() for p in soup(response).select("#thread-messages .thread__body")]


async def test_both_sides_post_and_read_without_javascript(client, staff_client, world):
    application = await delivered_application(client, world)
    borrower_thread = f"/me/applications/{application.reference}/messages"
    staff_thread = f"/console/leads/{application.id}/messages"

    detail = await client.get(f"/me/applications/{application.reference}")
    assert soup(detail).select_one(f'a[href="{borrower_thread}"]') is not None

    sent = await client.submit(borrower_thread, {"body": "请问还需要补充什么材料？"})
    assert sent.status_code == 303 and sent.headers["location"] == borrower_thread
    page = await client.get(borrower_thread)
    assert _bodies(page) == ["请问还需要补充什么材料？"]
    assert "对方未读" in page.text

    await login(staff_client, "/console/login", "staff@test-bank.example")
    lead = await staff_client.get(f"/console/leads/{application.id}")
    assert soup(lead).select_one(f'a[href="{staff_thread}"]') is not None
    page = await staff_client.get(staff_thread)
    assert page.status_code == 200
    assert _bodies(page) == ["请问还需要补充什么材料？"]
    assert await Message.count().where(Message.read_at.is_null()) == 0, "staff opened it"

    # A prepared text starts the reply; the staff member may edit it before sending.
    prefilled = soup(await staff_client.get(f"{staff_thread}?template=documents"))
    assert "收入证明" in prefilled.select_one("textarea[name=body]").get_text()
    reply = await staff_client.submit(staff_thread, {"body": "请上传近6个月银行流水。"})
    assert reply.status_code == 303 and reply.headers["location"] == staff_thread

    page = await client.get(borrower_thread)
    assert _bodies(page) == ["请问还需要补充什么材料？", "请上传近6个月银行流水。"]
    assert "对方已读" in page.text  # the borrower's own message, read by the bank
    assert "测试银行" in page.text and "王敏" not in page.text, "borrowers see the institution"

    audits = await AuditEntry.select().where(AuditEntry.action == "message.post")
    assert len(audits) == 2
    assert {row["object_id"] for row in audits} == {str(application.id)}
    assert all("银行流水" not in str(row) and "材料" not in str(row) for row in audits)


async def test_htmx_polling_gets_only_the_thread_fragment(client, world):
    application = await delivered_application(client, world)
    url = f"/me/applications/{application.reference}/messages"
    await client.submit(url, {"body": "第一条"})

    full = await client.get(url)
    fragment = await client.get(url, headers=HTMX)
    assert full.headers["vary"] == fragment.headers["vary"] == "HX-Request"
    assert "<html" in full.text and soup(full).select_one("form textarea[name=body]")
    assert "<html" not in fragment.text and "textarea" not in fragment.text
    section = soup(fragment).select_one("section#thread-messages")
    assert section["hx-get"] == url and "every" in section["hx-trigger"]
    assert _bodies(fragment) == ["第一条"]


async def test_sms_to_the_borrower_says_only_that_a_message_arrived(client, staff_client, world):
    application = await delivered_application(client, world)
    await Notification.delete(force=True)
    await login(staff_client, "/console/login", "staff@test-bank.example")
    url = f"/console/leads/{application.id}/messages"
    await staff_client.submit(url, {"body": "张伟您好，您的身份证号已核实。"})
    await staff_client.submit(url, {"body": "第二条，还未读时不再发短信"})

    sms = await Notification.objects()
    assert len(sms) == 1
    text = decrypt_field(sms[0].body_encrypted, context=SMS_BODY_CONTEXT)
    assert "新消息" in text
    for secret in ("张伟", "身份证", world.borrower_mobile, "第二条", "测试银行"):
        assert secret not in text
    assert sms[0].recipient_masked == "139****5678"

    await client.get(f"/me/applications/{application.reference}/messages")  # read them
    await staff_client.submit(url, {"body": "第三条"})
    assert await Notification.count() == 2


async def test_another_institution_other_borrowers_and_withdrawn_consent_get_404(
    client, staff_client, world
):
    application = await delivered_application(client, world)
    staff_url = f"/console/leads/{application.id}/messages"
    await client.submit(f"/me/applications/{application.reference}/messages", {"body": "你好"})

    await login(staff_client, "/console/login", "staff@other-bank.example")
    assert (await staff_client.get(staff_url)).status_code == 404
    assert (await staff_client.submit(staff_url, {"body": "越权"})).status_code == 404

    stranger = await user("borrower", "13800001111", "borrower", None, "赵六")
    assert stranger.user_id
    await client.post("/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/login", "13800001111")
    other_thread = f"/me/applications/{application.reference}/messages"
    assert (await client.get(other_thread)).status_code == 404
    assert (await client.submit(other_thread, {"body": "越权"})).status_code == 404

    await staff_client.post("/logout", data={"_csrf_token": await staff_client.csrf_token()})
    await login(staff_client, "/console/login", "staff@test-bank.example")
    assert (await staff_client.get(staff_url)).status_code == 200
    await Consent.update({Consent.withdrawn_at: Consent.granted_at}, force=True)
    assert (await staff_client.get(staff_url)).status_code == 404
    assert (await staff_client.submit(staff_url, {"body": "撤回后"})).status_code == 404
    assert await Message.count() == 1


async def test_staff_need_lead_work_to_post(client, staff_client, world):
    application = await delivered_application(client, world)
    await user("staff", "risk@test-bank.example", "risk_officer", world.bank_id, "风控")
    await login(staff_client, "/console/login", "risk@test-bank.example")
    url = f"/console/leads/{application.id}/messages"
    page = await staff_client.get(url)
    assert page.status_code == 200 and soup(page).select_one("textarea[name=body]") is None
    assert (await staff_client.submit(url, {"body": "只读角色"})).status_code == 403
    assert await Message.count() == 0


async def test_rate_limit_is_exact_under_parallel_posts(client, world):
    application = await delivered_application(client, world)
    url = f"/me/applications/{application.reference}/messages"
    await client.csrf_token()
    attempts = POST_LIMIT + 6
    responses = await asyncio.gather(
        *(client.submit(url, {"body": f"消息{i}"}) for i in range(attempts))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [303] * POST_LIMIT + [429] * (attempts - POST_LIMIT)
    assert await Message.count() == POST_LIMIT
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["retry-after"]) > 0


async def test_bodies_are_encrypted_at_rest(client, world):
    application = await delivered_application(client, world)
    body = "我的银行卡尾号6222，家住朝阳区"
    await client.submit(f"/me/applications/{application.reference}/messages", {"body": body})
    rows = await Message.raw("SELECT * FROM message")
    assert len(rows) == 1
    raw = " ".join(str(value) for value in rows[0].values())
    assert "6222" not in raw and "朝阳" not in raw


async def test_hostile_bodies_are_escaped_and_long_ones_refused_with_text_kept(client, world):
    application = await delivered_application(client, world)
    url = f"/me/applications/{application.reference}/messages"
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    await client.submit(url, {"body": hostile})
    page = await client.get(url)
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert _bodies(page) == [hostile]

    too_long = "长" * (BODY_MAX_LENGTH + 1)
    refused = await client.submit(url, {"body": too_long})
    assert refused.status_code == 400
    assert soup(refused).select_one("textarea[name=body]").get_text() == too_long
    assert str(BODY_MAX_LENGTH) in soup(refused).select_one(".error-summary").get_text()
    empty = await client.submit(url, {"body": "   "})
    assert empty.status_code == 400
    assert await Message.count() == 1
