"""Institution admins manage their own staff at /console/staff (issue 11 A1): invite with
a one-time set-password link, change role, disable / enable with a reason (sessions end
at once). Another institution's staff are a 404; an admin cannot disable themselves or
leave the institution without an active institution_admin — also under parallel requests."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from marketplace.accounts.tables import AccountStatusChange, User
from marketplace.audit.tables import AuditEntry
from tests import factories
from tests.fixtures import Client, login, soup
from tests.integration.test_partners import last_email, link_in

ADMIN = "staff@test-bank.example"
DEPUTY = "deputy@test-bank.example"


async def _status(user_id: int) -> tuple[str, str]:
    row = await User.select(User.status, User.role).where(User.id == user_id).first()
    return row["status"], row["role"]


@pytest.fixture
async def deputy(world) -> factories.Actor:
    return await factories.user("staff", DEPUTY, "institution_admin", world.bank_id, "赵副")


@pytest.fixture
async def third_client(app):
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 50002))
    async with Client(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_the_list_shows_only_the_institutions_own_staff(client, world):
    officer = await factories.user(
        "staff", "officer@test-bank.example", "loan_officer", world.bank_id, "孙信贷"
    )
    await login(client, "/console/login", ADMIN)
    page = soup(await client.get("/console/staff"))
    names = [a.text.strip() for a in page.select("tbody a.table__primary")]
    assert names == ["王敏（我）", "孙信贷"]
    assert "李静" not in page.text
    assert page.select_one("a[href='/console/staff']"), "in the menu"
    assert "未绑定" in page.text

    other = world.other_staff.user_id
    assert (await client.get(f"/console/staff/{other}")).status_code == 404
    for path, data in [
        (f"/console/staff/{other}/status", {"action": "disable", "reason": "越权停用"}),
        (f"/console/staff/{other}/role", {"role": "finance"}),
        (f"/console/staff/{other}/password-reset", {"reason": "越权重置"}),
    ]:
        assert (await client.submit(path, data)).status_code == 404, path
    assert await _status(other) == ("active", "institution_admin")
    # Borrowers and operators are no staff of anyone's.
    assert (await client.get(f"/console/staff/{world.borrower.user_id}")).status_code == 404
    assert (await client.get(f"/console/staff/{world.operator.user_id}")).status_code == 404
    assert officer.user_id


async def test_staff_without_staff_manage_see_no_link_and_are_refused(client, world):
    await factories.user(
        "staff", "officer@test-bank.example", "loan_officer", world.bank_id, "孙信贷"
    )
    await login(client, "/console/login", "officer@test-bank.example")
    assert not soup(await client.get("/console/")).select_one("a[href='/console/staff']")
    assert (await client.get("/console/staff")).status_code == 403
    invite = await client.submit(
        "/console/staff", {"email": "x@test-bank.example", "name": "某人", "role": "finance"}
    )
    assert invite.status_code == 403


async def test_an_invitation_sends_a_link_that_sets_the_password_once(client, staff_client, world):
    await login(client, "/console/login", ADMIN)
    invited = await client.submit(
        "/console/staff",
        {"email": "  New.Hire@Test-Bank.example ", "name": "周新", "role": "finance"},
    )
    assert invited.status_code == 303
    user = await User.objects().where(User.login_key == "new.hire@test-bank.example").first()
    assert (user.kind, user.role, user.institution) == ("staff", "finance", world.bank_id)
    # No usable password until the link is used.
    refused = await staff_client.submit(
        "/console/login", {"login": "new.hire@test-bank.example", "password": factories.PASSWORD}
    )
    assert refused.status_code == 400

    path = link_in(await last_email("account.set_password"), "/console/set-password")
    mismatch = await staff_client.submit(path, {"password": "Welcome2026", "confirm": "Other2026"})
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in mismatch.text
    done = await staff_client.submit(path, {"password": "Welcome2026", "confirm": "Welcome2026"})
    assert done.status_code == 303
    await login(staff_client, "/console/login", "new.hire@test-bank.example", "Welcome2026")
    assert (await staff_client.get("/console/settlement")).status_code == 200
    assert (await staff_client.get(path)).status_code == 404

    again = await client.submit(
        "/console/staff", {"email": "new.hire@test-bank.example", "name": "周新", "role": "finance"}
    )
    assert again.status_code == 400 and "该邮箱已有机构用户账号" in again.text
    [entry] = await AuditEntry.select().where(AuditEntry.action == "staff.invite")
    assert entry["object_id"] == str(user.id) and entry["institution_id"] == world.bank_id


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"email": "", "name": "某人", "role": "finance"}, "email", "请填写工作邮箱"),
        (
            {"email": "not-an-email", "name": "某人", "role": "finance"},
            "email",
            "请填写正确的电子邮箱",
        ),
        (
            {"email": "a@b.cn" + "x" * 200, "name": "某人", "role": "finance"},
            "email",
            "最多128个字",
        ),
        (
            {"email": "王@银行.cn", "name": "某人", "role": "finance"},
            "email",
            "请填写正确的电子邮箱",
        ),
        ({"email": "a@b.cn", "name": "", "role": "finance"}, "name", "请填写姓名"),
        ({"email": "a@b.cn", "name": "名" * 21, "role": "finance"}, "name", "姓名应为1到20个字"),
        (
            {"email": "a@b.cn", "name": "<b>x</b>\u0000", "role": "finance"},
            "name",
            "无法识别的字符",
        ),
        ({"email": "a@b.cn", "name": "某人", "role": "super_admin"}, "role", "请选择角色"),
        ({"email": "a@b.cn", "name": "某人", "role": "' OR 1=1"}, "role", "请选择角色"),
    ],
)
async def test_hostile_invitations_are_refused_with_the_values_kept(
    client, world, values, field, message
):
    await login(client, "/console/login", ADMIN)
    response = await client.submit("/console/staff", values)
    assert response.status_code == 400
    assert message in response.text
    page = soup(response)
    if field != "email" and values["email"]:
        assert page.select_one("input[name=email]")["value"] == values["email"]
    assert await User.count().where(User.kind == "staff") == 2


async def test_parallel_invitations_of_one_address_make_one_account(client, world):
    await login(client, "/console/login", ADMIN)
    form = {"email": "twin@test-bank.example", "name": "双胞胎", "role": "loan_officer"}
    responses = await asyncio.gather(*(client.submit("/console/staff", form) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [303, 400, 400, 400, 400]
    assert await User.count().where(User.login_key == "twin@test-bank.example") == 1


async def test_disabling_ends_sessions_at_once_and_enabling_restores(
    client, staff_client, world, deputy
):
    await login(client, "/console/login", ADMIN)
    await login(staff_client, "/console/login", DEPUTY)
    disabled = await client.submit(
        f"/console/staff/{deputy.user_id}/status", {"action": "disable", "reason": "休长假"}
    )
    assert disabled.status_code == 303
    signed_out = await staff_client.get("/console/")
    assert signed_out.status_code == 303 and "/console/login" in signed_out.headers["location"]
    refused = await staff_client.submit(
        "/console/login", {"login": DEPUTY, "password": factories.PASSWORD}
    )
    assert refused.status_code == 400 and "该账号已被冻结" in refused.text
    page = soup(await client.get(f"/console/staff/{deputy.user_id}"))
    assert "休长假" in page.text and "已停用" in page.text

    enabled = await client.submit(
        f"/console/staff/{deputy.user_id}/status", {"action": "enable", "reason": "销假"}
    )
    assert enabled.status_code == 303
    await login(staff_client, "/console/login", DEPUTY)
    assert [row["status"] for row in await AccountStatusChange.select()] == ["frozen", "active"]
    audits = await AuditEntry.select(AuditEntry.action).where(
        AuditEntry.action.is_in(["user.freeze", "user.unfreeze"])
    )
    assert sorted(a["action"] for a in audits) == ["user.freeze", "user.unfreeze"]


async def test_an_admin_cannot_disable_or_demote_themselves_or_the_last_admin(client, world):
    await login(client, "/console/login", ADMIN)
    me = world.staff.user_id
    themselves = await client.submit(
        f"/console/staff/{me}/status", {"action": "disable", "reason": "自己停用"}
    )
    assert themselves.status_code == 400 and "不能冻结或停用自己的账号" in themselves.text
    own_role = await client.submit(f"/console/staff/{me}/role", {"role": "finance"})
    assert own_role.status_code == 400 and "不能修改自己的角色" in own_role.text
    assert await _status(me) == ("active", "institution_admin")


async def test_role_changes_keep_one_active_admin(client, world, deputy):
    await login(client, "/console/login", ADMIN)
    promoted = await client.submit(
        f"/console/staff/{deputy.user_id}/role", {"role": "risk_officer"}
    )
    assert promoted.status_code == 303
    assert await _status(deputy.user_id) == ("active", "risk_officer")
    bad = await client.submit(f"/console/staff/{deputy.user_id}/role", {"role": "super_admin"})
    assert bad.status_code == 400 and "请选择角色" in bad.text
    [entry] = await AuditEntry.select().where(AuditEntry.action == "staff.role_change")
    assert entry["object_id"] == str(deputy.user_id)


async def test_a_role_change_ends_the_members_sessions(client, staff_client, world, deputy):
    await login(client, "/console/login", ADMIN)
    await login(staff_client, "/console/login", DEPUTY)
    assert (await staff_client.get("/console/staff")).status_code == 200
    demoted = await client.submit(f"/console/staff/{deputy.user_id}/role", {"role": "finance"})
    assert demoted.status_code == 303
    signed_out = await staff_client.get("/console/")
    assert signed_out.status_code == 303 and "/console/login" in signed_out.headers["location"]
    # The admin who changed it stays signed in; the member signs in again as finance.
    assert (await client.get("/console/staff")).status_code == 200
    await login(staff_client, "/console/login", DEPUTY)
    assert (await staff_client.get("/console/staff")).status_code == 403


async def test_two_admins_disabling_each_other_at_once_leave_one(
    client, staff_client, world, deputy
):
    await login(client, "/console/login", ADMIN)
    await login(staff_client, "/console/login", DEPUTY)
    results = await asyncio.gather(
        client.submit(
            f"/console/staff/{deputy.user_id}/status", {"action": "disable", "reason": "互相停用"}
        ),
        staff_client.submit(
            f"/console/staff/{world.staff.user_id}/status",
            {"action": "disable", "reason": "互相停用"},
        ),
    )
    statuses = sorted([(await _status(world.staff.user_id))[0], (await _status(deputy.user_id))[0]])
    assert statuses == ["active", "frozen"], [r.status_code for r in results]
    assert await AccountStatusChange.count() == 1


async def test_two_admins_demoting_each_other_at_once_leave_one(
    client, staff_client, world, deputy
):
    await login(client, "/console/login", ADMIN)
    await login(staff_client, "/console/login", DEPUTY)
    await asyncio.gather(
        client.submit(f"/console/staff/{deputy.user_id}/role", {"role": "finance"}),
        staff_client.submit(f"/console/staff/{world.staff.user_id}/role", {"role": "finance"}),
    )
    roles = sorted([(await _status(world.staff.user_id))[1], (await _status(deputy.user_id))[1]])
    assert roles == ["finance", "institution_admin"]


async def test_the_last_admin_is_protected_from_a_demoted_colleague_racing(
    client, staff_client, third_client, world, deputy
):
    """Three parallel requests against two admins: whatever order they run in, one
    active institution_admin remains."""
    await login(client, "/console/login", ADMIN)
    await login(staff_client, "/console/login", DEPUTY)
    await asyncio.gather(
        client.submit(
            f"/console/staff/{deputy.user_id}/status", {"action": "disable", "reason": "并发测试"}
        ),
        client.submit(f"/console/staff/{deputy.user_id}/role", {"role": "finance"}),
        staff_client.submit(
            f"/console/staff/{world.staff.user_id}/status",
            {"action": "disable", "reason": "并发测试"},
        ),
    )
    admins = await User.count().where(
        (User.institution == world.bank_id)
        & (User.role == "institution_admin")
        & (User.status == "active")
    )
    assert admins == 1


async def test_a_staff_password_reset_from_the_console(client, staff_client, world, deputy):
    await login(client, "/console/login", ADMIN)
    sent = await client.submit(
        f"/console/staff/{deputy.user_id}/password-reset", {"reason": "忘记密码"}
    )
    assert sent.status_code == 303
    again = await client.submit(
        f"/console/staff/{deputy.user_id}/password-reset", {"reason": "忘记密码"}
    )
    assert again.status_code == 429
    path = link_in(await last_email("account.set_password"), "/console/set-password")
    done = await staff_client.submit(path, {"password": "Reset2026ok", "confirm": "Reset2026ok"})
    assert done.status_code == 303
    await login(staff_client, "/console/login", DEPUTY, "Reset2026ok")


async def test_set_password_links_refuse_junk_and_expire(client, staff_client, world, deputy):
    from datetime import UTC, datetime, timedelta

    from marketplace.accounts.tables import AccountPasswordLink

    for token in ("x" * 65, "%00abc", "<script>", "' OR 1=1 --"):
        assert (await staff_client.get(f"/console/set-password/{token}")).status_code == 404
    await login(client, "/console/login", ADMIN)
    await client.submit(f"/console/staff/{deputy.user_id}/password-reset", {"reason": "忘记密码"})
    path = link_in(await last_email("account.set_password"), "/console/set-password")
    await AccountPasswordLink.update(
        {AccountPasswordLink.expires_at: datetime.now(UTC) - timedelta(minutes=1)}
    ).where(AccountPasswordLink.user == deputy.user_id)
    expired = await staff_client.submit(path, {"password": "Reset2026ok", "confirm": "Reset2026ok"})
    assert expired.status_code == 404
