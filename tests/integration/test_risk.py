"""Anti-fraud (A8): each rule, the hold the delivery job respects, the operators'
decisions (one wins), the blacklist kept as blind indexes only, and the pages."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import replace

import pytest

from marketplace import jobs
from marketplace.accounts.services import visitor
from marketplace.actors import Actor
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.db import transaction
from marketplace.errors import DomainError, InvalidTransition, PermissionDenied
from marketplace.inbox.tables import InboxItem
from marketplace.notifications.services import BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.parameters.services import change_parameter
from marketplace.risk.queries import hold_queue
from marketplace.risk.rules import AGE_RULE, INVALID_ID_RULE, HoldStatus
from marketplace.risk.services import (
    ApplicationCase,
    add_to_blacklist,
    decide_hold,
    identity_hits,
    rule_parameters,
    screen_application,
    screen_registration,
)
from marketplace.risk.tables import BlacklistEntry, RiskEvent, RiskHold, RiskObservation
from marketplace.security import decrypt_field
from tests import factories
from tests.factories import application_form, listed_product, valid_id_number
from tests.fixtures import apply_form_secrets, login, soup


def _detail(value: object) -> dict:
    return value if isinstance(value, dict) else json.loads(str(value))


async def _officer(login_name: str = "risk@loanmart.example") -> Actor:
    return await factories.user("operator", login_name, "risk_officer", None, "风控员")


async def _set(**values: object) -> None:
    root = await factories.user(
        "operator", f"root-{secrets.token_hex(4)}@loanmart.example", "super_admin", None, "超管"
    )
    for key, value in values.items():
        await change_parameter(root, key, value)


def _applicant(device: str = "", ip: str = "") -> Actor:
    return Actor(user_id=None, kind="borrower", label="借款人", ip=ip, device=device)


def _case(number: int, mobile: str = "", id_number: str = "") -> ApplicationCase:
    return ApplicationCase(number, f"LMTEST{number:04d}", 1, None, mobile, id_number)


async def _screen(actor: Actor, case: ApplicationCase) -> bool:
    async with transaction():
        return await screen_application(actor, case)


KEYS = {
    # Only the key under test is shared by the parallel applications; the others differ.
    "phone": lambda i: (_applicant(f"{i:032x}", f"10.0.{i}.1"), _case(i, mobile="13700000001")),
    "id_number": lambda i: (
        _applicant(f"{i:032x}", f"10.0.{i}.1"),
        _case(i, mobile=f"137{i:08d}", id_number=valid_id_number()),
    ),
    "device": lambda i: (_applicant("d" * 32, f"10.0.{i}.1"), _case(i, mobile=f"137{i:08d}")),
    "address": lambda i: (_applicant(f"{i:032x}", "203.0.113.50"), _case(i, mobile=f"137{i:08d}")),
}


@pytest.mark.parametrize("key", list(KEYS))
async def test_application_velocity_by_each_key_holds_under_parallel_applications(world, key):
    await _set(
        **{
            f"risk_application_{key}_limit": 2,
            f"risk_application_{key}_score": 60,
            "risk_hold_score": 60,
        }
    )
    held = await asyncio.gather(*(_screen(*KEYS[key](i)) for i in range(1, 8)))
    # Seven at once against a limit of two: exactly five are over it, whatever the order.
    assert sorted(held) == [False] * 2 + [True] * 5
    events = await RiskEvent.objects()
    assert {event.rule for event in events} == {f"velocity.application.{key}"}
    assert sorted(_detail(event.detail)["count"] for event in events) == [3, 4, 5, 6, 7]
    assert await RiskHold.count() == 5
    assert await RiskObservation.count().where(RiskObservation.key_kind == key) == 7


async def test_registration_velocity_by_device_refuses_over_the_limit_in_parallel(world):
    await _set(risk_registration_device_limit=2, risk_registration_block_score=40)

    async def register(i: int) -> bool:
        try:
            await screen_registration(visitor(f"10.1.{i}.1", device="e" * 32), f"136{i:08d}")
        except DomainError as exc:
            assert exc.message == "暂时无法完成注册，请稍后再试或联系客服"
            return False
        return True

    results = await asyncio.gather(*(register(i) for i in range(6)))
    assert results.count(True) == 2
    refused = await AuditEntry.objects().where(AuditEntry.action == "risk.registration_refused")
    assert len(refused) == 4
    assert all(_detail(row.detail)["rules"] == ["velocity.registration.device"] for row in refused)


async def _last_sms_code() -> str:
    row = await Notification.objects().order_by(Notification.id, ascending=False).first()
    return re.search(r"\d{6}", decrypt_field(row.body_encrypted, context=BODY_CONTEXT)).group()


async def test_blacklisted_phone_refuses_registration_through_the_site(client, world):
    await add_to_blacklist(await _officer(), "phone", "139 0000 7777", "冒用身份")
    await client.submit("/register", {"action": "send_code", "mobile": "13900007777"})
    response = await client.submit(
        "/register",
        {
            "action": "register",
            "mobile": "13900007777",
            "code": await _last_sms_code(),
            "password": "abc12345",
            "password_confirm": "abc12345",
            "display_name": "小李",
        },
    )
    assert response.status_code == 400
    assert "暂时无法完成注册" in response.text
    assert "黑名单" not in response.text, "the refusal tells a fraudster nothing"
    assert soup(response).select_one("input[name=mobile]")["value"] == "13900007777"
    event = await RiskEvent.objects().first()
    assert (event.rule, event.stage, event.subject_hint) == (
        "blacklist.phone",
        "registration",
        "139****7777",
    )
    # The browser got its device cookie on the first page it opened, and it was counted.
    assert client.cookies.get("lm_device")
    assert await RiskObservation.count().where(RiskObservation.key_kind == "device") == 1


async def test_blacklist_of_each_kind_is_hit_and_stored_as_blind_index_only(world):
    officer = await _officer()
    id_number = valid_id_number("19850101")
    await add_to_blacklist(officer, "phone", "+86 138-1234-5678", "团伙")
    await add_to_blacklist(officer, "id_number", id_number.lower(), "冒用")
    await add_to_blacklist(officer, "address", "203.0.113.0/24", "代理池")
    for row in await BlacklistEntry.select():
        text = repr(row)
        assert "13812345678" not in text and id_number not in text and id_number[:-1] not in text
    assert sorted(row["display"] for row in await BlacklistEntry.select()) == sorted(
        ["138****5678", "203.0.113.0/24", id_number[:3] + "*" * 11 + id_number[-4:]]
    )

    held = await _screen(
        _applicant("f" * 32, "203.0.113.9"), _case(1, mobile="13812345678", id_number=id_number)
    )
    assert held
    rules = {event.rule for event in await RiskEvent.objects()}
    assert rules == {"blacklist.phone", "blacklist.id_number", "blacklist.address"}
    for event in await RiskEvent.select():
        assert "13812345678" not in repr(event) and id_number not in repr(event)
    # Outside the network, a clean number: nothing.
    assert not await _screen(_applicant("f" * 32, "203.0.114.9"), _case(2, mobile="13812340000"))


async def test_id_checksum_and_age_rules():
    params = {
        "risk_invalid_id_score": 100,
        "risk_age_score": 30,
        "risk_age_min": 18,
        "risk_age_max": 65,
    }
    good = valid_id_number("19900307")
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert [hit.rule for hit in identity_hits(bad_check, params)] == [INVALID_ID_RULE]
    assert [hit.rule for hit in identity_hits(good[:10] + "0231" + good[14:], params)] == [
        INVALID_ID_RULE
    ]
    young = valid_id_number("20150101")
    old = valid_id_number("19400101")
    assert [(hit.rule, hit.detail["age"] < 18) for hit in identity_hits(young, params)] == [
        (AGE_RULE, True)
    ]
    assert [hit.rule for hit in identity_hits(old, params)] == [AGE_RULE]
    assert identity_hits(good, params) == []


async def _held_application(client, world) -> tuple[Application, RiskHold]:
    await add_to_blacklist(
        await _officer("bl@loanmart.example"), "phone", world.borrower_mobile, "测试"
    )
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    response = await client.submit(f"/products/{product_id}/apply", application_form(**hidden))
    assert response.status_code == 303
    await jobs.run_until_idle()
    application = await Application.objects().first()
    hold = await RiskHold.objects().first()
    return application, hold


async def test_held_application_is_not_delivered_until_released_then_delivered_once(
    client, staff_client, world
):
    application, hold = await _held_application(client, world)
    assert application.status == "submitted" and hold.status == HoldStatus.HELD
    assert await AuditEntry.count().where(AuditEntry.action == "application.delivered") == 0
    page = await client.get(f"/me/applications/{application.reference}")
    assert page.status_code == 200
    main = soup(page).select_one("main").get_text()
    assert "黑名单" not in main and "风控" not in main and "风险分" not in main
    # Held, it reads as under review, never as merely submitted, on both of their pages.
    assert soup(page).select_one(".application-status__badge .badge").get_text() == "审核中"
    listing = soup(await client.get("/me/applications"))
    assert [b.get_text() for b in listing.select("main .badge")] == ["审核中"]
    assert "欺诈" not in listing.select_one("main").get_text() + main

    officer = await _officer()
    await login(staff_client, "/admin/login", "risk@loanmart.example")
    queue = await staff_client.get("/admin/risk")
    assert application.reference in queue.text
    detail = await staff_client.get(f"/admin/risk/holds/{hold.id}")
    assert "手机号在黑名单中" in detail.text and "139****5678" in detail.text
    response = await staff_client.submit(f"/admin/risk/holds/{hold.id}", {"decision": "release"})
    assert response.status_code == 303
    await jobs.run_until_idle()
    await jobs.run_until_idle()
    assert (await Application.objects().first()).status == "delivered"
    assert await AuditEntry.count().where(AuditEntry.action == "application.delivered") == 1
    release = await AuditEntry.objects().where(AuditEntry.action == "risk.release").first()
    assert (release.actor_id, release.object_id) == (officer.user_id, str(application.id))
    # A second decision finds it decided (409), and nothing is delivered twice.
    again = await staff_client.submit(
        f"/admin/risk/holds/{hold.id}", {"decision": "reject", "reason_code": "other"}
    )
    assert again.status_code == 409
    await jobs.run_until_idle()
    assert await AuditEntry.count().where(AuditEntry.action == "application.delivered") == 1


async def test_rejected_hold_tells_the_borrower_neutrally(client, world):
    application, hold = await _held_application(client, world)
    await decide_hold(await _officer(), hold.id, "reject", "stolen_identity", "核实为冒用")
    await jobs.run_until_idle()
    application = await Application.objects().first()
    assert application.status == "not_delivered"
    notice = await InboxItem.objects().where(InboxItem.recipient == world.borrower.user_id).first()
    assert "经平台综合评估，暂时无法为您提交该申请" in notice.title
    assert "冒用" not in notice.title
    assert (await RiskHold.objects().first()).reason_code == "stolen_identity"


async def test_parallel_decisions_one_wins(world):
    officer = await _officer()
    other = await _officer("risk2@loanmart.example")
    await _set(risk_blacklist_score=100, risk_hold_score=60)
    await add_to_blacklist(officer, "phone", "13700009999", "测试")
    assert await _screen(_applicant(), _case(77, mobile="13700009999"))
    hold = await RiskHold.objects().first()
    results = await asyncio.gather(
        decide_hold(officer, hold.id, "release"),
        decide_hold(other, hold.id, "reject", "fraud_ring"),
        decide_hold(officer, hold.id, "release"),
        return_exceptions=True,
    )
    assert sum(result is None for result in results) == 1
    assert all(isinstance(r, InvalidTransition) for r in results if r is not None)
    decided = await AuditEntry.count().where(
        AuditEntry.action.is_in(["risk.release", "risk.reject"])
    )
    assert decided == 1


async def test_parallel_blacklist_adds_of_one_number_make_one_entry(world):
    officer = await _officer()
    results = await asyncio.gather(
        *(add_to_blacklist(officer, "phone", "13711112222", "并发") for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(result, int) for result in results) == 1
    assert await BlacklistEntry.count() == 1
    assert await AuditEntry.count().where(AuditEntry.action == "risk.blacklist_add") == 1


async def test_only_risk_managers_decide_and_keep_the_blacklist(world):
    with pytest.raises(PermissionDenied):
        await add_to_blacklist(world.auditor, "phone", "13711112222", "无权")
    with pytest.raises(PermissionDenied):
        await decide_hold(world.operator, 1, "release")


HOSTILE = [
    "1" * 5000,
    "13800138000'; DROP TABLE risk_blacklist; --",
    "<script>alert(1)</script>",
    "１３８００１３８０００\u202e\u0000",
    "-1",
    "0.0.0.0/0",
    "::/0",
    "999.1.1.1",
    "😀" * 30,
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_blacklist_values_are_refused_with_the_typed_values_kept(
    client, world, value
):
    await _officer()
    await login(client, "/admin/login", "risk@loanmart.example")
    kind = "address" if "/" in value or value.count(".") == 3 else "phone"
    response = await client.submit(
        "/admin/risk/blacklist", {"kind": kind, "value": value, "reason": "<b>原因</b>"}
    )
    assert response.status_code == 400
    page = soup(response)
    assert page.select_one(".field__error")
    if "\u0000" not in value:
        assert page.select_one("input[name=value]")["value"] == value.strip()
    assert page.select_one("input[name=reason]")["value"] == "<b>原因</b>"
    assert "<b>原因</b>" not in response.text.replace("&lt;b&gt;", "")
    assert await BlacklistEntry.count() == 0


async def test_hostile_decisions_and_filters_never_500(client, world):
    await _officer()
    await login(client, "/admin/login", "risk@loanmart.example")
    await _set(risk_blacklist_score=100, risk_hold_score=60)
    await add_to_blacklist(await _officer("x@loanmart.example"), "phone", "13700009999", "测试")
    assert await _screen(_applicant(), _case(5, mobile="13700009999"))
    hold = await RiskHold.objects().first()
    for form in (
        {"decision": "explode"},
        {"decision": "reject", "reason_code": "'; --"},
        {"decision": "release", "note": "长" * 501},
        {"decision": "release", "note": "a\u0001b"},
    ):
        response = await client.submit(f"/admin/risk/holds/{hold.id}", form)
        assert response.status_code == 400, form
    assert (await RiskHold.objects().first()).status == "held"
    for url in (
        "/admin/risk?status=<x>&page=-5",
        "/admin/risk?page=99999999999999999999",
        "/admin/risk/events?rule=' OR 1=1",
        "/admin/risk/blacklist?show=%00&page=abc",
    ):
        assert (await client.get(url)).status_code == 200, url
    assert (await client.get("/admin/risk/holds/999999")).status_code == 404
    assert (
        await client.submit("/admin/risk/holds/999999", {"decision": "release"})
    ).status_code == 404


async def test_auditor_reads_the_risk_pages_and_changes_nothing(client, world):
    await login(client, "/admin/login", "auditor@loanmart.example")
    for url in ("/admin/risk", "/admin/risk/events", "/admin/risk/blacklist", "/admin/risk/rules"):
        page = await client.get(url)
        assert page.status_code == 200
        assert not soup(page).select("main form[method=post]"), url
    response = await client.submit(
        "/admin/risk/blacklist", {"kind": "phone", "value": "13700001111", "reason": "x"}
    )
    assert response.status_code == 403
    rules = await client.get("/admin/risk/rules")
    assert "risk_hold_score" in rules.text and "risk_application_device_window_hours" in rules.text


async def test_rules_read_their_parameters_without_restart(world):
    await _set(risk_hold_score=75)
    assert (await rule_parameters())["risk_hold_score"] == 75


async def test_queue_lists_held_oldest_first(world):
    await _set(risk_blacklist_score=100, risk_hold_score=60)
    await add_to_blacklist(await _officer(), "phone", "13700009999", "测试")
    for number in (1, 2, 3):
        assert await _screen(replace(_applicant(), ip=""), _case(number, mobile="13700009999"))
    holds, total = await hold_queue("held", page=1, per_page=50)
    assert total == 3 and [hold.reference for hold in holds] == [
        "LMTEST0001",
        "LMTEST0002",
        "LMTEST0003",
    ]


async def test_a_submission_observed_in_the_past_counts_back_from_then(world):
    """The demo's history: `recorded_at` dates the observation, and the window is counted
    back from it, so weeks-old submissions neither hit each other nor today's."""
    from datetime import UTC, datetime, timedelta

    await _set(risk_application_device_limit=1, risk_application_device_window_hours=24)
    then = datetime.now(UTC) - timedelta(days=40)
    for n, at in ((1, then), (2, then + timedelta(days=2)), (3, then + timedelta(days=2, hours=1))):
        async with transaction():
            await screen_application(_applicant("d" * 32), _case(n), recorded_at=at)
    assert sorted(r["at"] for r in await RiskObservation.select(RiskObservation.at)) == [
        then,
        then + timedelta(days=2),
        then + timedelta(days=2, hours=1),
    ]
    [event] = await RiskEvent.objects()
    assert (event.application_id, _detail(event.detail)["count"]) == (3, 2)
    await _screen(_applicant("d" * 32), _case(4))
    assert await RiskEvent.count() == 1, "40 days ago is outside today's window"


