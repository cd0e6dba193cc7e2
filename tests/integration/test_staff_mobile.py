"""Staff bind a mobile number on /console/me (issue 8): the SMS code for signing the
cooperation agreement goes to it. The flow is the borrower's phone change (accounts/phone.py):
a code to the new number (and to the current one, if any), rate-limited; the number is kept
encrypted with a unique blind index and shown masked; another account's number gets no code
and cannot be bound."""

from __future__ import annotations

import asyncio
import re

import pytest

from marketplace.accounts.phone import change_phone, request_phone_change_codes
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.audit.tables import AuditEntry
from marketplace.errors import ValidationFailed
from marketplace.notifications.services import BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.security import decrypt_field
from tests.fixtures import login, soup
from tests.integration.test_agreements import _offer, _operator, _sms_code

MOBILE = "13700001111"


async def _sent(template: str) -> list[tuple[str, str]]:
    """(masked recipient, code) of every SMS of `template`, oldest first."""
    rows = (
        await Notification.objects()
        .where(Notification.template == template)
        .order_by(Notification.id)
    )
    return [
        (
            row.recipient_masked,
            re.search(r"\d{6}", decrypt_field(row.body_encrypted, context=BODY_CONTEXT)).group(),
        )
        for row in rows
    ]


async def _user(user_id: int) -> User:
    return await User.objects().where(User.id == user_id).first()


async def test_an_admin_without_a_mobile_is_sent_to_bind_one_then_signs(
    client, staff_client, world
):
    await _operator(client)
    agreement_id = await _offer(client, world)
    await login(staff_client, "/console/login", "staff@test-bank.example")

    # Signing needs an SMS code: the page says so and links to the binding.
    page = soup(await staff_client.get("/console/agreement"))
    link = page.select_one("#bind-mobile a")
    assert link["href"] == "/console/me?next=agreement"
    refused = await staff_client.submit(f"/console/agreement/{agreement_id}/code")
    assert refused.status_code == 400 and "请先绑定手机号" in refused.text
    assert soup(refused).select_one("#bind-mobile a")

    me = soup(await staff_client.get(link["href"]))
    assert "未绑定" in me.text
    assert me.select_one("input[name=new_code]") and not me.select_one("input[name=old_code]")
    action = me.select_one("form[action^='/console/me/mobile']")["action"]
    assert action == "/console/me/mobile?next=agreement"
    sent = await staff_client.submit(action, {"action": "send_code", "mobile": MOBILE})
    assert sent.status_code == 200 and "验证码已发送" in sent.text
    assert soup(sent).select_one("input[name=mobile]")["value"] == MOBILE
    [(recipient, code)] = await _sent("phone_change_new_code")
    assert recipient == "137****1111"
    assert not await _sent("phone_change_old_code"), "no number yet, no old code"

    wrong = "000000" if code != "000000" else "111111"
    bad = await staff_client.submit(
        action, {"action": "change", "mobile": MOBILE, "new_code": wrong}
    )
    assert bad.status_code == 400 and "验证码不正确或已过期" in bad.text
    assert (await _user(world.staff.user_id)).mobile_encrypted is None

    bound = await staff_client.submit(
        action, {"action": "change", "mobile": MOBILE, "new_code": code}
    )
    assert bound.status_code == 303 and bound.headers["location"] == "/console/agreement"
    user = await _user(world.staff.user_id)
    assert user.mobile_masked == "137****1111"
    assert user.mobile_key == mobile_login_key(MOBILE)
    assert MOBILE not in user.mobile_encrypted + user.mobile_key + user.login_key
    entry = await AuditEntry.objects().where(AuditEntry.action == "account.mobile_bound").first()
    assert entry.object_id == str(world.staff.user_id) and MOBILE not in str(entry.detail)
    assert "137****1111" in (await staff_client.get("/console/me")).text

    # Now the signing code goes to it.
    page = soup(await staff_client.get("/console/agreement"))
    assert not page.select_one("#bind-mobile") and "137****1111" in page.text
    assert (await staff_client.submit(f"/console/agreement/{agreement_id}/code")).status_code == 303
    shown_sha = page.select_one("input[name=contract_sha256]")["value"]
    signed = await staff_client.submit(
        f"/console/agreement/{agreement_id}/sign",
        {"contract_sha256": shown_sha, "code": await _sms_code()},
    )
    assert signed.status_code == 303, signed.text[:500]


async def _bind(actor, mobile: str) -> None:
    await request_phone_change_codes(actor, mobile)
    *_, (_masked, code) = await _sent("phone_change_new_code")
    await change_phone(actor, mobile, "", code)


