"""Operators sign in with a password AND a TOTP code (PRODUCT.md §1)."""

from __future__ import annotations

from marketplace.accounts.second_factor import ENCRYPTION_CONTEXT
from marketplace.accounts.tables import User
from marketplace.audit.tables import AuditEntry
from marketplace.security import current_totp_code, decrypt_field
from tests.factories import OPERATOR_TOTP_SECRET, PASSWORD
from tests.fixtures import soup


async def _password_step(client, login="reviewer@loanmart.example"):
    response = await client.submit("/admin/login", {"login": login, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login/verify"


async def test_password_alone_signs_nobody_in(client, world):
    await _password_step(client)
    assert (await client.get("/admin/")).status_code == 303
    page = await client.get("/admin/login/verify")
    assert page.status_code == 200 and "身份验证器" in page.text
    assert "密钥" not in page.text, "an enrolled operator is not shown a new key"


async def test_code_signs_in_once_and_cannot_be_replayed(client, world):
    await _password_step(client)
    wrong = await client.submit("/admin/login/verify", {"code": "000000"})
    assert wrong.status_code == 400 and "验证码不正确" in wrong.text
    code = current_totp_code(OPERATOR_TOTP_SECRET)
    ok = await client.submit("/admin/login/verify", {"code": code})
    assert ok.status_code == 303
    assert (await client.get("/admin/")).status_code == 200
    actions = [row["action"] for row in await AuditEntry.select().order_by(AuditEntry.id)]
    assert actions == ["auth.login", "auth.second_factor_failed", "auth.second_factor"]

    await client.post("/admin/logout", data={"_csrf_token": await client.csrf_token()})
    await _password_step(client)
    replay = await client.submit("/admin/login/verify", {"code": code})
    assert replay.status_code == 400, "a code is accepted once (RFC 6238 §5.2)"


async def test_too_many_wrong_codes_end_the_attempt(client, world):
    await _password_step(client)
    for _ in range(5):
        await client.submit("/admin/login/verify", {"code": "000000"})
    response = await client.submit(
        "/admin/login/verify", {"code": current_totp_code(OPERATOR_TOTP_SECRET)}
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin/login"
    assert (await client.get("/admin/")).status_code == 303


async def test_first_sign_in_enrols_an_authenticator(client, world):
    await User.update({User.totp_secret_encrypted: None}).where(User.id == world.operator.user_id)
    await _password_step(client)
    page = soup(await client.get("/admin/login/verify"))
    secret = page.select_one("code.totp-secret").get_text().replace(" ", "")
    assert page.select_one("a[href^='otpauth://totp/']") is not None
    response = await client.submit("/admin/login/verify", {"code": current_totp_code(secret)})
    assert response.status_code == 303
    user = await User.objects().where(User.id == world.operator.user_id).first()
    assert secret not in user.totp_secret_encrypted
    assert decrypt_field(user.totp_secret_encrypted, context=ENCRYPTION_CONTEXT) == secret
    assert await AuditEntry.exists().where(AuditEntry.action == "operator.totp_enrol")
