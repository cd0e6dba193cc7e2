"""Signing an offer with an SMS code (issue 7, P6): the signature keeps the exact contract
text (encrypted) with its SHA-256, time, address and browser; the offer is signed and the
application accepted together; a code signs once, five wrong tries burn it, an expired
offer cannot be signed; both sides can download the contract, nobody else can."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime, timedelta

from marketplace.applications.tables import Application
from marketplace.notifications.services import BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.offers.contract import CONTRACT_CONTEXT
from marketplace.offers.tables import Offer, OfferSignature
from marketplace.security import decrypt_field
from tests import factories
from tests.fixtures import delivered_application, login, soup
from tests.integration.test_offers import OFFER, _offer


async def _sms_code() -> str:
    row = await Notification.objects().order_by(Notification.id, ascending=False).first()
    body = decrypt_field(row.body_encrypted, context=BODY_CONTEXT)
    assert "张" not in body and "13912345678" not in body, "no personal data in the SMS"
    return re.search(r"\d{6}", body).group()


async def _sign_form(client, offer_id: int) -> dict[str, str]:
    page = soup(await client.get(f"/me/offers/{offer_id}"))
    return {"contract_sha256": page.select_one("input[name=contract_sha256]")["value"]}


async def test_sign_with_the_sms_code(client, staff_client, world):
    from marketplace.applications.services import move_lead
    from marketplace.offers.services import make_offer

    application = await delivered_application(client, world)  # signed in as the borrower
    await move_lead(world.staff, application.id, "review")
    offer_id = await make_offer(world.staff, application.id, {**OFFER, "rate": "8.4"})
    page = soup(await client.get(f"/me/offers/{offer_id}"))
    shown = page.select_one("pre.contract-text").text
    for clause in ("测试银行", "冷静期", "提前还款", "综合年化利率", "第12期"):
        assert clause in shown
    assert "张*" in shown, "the borrower's name is masked"

    assert (await client.submit(f"/me/offers/{offer_id}/code")).status_code == 303
    resend = await client.submit(f"/me/offers/{offer_id}/code")
    assert resend.status_code == 429, "one code a minute"
    code = await _sms_code()
    form = await _sign_form(client, offer_id)
    wrong = "000000" if code != "000000" else "111111"
    refused = await client.submit(f"/me/offers/{offer_id}/sign", {**form, "code": wrong})
    assert refused.status_code == 400 and "验证码不正确" in refused.text
    signed = await client.submit(
        f"/me/offers/{offer_id}/sign",
        {**form, "code": code},
        headers={"user-agent": "TestPhone/1.0"},
    )
    assert signed.status_code == 303
    offer = await Offer.objects().get(Offer.id == offer_id)
    assert offer.status == "signed"
    application = await Application.objects().get(Application.id == offer.application)
    assert application.status == "accepted"
    signature = await OfferSignature.objects().get(OfferSignature.offer == offer_id)
    text = decrypt_field(signature.contract_encrypted, context=CONTRACT_CONTEXT)
    assert text == shown, "the stored text is the text shown"
    assert hashlib.sha256(text.encode()).hexdigest() == signature.contract_sha256
    assert signature.user_agent == "TestPhone/1.0" and signature.client_address == "198.51.100.7"
    reused = await client.submit(f"/me/offers/{offer_id}/sign", {**form, "code": code})
    assert reused.status_code == 409, "a signed offer cannot be signed again"
    assert await OfferSignature.count() == 1

    contract = await client.get(f"/me/offers/{offer_id}/contract")
    assert contract.status_code == 200 and signature.contract_sha256 in contract.text
    download = await client.get(f"/me/offers/{offer_id}/contract?download=1")
    assert "attachment" in download.headers["content-disposition"]

    await login(staff_client, "/console/login", "staff@test-bank.example")
    lead = await staff_client.get(f"/console/leads/{application.id}")
    assert "已签约" in lead.text and f"/console/leads/{application.id}/contract" in lead.text
    theirs = await staff_client.get(f"/console/leads/{application.id}/contract")
    assert theirs.status_code == 200
    assert soup(theirs).select_one("pre.contract-text").text == text


async def test_the_contract_is_nobody_elses(client, world):
    offer_id = await _offer(world, world.staff, "8.4")
    offer = await Offer.objects().get(Offer.id == offer_id)
    await factories.user("borrower", "13900002222", "borrower", None, "李四")
    await login(client, "/login", "13900002222")
    for url in (f"/me/offers/{offer_id}", f"/me/offers/{offer_id}/contract"):
        assert (await client.get(url)).status_code == 404
    assert (await client.submit(f"/me/offers/{offer_id}/code")).status_code == 404
    assert (
        await client.submit(f"/me/offers/{offer_id}/sign", {"code": "123456"})
    ).status_code == 404
    await client.submit("/logout")
    await login(client, "/console/login", "staff@other-bank.example")
    assert (await client.get(f"/console/leads/{offer.application}/contract")).status_code == 404


async def test_a_stored_contract_that_no_longer_matches_its_hash_is_not_shown(client, world):
    application_id = await factories.application_in(world, "accepted")
    offer = await Offer.objects().get(Offer.application == application_id)
    await OfferSignature.update({OfferSignature.contract_sha256: "0" * 64}).where(
        OfferSignature.offer == offer.id
    )
    await login(client, "/login", world.borrower_mobile)
    response = await client.get(f"/me/offers/{offer.id}/contract")
    assert response.status_code == 409 and "合同记录校验失败" in response.text
    assert not soup(response).select_one("pre.contract-text")


async def test_two_parallel_signs_with_the_same_code_sign_once(client, staff_client, world):
    offer_id = await _offer(world, world.staff, "8.4")
    await login(client, "/login", world.borrower_mobile)
    await login(staff_client, "/login", world.borrower_mobile)  # a second browser
    await client.submit(f"/me/offers/{offer_id}/code")
    form = {**(await _sign_form(client, offer_id)), "code": await _sms_code()}
    first, second = await asyncio.gather(
        client.submit(f"/me/offers/{offer_id}/sign", form),
        staff_client.submit(f"/me/offers/{offer_id}/sign", form),
    )
    assert sorted([first.status_code, second.status_code])[0] == 303
    assert sorted([first.status_code, second.status_code])[1] in (400, 409)
    assert await OfferSignature.count() == 1


async def test_five_wrong_codes_burn_the_code(client, world):
    offer_id = await _offer(world, world.staff, "8.4")
    await login(client, "/login", world.borrower_mobile)
    await client.submit(f"/me/offers/{offer_id}/code")
    code = await _sms_code()
    form = await _sign_form(client, offer_id)
    wrong = "000000" if code != "000000" else "111111"
    for _try in range(5):
        response = await client.submit(f"/me/offers/{offer_id}/sign", {**form, "code": wrong})
        assert response.status_code == 400
    burnt = await client.submit(f"/me/offers/{offer_id}/sign", {**form, "code": code})
    assert burnt.status_code == 400 and "验证码不正确或已过期" in burnt.text
    assert (await Offer.objects().get(Offer.id == offer_id)).status == "open"


async def test_hostile_codes_and_a_changed_contract_are_refused(client, world):
    offer_id = await _offer(world, world.staff, "8.4")
    await login(client, "/login", world.borrower_mobile)
    await client.submit(f"/me/offers/{offer_id}/code")
    code = await _sms_code()
    form = await _sign_form(client, offer_id)
    for hostile in (
        "",
        "12345",
        "1234567",
        "abcdef",
        "１２３４５６",
        "12\x003456",
        "💸💸💸",
        "9" * 5000,
    ):
        response = await client.submit(f"/me/offers/{offer_id}/sign", {**form, "code": hostile})
        assert response.status_code == 400, hostile
        assert soup(response).select_one("pre.contract-text"), "the contract is still shown"
    stale = await client.submit(
        f"/me/offers/{offer_id}/sign", {"contract_sha256": "f" * 64, "code": code}
    )
    assert stale.status_code == 400 and "合同内容已更新" in stale.text
    ok = await client.submit(f"/me/offers/{offer_id}/sign", {**form, "code": code})
    assert ok.status_code == 303, "the code survived a refused contract"


async def test_an_expired_offer_cannot_be_signed(client, world):
    offer_id = await _offer(world, world.staff, "8.4")
    await login(client, "/login", world.borrower_mobile)
    await client.submit(f"/me/offers/{offer_id}/code")
    code = await _sms_code()
    form = await _sign_form(client, offer_id)
    await Offer.update({Offer.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        Offer.id == offer_id
    )
    response = await client.submit(f"/me/offers/{offer_id}/sign", {**form, "code": code})
    assert response.status_code in (400, 409) and "已过期" in response.text
    assert (await client.submit(f"/me/offers/{offer_id}/code")).status_code in (400, 409)
    assert (await Offer.objects().get(Offer.id == offer_id)).status == "open"
    assert await OfferSignature.count() == 0