async def test_changing_a_bound_mobile_needs_the_current_numbers_code_too(staff_client, world):
    await _bind(world.staff, MOBILE)
    await login(staff_client, "/console/login", "staff@test-bank.example")
    me = soup(await staff_client.get("/console/me"))
    assert me.select_one("input[name=old_code]")
    sent = await staff_client.submit(
        "/console/me/mobile", {"action": "send_code", "mobile": "13700002222"}
    )
    assert sent.status_code == 200
    [(old_to, old_code)] = await _sent("phone_change_old_code")
    (_first, _), (new_to, new_code) = await _sent("phone_change_new_code")
    assert (old_to, new_to) == ("137****1111", "137****2222")
    only_new = await staff_client.submit(
        "/console/me/mobile",
        {"action": "change", "mobile": "13700002222", "old_code": "", "new_code": new_code},
    )
    assert only_new.status_code == 400 and "请输入原手机号收到的验证码" in only_new.text
    done = await staff_client.submit(
        "/console/me/mobile",
        {"action": "change", "mobile": "13700002222", "old_code": old_code, "new_code": new_code},
    )
    assert done.status_code == 303 and done.headers["location"] == "/console/me"
    assert (await _user(world.staff.user_id)).mobile_masked == "137****2222"
    told = await Notification.objects().where(Notification.template == "phone_changed")
    assert [n.recipient_masked for n in told] == ["137****1111"], "the old number is told"


async def test_another_accounts_number_gets_no_code_and_cannot_be_bound(staff_client, world):
    await _bind(world.other_staff, MOBILE)
    await login(staff_client, "/console/login", "staff@test-bank.example")
    sent = await staff_client.submit(
        "/console/me/mobile", {"action": "send_code", "mobile": MOBILE}
    )
    assert sent.status_code == 200 and "验证码已发送" in sent.text, "reads the same"
    assert len(await _sent("phone_change_new_code")) == 1, "only the other account's code"
    for code in ("000000", "123456"):
        refused = await staff_client.submit(
            "/console/me/mobile", {"action": "change", "mobile": MOBILE, "new_code": code}
        )
        assert refused.status_code == 400
    assert (await _user(world.staff.user_id)).mobile_encrypted is None
    assert (await _user(world.other_staff.user_id)).mobile_masked == "137****1111"


async def test_two_accounts_confirming_one_number_at_once_leave_one_holder(world):
    for actor in (world.staff, world.other_staff):
        await request_phone_change_codes(actor, MOBILE)
    (_a, staff_code), (_b, other_code) = await _sent("phone_change_new_code")
    results = await asyncio.gather(
        change_phone(world.staff, MOBILE, "", staff_code),
        change_phone(world.other_staff, MOBILE, "", other_code),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, ValidationFailed) for r in results if r is not None)
    assert await User.count().where(User.mobile_key == mobile_login_key(MOBILE)) == 1


async def test_code_requests_are_rate_limited_under_parallel_requests(staff_client, world):
    await login(staff_client, "/console/login", "staff@test-bank.example")
    token = await staff_client.csrf_token()
    responses = await asyncio.gather(
        *(
            staff_client.post(
                "/console/me/mobile",
                data={"_csrf_token": token, "action": "send_code", "mobile": MOBILE},
            )
            for _ in range(6)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [429] * 5
    assert len(await _sent("phone_change_new_code")) == 1
    throttled = next(r for r in responses if r.status_code == 429)
    assert "验证码发送过于频繁" in throttled.text


@pytest.mark.parametrize(
    "form",
    [
        {"action": "send_code", "mobile": "１" * 3000},  # full-width digits, too many
        {"action": "send_code", "mobile": "x" * 20_000},
        {"action": "send_code", "mobile": "1370000\x001111"},
        {"action": "send_code", "mobile": "📱13700001111"},
        {"action": "send_code", "mobile": ["13700001111", "13700002222"]},
        {"action": "send_code", "mobile": "-1"},
        {"action": "send_code", "mobile": "23700001111"},  # not a mainland mobile
        {"action": "change", "mobile": MOBILE, "new_code": "9" * 5000},
        {"action": "change", "mobile": MOBILE, "new_code": "１２３４５６"},
        {"action": "change", "mobile": MOBILE, "new_code": ""},
    ],
)
async def test_hostile_mobile_binding_input_is_a_clear_error(staff_client, world, form):
    await login(staff_client, "/console/login", "staff@test-bank.example")
    response = await staff_client.submit("/console/me/mobile", form)
    assert response.status_code == 400
    assert soup(response).select(".field__error, .error-summary")
    assert (await _user(world.staff.user_id)).mobile_encrypted is None


async def test_the_account_page_is_for_staff_only(client, world):
    await login(client, "/login", world.borrower_mobile)
    assert (await client.get("/console/me")).status_code in (302, 303, 401, 403)
    response = await client.submit("/console/me/mobile", {"action": "send_code", "mobile": MOBILE})
    assert response.status_code in (302, 303, 401, 403)
    assert not await _sent("phone_change_new_code")