async def test_parallel_applications_from_one_device_through_the_submission_verb(world):
    """The hook in submit_application: four borrowers on one device apply at once; the
    device rule (limit 2) holds exactly two, and only the others are delivered."""
    from marketplace.demo.decisions import apply_and_deliver
    from marketplace.products.tables import Product

    await _set(
        risk_application_device_limit=2, risk_application_device_score=60, risk_hold_score=60
    )
    product_id = await listed_product(world.staff, world.operator)
    product = (
        await Product.select(
            *Product.all_columns(),
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.service_phone.as_alias("service_phone"),
        )
        .where(Product.id == product_id)
        .output(load_json=True)
        .first()
    )
    borrowers = [
        replace(
            await factories.user("borrower", f"1360000{i:04d}", "borrower", None, "张伟"),
            ip=f"10.9.{i}.1",
            device="ab" * 16,
        )
        for i in range(4)
    ]
    ids = await asyncio.gather(
        *(
            apply_and_deliver(
                borrower, product, amount=product["amount_min"], term_months=12, city="北京"
            )
            for borrower in borrowers
        )
    )
    statuses = sorted(
        row["status"]
        for row in await Application.select(Application.status).where(Application.id.is_in(ids))
    )
    assert statuses == ["delivered", "delivered", "submitted", "submitted"]
    assert await RiskHold.count() == 2


