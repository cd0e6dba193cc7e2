"""Registration by SMS code, sessions, CSRF, login limits, deny-by-default routing."""

from __future__ import annotations

import re

from marketplace import cache
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.audit.tables import AuditEntry
from marketplace.notifications.services import BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.security import decrypt_field
from tests.fixtures import login, soup


async def _last_sms_code() -> str:
    row = await Notification.objects().order_by(Notification.id, ascending=False).first()
    return re.search(r"\d{6}", decrypt_field(row.body_encrypted, context=BODY_CONTEXT)).group()


async def test_register_with_sms_code_then_signed_in(client):
    sent = await client.submit("/register", {"action": "send_code", "mobile": "139 0000 1111"})
    assert sent.status_code == 200 and "验证码已发送" in sent.text
    notification = await Notification.objects().first()
    assert notification.recipient_masked == "139****1111"
    assert "13900001111" not in notification.body_encrypted

    wrong = await client.submit(
        "/register",
        {
            "action": "register",
            "mobile": "13900001111",
            "code": "000000",
            "password": "abc12345",
            "password_confirm": "abc12345",
            "display_name": "小李",
        },
    )
    assert wrong.status_code == 400
    assert soup(wrong).select_one("input[name=mobile]")["value"] == "13900001111"
    assert "abc12345" not in wrong.text, "passwords are never echoed back"

    # A wrong code counts as a try; the real one still works within the limit.
    code = await _last_sms_code()
    response = await client.submit(
        "/register",
        {
            "action": "register",
            "mobile": "13900001111",
            "code": code,
            "password": "abc12345",
            "password_confirm": "abc12345",
            "display_name": "小李",
        },
    )
    assert response.status_code == 303
    user = await User.objects().where(User.kind == "borrower").first()
    assert user.mobile_masked == "139****1111"
    assert "13900001111" not in user.login_key
    home = await client.get("/me/applications")
    assert home.status_code == 200
    registered, signed_in = await AuditEntry.objects().order_by(AuditEntry.id)
    assert (registered.action, registered.actor_id) == ("borrower.register", user.id)
    assert (signed_in.action, signed_in.actor_id) == ("auth.login", user.id)
    assert registered.ip == signed_in.ip == "198.51.100.7"


async def test_code_resend_is_throttled(client):
    await client.submit("/register", {"action": "send_code", "mobile": "13900002222"})
    again = await client.submit("/register", {"action": "send_code", "mobile": "13900002222"})
    assert again.status_code == 429 and "60秒" in again.text
    assert 0 < int(again.headers["retry-after"]) <= 60
    assert await Notification.count() == 1


async def test_session_rotates_at_login_and_planted_ids_are_ignored(client, world):
    client.cookies.set("lm_session", "attacker-chosen-session-id", domain="testserver.local")
    await client.get("/login")
    await login(client, "/login", world.borrower_mobile)
    issued = client.cookies.get("lm_session")
    assert issued and issued != "attacker-chosen-session-id"
    assert await cache.redis().get("session:attacker-chosen-session-id") is None

    response = await client.post("/logout", data={"_csrf_token": await client.csrf_token()})
    assert response.status_code == 303
    keys = [key async for key in cache.redis().scan_iter("session:*")]
    assert keys == [], "logout deletes the server-side session"
    assert (await client.get("/me/applications")).status_code == 303


async def test_each_request_slides_the_idle_expiry(client, world):
    from server.sessions import IDLE_SECONDS, _key

    await login(client, "/login", world.borrower_mobile)
    key = _key(client.cookies.get("lm_session"))
    await cache.redis().expire(key, 60)  # as if the borrower had been away a while
    assert (await client.get("/me/applications")).status_code == 200
    assert await cache.redis().ttl(key) > IDLE_SECONDS - 60
    await cache.redis().delete(key)  # ended elsewhere: no session, nothing recreated
    assert (await client.get("/me/applications")).status_code == 303
    assert await cache.redis().exists(key) == 0


