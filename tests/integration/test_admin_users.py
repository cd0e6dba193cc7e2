"""Users for operators (A1, issue 11): search borrowers through the blind index or an
application reference, staff and operators by e-mail; freeze / unfreeze with a reason
(the account's sessions end at once and it cannot sign in on any of the three sign-in
pages), password resets, ending sessions, resetting an operator's second factor (super
admin only); the last active super admin cannot be frozen, even by parallel requests."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from marketplace import jobs
from marketplace.accounts.management import change_status
from marketplace.accounts.tables import AccountStatusChange, User
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.errors import InvalidTransition
from marketplace.notifications.tables import Notification
from server.sessions import end_sessions
from tests import factories
from tests.fixtures import Client, login, soup
from tests.integration.test_partners import last_email, link_in

ROOT = "root@loanmart.example"
ROOT2 = "root2@loanmart.example"
SERVICE = "service@loanmart.example"
REASON = "用户来电称手机丢失，申请冻结"


async def _super_admin(client: Client, email: str = ROOT, name: str = "超管") -> factories.Actor:
    actor = await factories.user("operator", email, "super_admin", None, name)
    await login(client, "/admin/login", email)
    return actor


async def _status(user_id: int) -> str:
    row = await User.select(User.status).where(User.id == user_id).first()
    return row["status"]


async def _audits(action: str) -> list[dict]:
    return await AuditEntry.select().where(AuditEntry.action == action).output(load_json=True)


def _signed_out(response: httpx.Response) -> None:
    """An old session cookie is no longer a sign-in: the page sends it to its login."""
    assert response.status_code == 303, response.status_code
    assert "/login" in response.headers["location"]


@pytest.fixture
async def third_client(app):
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 50002))
    async with Client(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_borrowers_are_found_by_exact_number_or_reference_never_by_part(client, world):
    await _super_admin(client)
    found = await client.submit(
        "/admin/users/search", {"search_kind": "borrower", "q": world.borrower_mobile}
    )
    assert found.status_code == 200
    page = soup(found)
    rows = page.select("tbody tr")
    assert len(rows) == 1 and "张伟" in rows[0].text and "139****5678" in rows[0].text
    assert world.borrower_mobile not in rows[0].text, "the number is shown masked"
    # A search posts its query: the number never sits in an address.
    assert page.select_one("form[role=search]")["method"] == "post"

    partial = await client.submit(
        "/admin/users/search", {"search_kind": "borrower", "q": world.borrower_mobile[:7]}
    )
    assert partial.status_code == 400
    assert "请输入完整的11位手机号" in partial.text
    assert soup(partial).select_one("input[name=q]")["value"] == world.borrower_mobile[:7]

    application_id = await factories.application_in(world, status="delivered")
    reference = (
        await Application.select(Application.reference)
        .where(Application.id == application_id)
        .first()
    )["reference"]
    by_reference = soup(
        await client.submit(
            "/admin/users/search", {"search_kind": "borrower", "q": reference.lower()}
        )
    )
    assert [a["href"] for a in by_reference.select("tbody a.table__primary")] == [
        f"/admin/users/{world.borrower.user_id}"
    ]
    detail = soup(await client.get(f"/admin/users/{world.borrower.user_id}"))
    assert "贷款申请（共 1 笔）" in detail.text and reference in detail.text

    nothing = await client.submit(
        "/admin/users/search", {"search_kind": "borrower", "q": "13800000000"}
    )
    assert nothing.status_code == 200 and "没有找到账号" in nothing.text


async def test_staff_and_operators_by_email_and_the_list_filters(client, world):
    await _super_admin(client)
    staff = soup(
        await client.submit("/admin/users/search", {"search_kind": "staff", "q": "TEST-BANK"})
    )
    assert [a.text.strip() for a in staff.select("tbody a.table__primary")] == ["王敏"]
    operators = soup(
        await client.submit("/admin/users/search", {"search_kind": "operator", "q": "auditor@"})
    )
    assert [a.text.strip() for a in operators.select("tbody a.table__primary")] == ["审计员"]
    # LIKE wildcards typed by the operator match themselves, not everything.
    wildcard = soup(await client.submit("/admin/users/search", {"search_kind": "staff", "q": "%"}))
    assert not wildcard.select("tbody tr")

    listed = soup(await client.get(f"/admin/users?kind=staff&institution={world.other_bank_id}"))
    assert [a.text.strip() for a in listed.select("tbody a.table__primary")] == ["李静"]
    junk = await client.get("/admin/users?kind=%00&status=<b>&institution=-1&page=99999999999")
    assert junk.status_code == 200


@pytest.mark.parametrize(
    ("kind", "q", "message"),
    [
        ("borrower", "1" * 5000, "请输入完整的11位手机号"),
        ("borrower", "13912345678' OR 1=1 --", "请输入完整的11位手机号或申请编号"),
        ("borrower", "<script>alert(1)</script>", "请输入完整的11位手机号或申请编号"),
        ("borrower", "\u0000\u202e1391234", "无法识别的字符"),
        ("staff", "x" * 129, "邮箱最多128个字符"),
        ("operator", "王敏@银行", "邮箱只能包含英文字母"),
        ("operator", "   ", "请输入要查找的内容"),
        ("robot", "a@b.cn", "请选择账号类型"),
    ],
)
async def test_hostile_searches_get_a_localised_error_and_keep_the_value(
    client, world, kind, q, message
):
    await _super_admin(client)
    response = await client.submit("/admin/users/search", {"search_kind": kind, "q": q})
    assert response.status_code == 400
    assert message in response.text
    assert "<script>alert(1)</script>" not in response.text
    if q.strip() and "\u0000" not in q:
        assert soup(response).select_one("input[name=q]")["value"] == q


async def test_freezing_a_borrower_ends_their_session_at_once_and_unfreezing_restores(
    client, staff_client, world
):
    await login(staff_client, "/login", world.borrower_mobile)
    assert (await staff_client.get("/me")).status_code == 200
    await _super_admin(client)

    frozen = await client.submit(
        f"/admin/users/{world.borrower.user_id}/status", {"action": "freeze", "reason": REASON}
    )
    assert frozen.status_code == 303
    assert await _status(world.borrower.user_id) == "frozen"

    # The old cookie is signed out on its very next request.
    _signed_out(await staff_client.get("/me"))
    refused = await staff_client.submit(
        "/login", {"login": world.borrower_mobile, "password": factories.PASSWORD}
    )
    assert refused.status_code == 400 and "该账号已被冻结" in refused.text

    page = soup(await client.get(f"/admin/users/{world.borrower.user_id}"))
    assert REASON in page.select_one("#history-title").find_parent("section").text
    assert "失败：账号已冻结" in page.text

    restored = await client.submit(
        f"/admin/users/{world.borrower.user_id}/status",
        {"action": "unfreeze", "reason": "核实本人"},
    )
    assert restored.status_code == 303
    await login(staff_client, "/login", world.borrower_mobile)
    history = await AccountStatusChange.select().order_by(AccountStatusChange.id)
    assert [(h["status"], h["reason"]) for h in history] == [
        ("frozen", REASON),
        ("active", "核实本人"),
    ]
    [freeze] = await _audits("user.freeze")
    assert freeze["object_id"] == str(world.borrower.user_id)
    assert freeze["detail"]["reason"] == REASON and freeze["actor_label"] == "超管"
    assert len(await _audits("user.unfreeze")) == 1


async def test_frozen_staff_and_operators_are_signed_out_and_refused(
    client, staff_client, third_client, world
):
    await _super_admin(client)
    await login(staff_client, "/console/login", "staff@test-bank.example")
    reviewer = await factories.user(
        "operator", "cs@loanmart.example", "customer_service", None, "客服小李"
    )
    await login(third_client, "/admin/login", "cs@loanmart.example")
    assert (await third_client.get("/admin/users")).status_code == 200

    for user_id in (world.staff.user_id, reviewer.user_id):
        response = await client.submit(
            f"/admin/users/{user_id}/status", {"action": "freeze", "reason": "离职交接"}
        )
        assert response.status_code == 303, response.text[:300]

    _signed_out(await staff_client.get("/console/"))
    _signed_out(await third_client.get("/admin/users"))
    console = await staff_client.submit(
        "/console/login", {"login": "staff@test-bank.example", "password": factories.PASSWORD}
    )
    assert console.status_code == 400 and "该账号已被冻结" in console.text
    admin = await third_client.submit(
        "/admin/login", {"login": "cs@loanmart.example", "password": factories.PASSWORD}
    )
    assert admin.status_code == 400 and "该账号已被冻结" in admin.text


async def test_a_reason_is_required_and_hostile_reasons_are_refused(client, world):
    await _super_admin(client)
    url = f"/admin/users/{world.borrower.user_id}/status"
    for reason, message in [
        ("", "请填写原因"),
        ("字", "原因应为2到200个字"),
        ("长" * 201, "原因应为2到200个字"),
        ("坏\u0000字符", "原因含有无法识别的字符"),
    ]:
        response = await client.submit(url, {"action": "freeze", "reason": reason})
        assert response.status_code == 400, reason
        assert message in response.text
    html = "<img src=x onerror=alert(1)>; DROP TABLE app_user;"
    kept = await client.submit(url, {"action": "freeze", "reason": "长" * 201 + html})
    assert kept.status_code == 400
    assert soup(kept).select_one("textarea[name=reason]").text == "长" * 201 + html
    assert "<img src=x" not in kept.text
    assert await _status(world.borrower.user_id) == "active"
    assert not await _audits("user.freeze")


async def test_parallel_freeze_clicks_freeze_once(client, world):
    await _super_admin(client)
    url = f"/admin/users/{world.borrower.user_id}/status"
    responses = await asyncio.gather(
        *(client.submit(url, {"action": "freeze", "reason": REASON}) for _ in range(6))
    )
    assert {r.status_code for r in responses} == {303}
    assert await AccountStatusChange.count() == 1
    assert len(await _audits("user.freeze")) == 1


async def test_the_last_active_super_admin_cannot_be_frozen_even_in_parallel(
    client, staff_client, world
):
    first = await _super_admin(client, ROOT, "超管甲")
    second = await _super_admin(staff_client, ROOT2, "超管乙")

    themselves = await client.submit(
        f"/admin/users/{first.user_id}/status", {"action": "freeze", "reason": "测试自我冻结"}
    )
    assert themselves.status_code == 400 and "不能冻结或停用自己的账号" in themselves.text

    # Each freezes the other at the same moment: one of them must stay.
    results = await asyncio.gather(
        client.submit(
            f"/admin/users/{second.user_id}/status", {"action": "freeze", "reason": "互相冻结"}
        ),
        staff_client.submit(
            f"/admin/users/{first.user_id}/status", {"action": "freeze", "reason": "互相冻结"}
        ),
    )
    statuses = [await _status(first.user_id), await _status(second.user_id)]
    assert sorted(statuses) == ["active", "frozen"], [r.status_code for r in results]
    assert all(r.status_code in (303, 403, 409) for r in results)
    assert await AccountStatusChange.count() == 1


async def test_the_last_active_super_admin_cannot_be_frozen_by_anyone(world):
    """The rule does not rest on the actor being a super admin: any role that may manage
    operators (the matrix is editable) is refused the last one."""
    root = await factories.user("operator", ROOT, "super_admin", None, "超管")
    other = await factories.user("operator", ROOT2, "super_admin", None, "超管乙")
    await User.update({User.status: "frozen"}).where(User.id == other.user_id)
    service = await factories.user("operator", SERVICE, "customer_service", None, "客服")
    manager = replace(service, permissions=service.permissions | {"operator.manage"})
    with pytest.raises(InvalidTransition, match="最后一位正常状态的超级管理员"):
        await change_status(manager, root.user_id, "frozen", "测试冻结", end_sessions)
    assert await _status(root.user_id) == "active"
    # With a second active super admin, either may be frozen.
    assert await change_status(manager, other.user_id, "active", "复职", end_sessions)
    assert await change_status(manager, root.user_id, "frozen", "测试冻结", end_sessions)


async def test_customer_service_manages_borrowers_but_not_operators(client, world):
    service = await factories.user("operator", SERVICE, "customer_service", None, "客服")
    root = await factories.user("operator", ROOT, "super_admin", None, "超管")
    await login(client, "/admin/login", SERVICE)
    page = soup(await client.get(f"/admin/users/{world.borrower.user_id}"))
    assert page.select_one("button[value=freeze]")
    assert not page.select_one("button[formaction$='/second-factor']")
    operator_page = soup(await client.get(f"/admin/users/{root.user_id}"))
    assert not operator_page.select_one("button[value=freeze]")
    refused = await client.submit(
        f"/admin/users/{root.user_id}/status", {"action": "freeze", "reason": "越权冻结"}
    )
    assert refused.status_code == 403
    reset = await client.submit(
        f"/admin/users/{root.user_id}/second-factor", {"reason": "越权重置"}
    )
    assert reset.status_code == 403
    assert await _status(root.user_id) == "active" and service.user_id


async def test_the_auditor_reads_but_changes_nothing(client, world):
    await login(client, "/admin/login", "auditor@loanmart.example")
    header = soup(await client.get("/admin/"))
    assert header.select_one("a[href='/admin/users']")
    page = soup(await client.get(f"/admin/users/{world.borrower.user_id}"))
    assert not page.select("#actions-title ~ form")
    refused = await client.submit(
        f"/admin/users/{world.borrower.user_id}/status", {"action": "freeze", "reason": "审计冻结"}
    )
    assert refused.status_code == 403
    assert await _status(world.borrower.user_id) == "active"


async def test_roles_without_user_view_see_no_link_and_are_refused(client, world):
    await login(client, "/admin/login", "reviewer@loanmart.example")
    assert not soup(await client.get("/admin/")).select_one("a[href='/admin/users']")
    assert (await client.get("/admin/users")).status_code == 403
    assert (await client.get(f"/admin/users/{world.borrower.user_id}")).status_code == 403


async def test_resetting_an_operators_second_factor_makes_them_enrol_again(
    client, staff_client, world
):
    await _super_admin(client)
    service = await factories.user("operator", SERVICE, "customer_service", None, "客服")
    await login(staff_client, "/admin/login", SERVICE)

    reset = await client.submit(
        f"/admin/users/{service.user_id}/second-factor", {"reason": "更换手机"}
    )
    assert reset.status_code == 303
    row = await User.select(User.totp_secret_encrypted).where(User.id == service.user_id).first()
    assert row["totp_secret_encrypted"] is None
    # Signed out at once; the next sign-in asks for a new authenticator.
    _signed_out(await staff_client.get("/admin/users"))
    again = await staff_client.submit(
        "/admin/login", {"login": SERVICE, "password": factories.PASSWORD}
    )
    assert again.headers["location"] == "/admin/login/verify"
    enrol = soup(await staff_client.get("/admin/login/verify"))
    assert enrol.select_one("a[href^='otpauth://']"), "the enrolment step, with a new key"
    [entry] = await _audits("operator.totp_reset")
    assert entry["detail"]["reason"] == "更换手机"

    twice = await client.submit(
        f"/admin/users/{service.user_id}/second-factor", {"reason": "更换手机"}
    )
    assert twice.status_code == 303 and len(await _audits("operator.totp_reset")) == 1


async def test_ending_every_session_of_an_account(client, staff_client, third_client, world):
    await _super_admin(client)
    await login(staff_client, "/login", world.borrower_mobile)
    await login(third_client, "/login", world.borrower_mobile)
    page = soup(await client.get(f"/admin/users/{world.borrower.user_id}"))
    assert "2 个" in page.text
    ended = await client.submit(
        f"/admin/users/{world.borrower.user_id}/sessions", {"reason": "疑似账号被盗"}
    )
    assert ended.status_code == 303
    for other in (staff_client, third_client):
        _signed_out(await other.get("/me"))
    [entry] = await _audits("user.sessions_ended")
    assert entry["detail"]["count"] == 2
    assert await _status(world.borrower.user_id) == "active"


async def test_a_borrowers_password_reset_is_an_sms_code_sent_by_the_worker(client, world):
    await _super_admin(client)
    url = f"/admin/users/{world.borrower.user_id}/password-reset"
    sent = await client.submit(url, {"reason": "用户来电忘记密码"})
    assert sent.status_code == 303
    await jobs.run_until_idle()
    [sms] = await Notification.objects().where(Notification.template == "password_reset_code")
    assert sms.recipient_masked == "139****5678"
    again = await client.submit(url, {"reason": "用户来电忘记密码"})
    assert again.status_code == 429 and "请60秒后再试" in again.text
    [entry] = await _audits("user.password_reset_sent")
    assert entry["detail"]["channel"] == "sms"
    assert world.borrower_mobile not in str(entry["detail"])


async def test_a_staff_password_reset_is_a_one_time_link(client, staff_client, world):
    await _super_admin(client)
    sent = await client.submit(
        f"/admin/users/{world.staff.user_id}/password-reset", {"reason": "机构来电申请"}
    )
    assert sent.status_code == 303
    path = link_in(await last_email("account.set_password"), "/console/set-password")
    # The staff link does not work on the operators' page.
    token = path.rsplit("/", 1)[1]
    assert (await staff_client.get(f"/admin/set-password/{token}")).status_code == 404
    assert (await staff_client.get(path)).status_code == 200
    weak = await staff_client.submit(path, {"password": "short", "confirm": "short"})
    assert weak.status_code == 400
    done = await staff_client.submit(path, {"password": "NewPass2026", "confirm": "NewPass2026"})
    assert done.status_code == 303 and done.headers["location"] == "/console/login"
    await login(staff_client, "/console/login", "staff@test-bank.example", "NewPass2026")
    assert (await staff_client.get(path)).status_code == 404, "single use"


async def test_a_frozen_account_gets_no_password_reset(client, world):
    await _super_admin(client)
    await client.submit(
        f"/admin/users/{world.staff.user_id}/status", {"action": "freeze", "reason": "离职"}
    )
    refused = await client.submit(
        f"/admin/users/{world.staff.user_id}/password-reset", {"reason": "机构来电申请"}
    )
    assert refused.status_code == 409 and "请先解冻" in refused.text


async def test_unknown_accounts_are_404(client, world):
    await _super_admin(client)
    assert (await client.get("/admin/users/999999")).status_code == 404
    missing = await client.submit(
        "/admin/users/999999/status", {"action": "freeze", "reason": "不存在"}
    )
    assert missing.status_code == 404
    assert (await client.get("/admin/users/99999999999")).status_code == 404


async def test_the_demo_has_a_frozen_borrower_and_a_disabled_staff_member(client):
    from marketplace.demo.catalogue import DEMO_PASSWORD
    from marketplace.demo.seed import seed_demo
    from marketplace.demo.users import (
        DISABLED_STAFF_EMAIL,
        DISABLED_STAFF_REASON,
        FROZEN_BORROWER_MOBILE,
        FROZEN_BORROWER_REASON,
    )

    await seed_demo()
    history = await AccountStatusChange.select(
        AccountStatusChange.reason, AccountStatusChange.user.kind.as_alias("kind")
    )
    assert sorted((h["kind"], h["reason"]) for h in history) == [
        ("borrower", FROZEN_BORROWER_REASON),
        ("staff", DISABLED_STAFF_REASON),
    ]
    frozen = await client.submit(
        "/login", {"login": FROZEN_BORROWER_MOBILE, "password": DEMO_PASSWORD}
    )
    assert frozen.status_code == 400 and "该账号已被冻结" in frozen.text
    intern = await User.objects().where(User.login_key == DISABLED_STAFF_EMAIL).first()
    assert intern.status == "frozen" and intern.role == "loan_officer"