async def test_device_cookie_is_random_http_only_and_kept(client):
    first = await client.get("/")
    cookie = next(
        header for header in first.headers.get_list("set-cookie") if header.startswith("lm_device=")
    )
    assert re.fullmatch(
        r"lm_device=[0-9a-f]{32}; Max-Age=\d+; Path=/; HttpOnly; SameSite=Lax", cookie
    )
    again = await client.get("/products")
    assert not any(h.startswith("lm_device=") for h in again.headers.get_list("set-cookie"))
    client.cookies.clear()
    static = await client.get("/healthz")
    assert not any(h.startswith("lm_device=") for h in static.headers.get_list("set-cookie"))
    client.cookies.set("lm_device", "not-a-device-id")
    forged = await client.get("/")
    assert any(h.startswith("lm_device=") for h in forged.headers.get_list("set-cookie"))


async def test_the_demo_has_a_held_application_blacklist_entries_and_events():
    from marketplace.demo.seed import seed_demo

    await seed_demo()
    holds = await RiskHold.objects()
    assert [hold.status for hold in holds] == ["held"]
    assert (
        await Application.objects().where(Application.id == holds[0].application_id).first()
    ).status == "submitted"
    assert await BlacklistEntry.count() == 2
    rules = {event.rule for event in await RiskEvent.objects()}
    assert {"blacklist.phone", "blacklist.address", "velocity.registration.device"} <= rules


