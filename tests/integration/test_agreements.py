"""Cooperation agreements (issue 8, A5): operators offer versioned agreements (CPL, CPA,
CPS) and may withdraw an offer; the institution's admin signs with the same SMS signing as a
borrower's loan contract (text, SHA-256, time, address, browser kept); a signed version
supersedes the previous one; `agreement_in_force` answers for now and for the past."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace.accounts.tables import User
from marketplace.agreements.jobs import expire_past_agreements
from marketplace.agreements.queries import agreement_in_force
from marketplace.agreements.tables import Agreement, AgreementSignature
from marketplace.agreements.terms import AGREEMENT_TEXT_CONTEXT, PricingModel
from marketplace.audit.tables import AuditEntry
from marketplace.notifications.services import BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.security import decrypt_field, encrypt_field, mask_mobile
from tests import factories
from tests.fixtures import login, soup

ADMIN_MOBILE = "13700001111"


def _form(institution_id: int, **overrides: str) -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {
        "institution": str(institution_id),
        "pricing_model": "cpa",
        "rate": "120",
        "monthly_unit_cap": "500",
        "monthly_fee_cap": "",
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=365)).isoformat(),
        **overrides,
    }


async def _operator(client, role: str = "finance") -> None:
    await factories.user("operator", f"{role}@loanmart.example", role, None, "钱会计")
    await login(client, "/admin/login", f"{role}@loanmart.example")


async def _give_admin_a_mobile(world) -> None:
    await User.update(
        {
            User.mobile_encrypted: encrypt_field(ADMIN_MOBILE, context="user.mobile"),
            User.mobile_masked: mask_mobile(ADMIN_MOBILE),
        }
    ).where(User.id == world.staff.user_id)


async def _sms_code() -> str:
    row = await Notification.objects().order_by(Notification.id, ascending=False).first()
    assert row.template == "agreement_sign_code"
    return re.search(r"\d{6}", decrypt_field(row.body_encrypted, context=BODY_CONTEXT)).group()


async def _offer(client, world, **overrides: str) -> int:
    response = await client.submit("/admin/agreements/new", _form(world.bank_id, **overrides))
    assert response.status_code == 303, response.text[:800]
    return int(response.headers["location"].rsplit("/", 1)[1])


async def test_an_operator_offers_and_the_admin_signs_with_an_sms_code(client, staff_client, world):
    await _operator(client)
    old = await agreement_in_force(world.bank_id, datetime.now(UTC))
    assert old is not None and old.pricing_model is PricingModel.CPL

    agreement_id = await _offer(client, world)
    listing = soup(
        await client.get(f"/admin/agreements?institution={world.bank_id}&status=offered")
    )
    assert listing.select_one(f"tr[data-agreement='{agreement_id}']")
    assert "待签署" in listing.text
    other_filter = await client.get(f"/admin/agreements?institution={world.other_bank_id}")
    assert f'data-agreement="{agreement_id}"' not in other_filter.text
    # One open offer at a time.
    again = await client.submit("/admin/agreements/new", _form(world.bank_id))
    assert again.status_code == 400 and "待签署" in again.text

    await _give_admin_a_mobile(world)
    await login(staff_client, "/console/login", "staff@test-bank.example")
    page = soup(await staff_client.get("/console/agreement"))
    shown = page.select_one("pre.contract-text").text
    for clause in (
        "测试银行股份有限公司",
        "CPA 按批复计费",
        "每笔批复 ¥120.00",
        "每月计费上限 500",
    ):
        assert clause in shown, clause
    shown_sha = page.select_one("input[name=contract_sha256]")["value"]
    assert shown_sha == hashlib.sha256(shown.encode()).hexdigest()

    sign_url = f"/console/agreement/{agreement_id}/sign"
    assert (await staff_client.submit(f"/console/agreement/{agreement_id}/code")).status_code == 303
    assert (await staff_client.submit(f"/console/agreement/{agreement_id}/code")).status_code == 429
    code = await _sms_code()
    wrong = "000000" if code != "000000" else "111111"
    refused = await staff_client.submit(sign_url, {"contract_sha256": shown_sha, "code": wrong})
    assert refused.status_code == 400 and "验证码不正确" in refused.text
    stale = await staff_client.submit(sign_url, {"contract_sha256": "0" * 64, "code": code})
    assert stale.status_code == 400 and "协议内容已更新" in stale.text
    signed = await staff_client.submit(
        sign_url,
        {"contract_sha256": shown_sha, "code": code},
        headers={"user-agent": "Console/2.0"},
    )
    assert signed.status_code == 303, signed.text[:500]

    signature = await AgreementSignature.objects().get(AgreementSignature.agreement == agreement_id)
    assert decrypt_field(signature.text_encrypted, context=AGREEMENT_TEXT_CONTEXT) == shown
    assert signature.text_sha256 == shown_sha and signature.signer == world.staff.user_id
    assert signature.user_agent == "Console/2.0" and signature.client_address == "198.51.100.8"
    statuses = {a.id: a.status for a in await Agreement.objects()}
    assert statuses[agreement_id] == "signed" and statuses[old.id] == "superseded"

    now = await agreement_in_force(world.bank_id, datetime.now(UTC))
    assert now.id == agreement_id and now.rate == Decimal("120") and now.monthly_unit_cap == 500
    before = await agreement_in_force(world.bank_id, datetime.now(UTC) - timedelta(hours=1))
    assert before.id == old.id, "the past keeps the version that was in force then"
    assert await agreement_in_force(world.other_bank_id, datetime.now(UTC)) is not None

    twice = await staff_client.submit(sign_url, {"contract_sha256": shown_sha, "code": code})
    assert twice.status_code == 409, "a signed version cannot be signed again"
    actions = {e.action for e in await AuditEntry.objects()}
    assert {"agreement.offered", "agreement.code_sent", "agreement.signed"} <= actions
    assert "agreement.superseded" in actions
    detail = await client.get(f"/admin/agreements/{agreement_id}")
    assert signature.text_sha256 in detail.text and "王敏" in detail.text


async def test_another_institution_cannot_see_or_sign_it(client, staff_client, world):
    await _operator(client, "super_admin")
    agreement_id = await _offer(client, world, pricing_model="cps", rate="1.5")
    await login(staff_client, "/console/login", "staff@other-bank.example")
    page = await staff_client.get("/console/agreement")
    assert page.status_code == 200 and "1.5000%" not in page.text
    assert (await staff_client.submit(f"/console/agreement/{agreement_id}/code")).status_code == 404
    sign = await staff_client.submit(
        f"/console/agreement/{agreement_id}/sign", {"contract_sha256": "x", "code": "123456"}
    )
    assert sign.status_code == 404
    # Nor may staff or a product reviewer use the operators' pages.
    assert (await staff_client.get("/admin/agreements")).status_code in (401, 403, 303)


async def test_roles_and_csrf(client, staff_client, world):
    await _operator(client, "product_reviewer")
    assert (await client.get("/admin/agreements")).status_code == 403
    assert (await client.submit("/admin/agreements/new", _form(world.bank_id))).status_code == 403
    await factories.user("staff", "officer@test-bank.example", "loan_officer", world.bank_id)
    await login(staff_client, "/console/login", "officer@test-bank.example")
    assert (await staff_client.get("/console/agreement")).status_code == 403
    assert (await staff_client.get("/console/delivery")).status_code == 403
    bare = await client.post("/admin/agreements/new", data=_form(world.bank_id))
    assert bare.status_code == 403 and await Agreement.count() == 2


async def test_hostile_values_are_field_errors(client, world):
    await _operator(client)
    today = datetime.now(UTC).date()
    for field, value in (
        ("institution", "999999"),
        ("institution", "-1"),
        ("institution", "１"),
        ("pricing_model", "cpx"),
        ("rate", "-5"),
        ("rate", "1e9"),
        ("rate", "１２０"),
        ("rate", "9" * 60),
        ("rate", "100000.01"),
        ("monthly_unit_cap", "99999999999"),
        ("monthly_fee_cap", "0"),
        ("valid_from", "2026-02-30"),
        ("valid_to", (today - timedelta(days=1)).isoformat()),
        ("valid_to", (today + timedelta(days=6 * 366)).isoformat()),
    ):
        response = await client.submit(
            "/admin/agreements/new", _form(world.bank_id, **{field: value})
        )
        assert response.status_code == 400, (field, value, response.status_code)
        assert soup(response).select_one(f"[name={field}]") is not None
    cps = await client.submit(
        "/admin/agreements/new", _form(world.bank_id, pricing_model="cps", rate="25")
    )
    assert cps.status_code == 400 and "不能大于20" in cps.text
    typed = soup(cps)
    assert typed.select_one("input[name=rate]")["value"] == "25", "typed values come back"
    assert await Agreement.count() == 2


async def test_withdraw_before_signing_and_expiry(client, staff_client, world):
    await _operator(client)
    agreement_id = await _offer(client, world)
    assert (await client.submit(f"/admin/agreements/{agreement_id}/withdraw")).status_code == 303
    assert (await Agreement.objects().get(Agreement.id == agreement_id)).status == "withdrawn"
    assert (await client.submit(f"/admin/agreements/{agreement_id}/withdraw")).status_code == 409
    await _give_admin_a_mobile(world)
    await login(staff_client, "/console/login", "staff@test-bank.example")
    code = await staff_client.submit(f"/console/agreement/{agreement_id}/code")
    assert code.status_code == 409

    # The one in force ends after its last day: the cron marks it, and it no longer answers.
    await Agreement.update(
        {Agreement.valid_to: datetime.now(UTC).date() - timedelta(days=2)}
    ).where(Agreement.status == "signed")
    assert await expire_past_agreements() == 2
    assert await expire_past_agreements() == 0
    assert await agreement_in_force(world.bank_id, datetime.now(UTC)) is None


async def test_the_demo_has_each_pricing_model_in_force_and_an_offer_to_sign():
    from marketplace.delivery.tables import DeliverySettings
    from marketplace.demo.seed import seed_demo
    from marketplace.institutions.tables import Institution

    await seed_demo()
    now = datetime.now(UTC)
    # 闽江小贷 is admitted and still awaiting its first agreement (the onboarding demo).
    institutions = await Institution.select(Institution.id).where(Institution.status == "active")
    terms = [await agreement_in_force(row["id"], now) for row in institutions]
    assert terms and all(terms), "every active demo institution receives leads"
    awaiting = await Institution.select(Institution.id).where(Institution.status == "approved")
    assert awaiting and not await agreement_in_force(awaiting[0]["id"], now)
    assert {t.pricing_model for t in terms} == set(PricingModel)
    offered = await Agreement.objects().where(Agreement.status == "offered")
    assert len(offered) == 1 and offered[0].version == 2
    assert await AgreementSignature.count() == 3
    settings = await DeliverySettings.objects().first()
    assert settings.daily_lead_cap and settings.monthly_budget and settings.employment_types


async def test_signing_activates_a_newly_admitted_institution(client, staff_client, world):
    from marketplace.institutions.tables import Institution

    await Institution.update({Institution.status: "approved"}).where(
        Institution.id == world.bank_id
    )
    await Agreement.delete().where(Agreement.institution == world.bank_id)
    await _operator(client)
    agreement_id = await _offer(client, world, pricing_model="cpl", rate="25")
    await _give_admin_a_mobile(world)
    await login(staff_client, "/console/login", "staff@test-bank.example")
    shown = soup(await staff_client.get("/console/agreement"))
    sha = shown.select_one("input[name=contract_sha256]")["value"]
    await staff_client.submit(f"/console/agreement/{agreement_id}/code")
    signed = await staff_client.submit(
        f"/console/agreement/{agreement_id}/sign",
        {"contract_sha256": sha, "code": await _sms_code()},
    )
    assert signed.status_code == 303
    institution = await Institution.objects().get(Institution.id == world.bank_id)
    assert institution.status == "active"


async def test_parallel_offers_and_signatures_hold_their_limits(world):
    import asyncio

    from marketplace.accounts.codes import issue_code
    from marketplace.agreements.queries import agreement_text_of
    from marketplace.agreements.services import (
        SIGN_CODE_PURPOSE,
        offer_agreement,
        parse_agreement_input,
        sign_agreement,
    )
    from marketplace.errors import DomainError
    from marketplace.signing import SigningRequest, digest

    finance = await factories.user("operator", "fin@loanmart.example", "finance")
    results = await asyncio.gather(
        *(offer_agreement(finance, parse_agreement_input(_form(world.bank_id))) for _ in range(4)),
        return_exceptions=True,
    )
    made = [r for r in results if isinstance(r, int)]
    assert len(made) == 1 and all(isinstance(r, DomainError) for r in results if r not in made)
    versions = [
        a.version for a in await Agreement.objects().where(Agreement.institution == world.bank_id)
    ]
    assert sorted(versions) == [1, 2]

    code = await issue_code(SIGN_CODE_PURPOSE, str(made[0]))
    request = SigningRequest(code, digest(await agreement_text_of(made[0])), "203.0.113.9", "x")
    signed = await asyncio.gather(
        *(sign_agreement(world.staff, made[0], request) for _ in range(3)), return_exceptions=True
    )
    assert signed.count(None) == 1, "of several tries with the right code, one signs"
    assert await AgreementSignature.count() == 1
