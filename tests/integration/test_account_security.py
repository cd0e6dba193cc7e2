"""The personal centre (/me): profile summary, password change, forgotten password by SMS
code without enumeration, and the list of signed-in devices."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from marketplace import cache, jobs
from marketplace.accounts.tables import User
from marketplace.audit.tables import AuditEntry
from marketplace.inbox.tables import InboxItem
from marketplace.notifications.services import BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.security import decrypt_field, verify_password
from server.sessions import MAX_SESSIONS_PER_USER
from tests import factories
from tests.fixtures import Client, login, soup

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40"
)
NEW_PASSWORD = "N3wSecret!"  # noqa: S105


def browser(app, ip: str, user_agent: str = "") -> Client:
    transport = httpx.ASGITransport(app=app, client=(ip, 50100))
    headers = {"user-agent": user_agent} if user_agent else {}
    return Client(transport=transport, base_url="http://testserver", headers=headers)


async def _sms(template: str) -> list[str]:
    rows = await Notification.objects().where(Notification.template == template)
    return [decrypt_field(row.body_encrypted, context=BODY_CONTEXT) for row in rows]


async def _reset_code() -> str:
    (body,) = await _sms("password_reset_code")
    return re.search(r"\d{6}", body).group()


def _main_text(response: httpx.Response) -> str:
    """The page without the per-response CSRF token, to compare two answers."""
    page = soup(response)
    for hidden in page.select("input[name=_csrf_token]"):
        hidden.decompose()
    return page.select_one("main").get_text(" ", strip=True)


async def test_personal_centre_shows_masked_values_and_links(client, world):
    assert (await client.get("/me")).status_code in (302, 303, 401)
    await login(client, "/login", world.borrower_mobile)
    page = await client.get("/me")
    assert page.status_code == 200
    assert "139****5678" in page.text and world.borrower_mobile not in page.text
    links = {a["href"] for a in soup(page).select("main a")}
    assert {"/me/applications", "/me/loans", "/me/notifications", "/me/security"} <= links
    # Existing pages under /me keep working.
    assert (await client.get("/me/applications")).status_code == 200


async def test_change_password_ends_other_sessions_and_tells_the_borrower(app, client, world):
    other = browser(app, "203.0.113.9", IPHONE)
    async with other:
        await login(other, "/login", world.borrower_mobile)
        await login(client, "/login", world.borrower_mobile)
        assert (await other.get("/me")).status_code == 200

        wrong = await client.submit(
            "/me/security/password",
            {
                "current_password": "nope",
                "password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD,
            },
        )
        assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
        assert NEW_PASSWORD not in wrong.text
        mismatch = await client.submit(
            "/me/security/password",
            {
                "current_password": factories.PASSWORD,
                "password": NEW_PASSWORD,
                "password_confirm": "Other123",
            },
        )
        assert mismatch.status_code == 400 and "两次输入的密码不一致" in mismatch.text

        old_cookie = client.cookies.get("lm_session")
        done = await client.submit(
            "/me/security/password",
            {
                "current_password": factories.PASSWORD,
                "password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD,
            },
        )
        assert done.status_code == 303 and done.headers["location"] == "/me/security"
        assert client.cookies.get("lm_session") != old_cookie, "this device gets a new token"
        assert (await client.get("/me")).status_code == 200
        assert (await other.get("/me")).status_code != 200, "the other device is signed out"

    user = await User.objects().where(User.id == world.borrower.user_id).first()
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert await _sms("account.password_changed")
    assert "密码已修改" in (await _sms("account.password_changed"))[0]
    assert await InboxItem.exists().where(InboxItem.kind == "account.password_changed")
    assert await AuditEntry.exists().where(AuditEntry.action == "account.password_changed")


async def test_parallel_wrong_current_passwords_stop_at_the_limit(client, world):
    await login(client, "/login", world.borrower_mobile)
    form = {"current_password": "wrong1234", "password": NEW_PASSWORD}
    form["password_confirm"] = NEW_PASSWORD
    token = await client.csrf_token()
    responses = await asyncio.gather(
        *(
            client.post("/me/security/password", data={"_csrf_token": token, **form})
            for _ in range(9)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(400) == 5 and statuses.count(429) == 4
    # Even the right password waits out the window now.
    right = await client.submit(
        "/me/security/password",
        {**form, "current_password": factories.PASSWORD},
    )
    assert right.status_code == 429


async def test_forgot_password_reads_the_same_for_unknown_numbers(client, world, app):
    page = await client.get("/login")
    assert "/password/forgot" in {a["href"] for a in soup(page).select("a")}
    stranger = browser(app, "198.51.100.99")
    async with stranger:
        known = await client.submit(
            "/password/forgot", {"action": "send_code", "mobile": world.borrower_mobile}
        )
        unknown = await stranger.submit(
            "/password/forgot", {"action": "send_code", "mobile": "13800009999"}
        )
    assert known.status_code == unknown.status_code == 200
    assert _main_text(known).replace(world.borrower_mobile, "X") == _main_text(unknown).replace(
        "13800009999", "X"
    )
    # Nothing was sent during the request: the job looks the number up afterwards.
    assert await Notification.count() == 0
    await jobs.run_until_idle()
    sent = await Notification.objects()
    assert [n.recipient_masked for n in sent] == ["139****5678"], "no code to strangers"


async def test_reset_password_by_code_clears_the_lockout_and_ends_sessions(app, client, world):
    phone = browser(app, "203.0.113.10", IPHONE)
    async with phone:
        await login(phone, "/login", world.borrower_mobile)
        for _ in range(5):
            await client.submit("/login", {"login": world.borrower_mobile, "password": "bad12345"})
        locked = await client.submit(
            "/login", {"login": world.borrower_mobile, "password": factories.PASSWORD}
        )
        assert locked.status_code == 429

        await client.submit(
            "/password/forgot", {"action": "send_code", "mobile": world.borrower_mobile}
        )
        await jobs.run_until_idle()
        code = await _reset_code()
        reset = {
            "action": "reset",
            "mobile": world.borrower_mobile,
            "code": code,
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        }
        weak = await client.submit("/password/forgot", {**reset, "password": "short"})
        assert weak.status_code == 400
        assert soup(weak).select_one("input[name=mobile]")["value"] == world.borrower_mobile
        done = await client.submit("/password/forgot", reset)
        assert done.status_code == 303 and done.headers["location"] == "/login"
        assert (await phone.get("/me")).status_code != 200, "every session ended"
        again = await client.submit("/password/forgot", reset)
        assert again.status_code == 400 and "验证码不正确或已过期" in again.text

    await login(client, "/login", world.borrower_mobile, NEW_PASSWORD)
    entry = await AuditEntry.objects().where(AuditEntry.action == "account.password_reset").first()
    assert entry.actor_id == world.borrower.user_id and entry.ip == "198.51.100.7"
    assert world.borrower_mobile not in str(entry.detail)
    assert await InboxItem.exists().where(InboxItem.kind == "account.password_reset")


async def test_reset_codes_hold_under_parallel_guesses(client, world):
    await client.submit(
        "/password/forgot", {"action": "send_code", "mobile": world.borrower_mobile}
    )
    await jobs.run_until_idle()
    code = await _reset_code()
    base = {
        "action": "reset",
        "mobile": world.borrower_mobile,
        "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD,
    }
    token = await client.csrf_token()
    # Two requests with the right code: only one resets.
    responses = await asyncio.gather(
        *(
            client.post("/password/forgot", data={"_csrf_token": token, **base, "code": code})
            for _ in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [303, 400]

    await cache.redis().delete(f"smscode:cooldown:password_reset:{(await _user()).login_key}")
    await client.submit(
        "/password/forgot", {"action": "send_code", "mobile": world.borrower_mobile}
    )
    await jobs.run_until_idle()
    fresh = sorted(await _sms("password_reset_code"))
    new_code = next(re.search(r"\d{6}", b).group() for b in fresh if code not in b)
    wrong = "000000" if new_code != "000000" else "111111"
    guesses = await asyncio.gather(
        *(
            client.post("/password/forgot", data={"_csrf_token": token, **base, "code": wrong})
            for _ in range(8)
        )
    )
    assert all(r.status_code == 400 for r in guesses)
    # Five wrong tries burnt the code: the right one no longer works.
    late = await client.submit("/password/forgot", {**base, "code": new_code})
    assert late.status_code == 400 and "验证码不正确或已过期" in late.text


async def _user() -> User:
    return await User.objects().where(User.kind == "borrower").first()


async def test_reset_code_requests_are_limited_per_address_in_parallel(client):
    token = await client.csrf_token()
    responses = await asyncio.gather(
        *(
            client.post(
                "/password/forgot",
                data={"_csrf_token": token, "action": "send_code", "mobile": f"1390000{i:04d}"},
            )
            for i in range(14)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10 and statuses.count(429) == 4


@pytest.mark.parametrize(
    "form",
    [
        {"action": "send_code", "mobile": "１３９１２３４５６７８９９９"},
        {"action": "send_code", "mobile": "x" * 5000},
        {"action": "send_code", "mobile": ["13912345678", "13800000000"]},
        {"action": "reset", "mobile": "13912345678", "code": "9" * 10_000, "password": "abc12345"},
        {"action": "reset", "mobile": "13912345678", "code": "１２３４５６"},
        {"action": "reset", "mobile": "-1", "code": "", "password": ""},
    ],
)
async def test_hostile_forgot_password_input_is_a_clear_error(client, world, form):
    response = await client.submit("/password/forgot", form)
    assert response.status_code == 400
    assert soup(response).select(".field__error, .error-summary")


async def test_forgot_password_needs_the_csrf_token(client, world):
    response = await client.post(
        "/password/forgot", data={"action": "send_code", "mobile": world.borrower_mobile}
    )
    assert response.status_code == 403


async def test_devices_are_listed_masked_and_can_be_ended(app, client, world):
    phone = browser(app, "123.45.67.89", IPHONE)
    async with phone:
        await login(phone, "/login", world.borrower_mobile)
        await login(client, "/login", world.borrower_mobile)
        page = await client.get("/me/security")
        rows = soup(page).select("tbody tr")
        assert len(rows) == 2
        text = page.text
        assert "123.45.*.*" in text and "123.45.67.89" not in text
        assert "iPhone · 微信" in text and "本机" in text
        phone_id = next(
            row.select_one("input[name=session_id]")["value"]
            for row in rows
            if "iPhone" in row.get_text()
        )

        # Another borrower cannot end it.
        stranger = await factories.user("borrower", "13700001111", "borrower", None, "路人")
        intruder = browser(app, "198.51.100.50")
        async with intruder:
            await login(intruder, "/login", "13700001111")
            refused = await intruder.submit("/me/security/sessions/end", {"session_id": phone_id})
            assert refused.status_code == 404
            junk = await intruder.submit("/me/security/sessions/end", {"session_id": "x" * 9000})
            assert junk.status_code == 404
        assert stranger.user_id
        assert (await phone.get("/me")).status_code == 200

        ended = await client.submit("/me/security/sessions/end", {"session_id": phone_id})
        assert ended.status_code == 303
        assert (await phone.get("/me")).status_code != 200
        assert len(soup(await client.get("/me/security")).select("tbody tr")) == 1
    assert await AuditEntry.exists().where(AuditEntry.action == "account.sessions_ended")


async def test_end_all_other_devices_keeps_this_one(app, client, world):
    others = [browser(app, f"203.0.113.{i}") for i in range(3)]
    for other in others:
        await login(other, "/login", world.borrower_mobile)
    await login(client, "/login", world.borrower_mobile)
    response = await client.submit("/me/security/sessions/end-others")
    assert response.status_code == 303
    for other in others:
        assert (await other.get("/me")).status_code != 200
        await other.aclose()
    assert (await client.get("/me")).status_code == 200
    assert len(soup(await client.get("/me/security")).select("tbody tr")) == 1


async def test_session_index_is_bounded_and_drops_expired_sessions(app, client, world):
    browsers = [browser(app, f"203.0.113.{i}") for i in range(MAX_SESSIONS_PER_USER + 2)]
    for other in browsers:
        await login(other, "/login", world.borrower_mobile)
    index = f"usersessions:{world.borrower.user_id}"
    assert await cache.redis().zcard(index) == MAX_SESSIONS_PER_USER
    assert await cache.redis().ttl(index) > 0
    # The oldest sessions were ended to make room.
    assert (await browsers[0].get("/me")).status_code != 200
    assert (await browsers[-1].get("/me")).status_code == 200

    # A session that expires in Redis disappears from the list.
    live = await cache.redis().zrange(index, 0, -1)
    await cache.redis().delete(f"session:{live[0]}")
    page = await browsers[-1].get("/me/security")
    assert len(soup(page).select("tbody tr")) == MAX_SESSIONS_PER_USER - 1
    assert await cache.redis().zcard(index) == MAX_SESSIONS_PER_USER - 1
    for other in browsers:
        await other.aclose()


async def _codes_by_template() -> dict[str, str]:
    rows = await Notification.objects().order_by(Notification.id)
    return {
        row.template: re.search(
            r"\d{6}", decrypt_field(row.body_encrypted, context=BODY_CONTEXT)
        ).group()
        for row in rows
        if row.template.startswith("phone_change")
    }


async def test_change_phone_needs_both_codes(app, client, world):
    await login(client, "/login", world.borrower_mobile)
    sent = await client.submit(
        "/me/security/phone", {"action": "send_code", "mobile": "13600001234"}
    )
    assert sent.status_code == 200
    codes = await _codes_by_template()
    assert set(codes) == {"phone_change_old_code", "phone_change_new_code"}
    recipients = {n.template: n.recipient_masked for n in await Notification.objects()}
    assert recipients["phone_change_old_code"] == "139****5678"
    assert recipients["phone_change_new_code"] == "136****1234"

    only_new = await client.submit(
        "/me/security/phone",
        {"action": "change", "mobile": "13600001234", "old_code": "", "new_code": "123456"},
    )
    assert only_new.status_code == 400 and "请输入原手机号收到的验证码" in only_new.text
    assert soup(only_new).select_one("input[name=mobile]")["value"] == "13600001234"

    done = await client.submit(
        "/me/security/phone",
        {
            "action": "change",
            "mobile": "13600001234",
            "old_code": codes["phone_change_old_code"],
            "new_code": codes["phone_change_new_code"],
        },
    )
    assert done.status_code == 303
    user = await User.objects().where(User.id == world.borrower.user_id).first()
    assert user.mobile_masked == "136****1234"
    assert "13600001234" not in user.mobile_encrypted + user.login_key
    told = await Notification.objects().where(Notification.template == "phone_changed").first()
    assert told.recipient_masked == "139****5678"
    assert await AuditEntry.exists().where(AuditEntry.action == "account.phone_changed")

    fresh = browser(app, "198.51.100.60")
    async with fresh:
        await login(fresh, "/login", "13600001234")
        old = await fresh.submit(
            "/login", {"login": world.borrower_mobile, "password": factories.PASSWORD}
        )
        assert old.status_code == 400


async def test_change_phone_to_a_registered_number_sends_it_nothing(client, world):
    await factories.user("borrower", "13700002222", "borrower", None, "别人")
    await login(client, "/login", world.borrower_mobile)
    sent = await client.submit(
        "/me/security/phone", {"action": "send_code", "mobile": "13700002222"}
    )
    assert sent.status_code == 200 and "验证码已发送" in sent.text
    codes = await _codes_by_template()
    assert set(codes) == {"phone_change_old_code"}, "no code to a number with an account"
    refused = await client.submit(
        "/me/security/phone",
        {
            "action": "change",
            "mobile": "13700002222",
            "old_code": codes["phone_change_old_code"],
            "new_code": "000000",
        },
    )
    assert refused.status_code == 400 and "验证码不正确或已过期" in refused.text
    user = await User.objects().where(User.id == world.borrower.user_id).first()
    assert user.mobile_masked == "139****5678"


@pytest.mark.parametrize(
    "form",
    [
        {"action": "send_code", "mobile": "13912345678"},
        {"action": "send_code", "mobile": "１" * 3000},
        {"action": "change", "mobile": "13600001234", "old_code": "9" * 5000, "new_code": "1"},
        {"action": "change", "mobile": ["13600001234", "1"], "old_code": "1", "new_code": "1"},
    ],
)
async def test_hostile_change_phone_input_is_a_clear_error(client, world, form):
    await login(client, "/login", world.borrower_mobile)
    response = await client.submit("/me/security/phone", form)
    assert response.status_code == 400
    assert soup(response).select(".field__error, .error-summary")