async def test_velocity_counts_only_within_the_rules_window(world):
    from datetime import UTC, datetime, timedelta

    from marketplace.risk.services import key_ref

    await _set(risk_application_device_limit=1, risk_application_device_window_hours=24)
    await RiskObservation.insert(
        RiskObservation(
            at=datetime.now(UTC) - timedelta(hours=30),
            stage="application",
            key_kind="device",
            key_ref=key_ref("device", "c" * 32),
        )
    )
    await _screen(_applicant("c" * 32), _case(1))
    assert await RiskEvent.count() == 0, "30 hours ago is outside a 24-hour window"
    await _set(risk_application_device_window_hours=48)
    await _screen(_applicant("c" * 32), _case(2))
    event = await RiskEvent.objects().first()
    assert (event.rule, _detail(event.detail)["count"]) == ("velocity.application.device", 3)


async def test_parallel_live_submissions_sharing_two_keys_hold_exactly_those_over(world):
    """Seven borrowers submit at once from one device and one address (each rule's limit
    two, each half the hold score): the keys' locks are taken in one order, so nothing
    deadlocks, and exactly the five over the limits are held, each rule counting 3 to 7.
    Every submission keeps its application, audit row and delivery job."""
    from marketplace.applications.services import parse_application_input, submit_application
    from marketplace.consents.notices import build_notice
    from marketplace.outbox.tables import OutboxMessage
    from marketplace.products.tables import Product

    await _set(
        risk_application_device_limit=2,
        risk_application_device_score=30,
        risk_application_address_limit=2,
        risk_application_address_score=30,
        risk_hold_score=60,
    )
    product_id = await listed_product(world.staff, world.operator)
    product = (
        await Product.select(
            Product.name,
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.service_phone.as_alias("service_phone"),
        )
        .where(Product.id == product_id)
        .first()
    )
    notice = build_notice(product["institution_name"], product["service_phone"], product["name"])
    borrowers = [
        replace(
            await factories.user("borrower", f"1360001{i:04d}", "borrower", None, "张伟"),
            ip="198.51.100.7",
            device="cd" * 16,
        )
        for i in range(7)
    ]
    forms = [
        application_form(
            notice_digest=notice.digest,
            submission_key=f"parallel-{i:02d}-" + "k" * 16,
            id_number=valid_id_number(sequence=f"{i + 100:03d}"),
        )
        for i in range(7)
    ]
    references = await asyncio.gather(
        *(
            submit_application(borrower, parse_application_input(product_id, form))
            for borrower, form in zip(borrowers, forms, strict=True)
        )
    )
    assert len(set(references)) == 7
    assert await RiskHold.count() == 5
    events = await RiskEvent.objects()
    for key in ("device", "address"):
        counts = [_detail(e.detail)["count"] for e in events if e.rule.endswith(f".{key}")]
        assert sorted(counts) == [3, 4, 5, 6, 7], key
    assert await AuditEntry.count().where(AuditEntry.action == "application.submit") == 7
    assert await OutboxMessage.count().where(OutboxMessage.job == "applications.deliver") == 7