async def test_cookie_flags(client, world):
    response = await client.submit(
        "/login", {"login": world.borrower_mobile, "password": "Passw0rd!"}
    )
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("lm_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_writes_without_csrf_token_are_refused(client, world):
    response = await client.post(
        "/login", data={"login": world.borrower_mobile, "password": "Passw0rd!"}
    )
    assert response.status_code == 403
    assert "lm_session" not in response.headers.get("set-cookie", "")


async def test_failed_logins_are_limited_per_account(client, world):
    for _ in range(5):
        bad = await client.submit(
            "/console/login", {"login": "staff@test-bank.example", "password": "nope"}
        )
        assert bad.status_code == 400 and "账号或密码不正确" in bad.text
    blocked = await client.submit(
        "/console/login", {"login": "staff@test-bank.example", "password": "Passw0rd!"}
    )
    assert blocked.status_code == 429 and "过多" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0


async def test_forwarded_for_does_not_reset_the_address_limit(client, world):
    for attempt in range(30):
        await client.submit(
            "/login",
            {"login": f"1390000{attempt:04d}", "password": "wrong"},
            headers={"X-Forwarded-For": f"203.0.113.{attempt}"},
        )
    blocked = await client.submit(
        "/login",
        {"login": world.borrower_mobile, "password": "Passw0rd!"},
        headers={"X-Forwarded-For": "203.0.113.250"},
    )
    assert blocked.status_code == 429 and "过多" in blocked.text


async def test_every_route_declares_access(app):
    undeclared = [
        route.path
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        # Litestar's automatic OPTIONS handlers carry no opt; the guard denies them too.
        if handler.http_methods != {"OPTIONS"}
        and handler.opt.get("access") not in {"public", "borrower", "staff", "operator"}
    ]
    assert undeclared == []


async def test_console_chrome_names_the_staff_members_institution(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    header = soup(await client.get("/console/")).select_one("header")
    assert "测试银行" in header.get_text() and "王敏" in header.get_text()


async def test_audiences_are_separate(client, world):
    await login(client, "/login", world.borrower_mobile)
    assert (await client.get("/console/")).status_code == 303
    assert (await client.get("/admin/")).status_code == 303


async def test_permissions_deny_by_default(client, world):
    await login(client, "/admin/login", "auditor@loanmart.example")
    assert (await client.get("/admin/audit")).status_code == 200
    assert (await client.get("/admin/reviews/products")).status_code == 403


async def test_error_pages_use_the_design(client):
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert "页面不存在" in response.text
    assert soup(response).select_one("link[rel=stylesheet]") is not None
    assert (await client.get("/console/leads/999999")).status_code == 303


async def test_fragment_for_htmx_full_page_otherwise(client):
    full = await client.get("/products")
    fragment = await client.get("/products", headers={"HX-Request": "true"})
    boosted = await client.get("/products", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in full.text and "<html" not in fragment.text and "<html" in boosted.text
    assert full.headers["vary"] == "HX-Request"


async def test_session_cookie_is_secure_behind_https(monkeypatch):
    from dataclasses import replace

    from server import sessions

    monkeypatch.setattr(
        sessions, "settings", replace(sessions.settings, base_url="https://loanmart.example")
    )
    assert "Secure" in sessions._cookie_header("token", 60).decode()
    monkeypatch.setattr(
        sessions, "settings", replace(sessions.settings, base_url="http://127.0.0.1:8000")
    )
    assert "Secure" not in sessions._cookie_header("token", 60).decode()


async def test_htmx_writes_carry_the_token_in_a_header(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    token = await client.csrf_token()
    with_header = await client.post(
        "/console/products/preview",
        data={"amount_min": "1000"},
        headers={"HX-Request": "true", "x-csrftoken": token},
    )
    assert with_header.status_code == 200
    without = await client.post(
        "/console/products/preview", data={"amount_min": "1000"}, headers={"HX-Request": "true"}
    )
    assert without.status_code == 403


async def test_email_goes_through_the_same_recorded_notifier():
    from marketplace.notifications.services import send_email

    await send_email("Zhang.Wei@Example.com", "welcome", "欢迎使用 LoanMart")
    row = await Notification.objects().first()
    assert row.channel == "email" and row.recipient_masked.endswith("@example.com")
    assert "zhang.wei" not in row.recipient_masked
    assert decrypt_field(row.body_encrypted, context=BODY_CONTEXT) == "欢迎使用 LoanMart"


async def test_sign_in_failures_are_audited_without_the_login(client, world):
    unknown = "13955556666"
    await client.submit("/login", {"login": unknown, "password": "wrong1"})
    await client.submit("/console/login", {"login": "nobody@bank.example", "password": "wrong1"})
    await client.submit("/login", {"login": world.borrower_mobile, "password": "wrong1"})
    rows = await AuditEntry.select().order_by(AuditEntry.id)
    assert [row["action"] for row in rows] == ["auth.login_failed"] * 3
    assert rows[0]["object_id"] == "" and rows[0]["actor_id"] is None
    assert rows[0]["detail"]  # the blind index, so failures on one login can be grouped
    assert '"login_index": "' + mobile_login_key(unknown) + '"' in rows[0]["detail"]
    dumped = str(rows)
    assert unknown not in dumped and "nobody@bank.example" not in dumped
    assert world.borrower_mobile not in dumped
    borrower = await User.objects().where(User.kind == "borrower").first()
    assert rows[2]["object_id"] == str(borrower.id)
