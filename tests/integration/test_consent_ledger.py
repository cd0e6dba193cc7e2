"""The consent ledger (issue #10, P7 §6.2): the borrower sees every institution holding
their data and withdraws in one click; from then on nothing reaches that institution, which
confirms deletion by a deadline that operators watch. The data export is built by a job and
handed over once. One borrower's applications reach a bounded number of institutions a day."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from marketplace import jobs
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.consents.tables import Consent, ConsentWithdrawal, DataExport
from marketplace.inbox.tables import InboxItem
from marketplace.offers.tables import Offer
from marketplace.parameters.tables import SystemParameter
from tests import factories
from tests.fixtures import Client, apply_form_secrets, delivered_application, login, soup
from tests.integration.test_open_api import bearer, new_client, token_for


async def _apply(client: Client, product_id: int, key: str) -> int:
    hidden = await apply_form_secrets(client, product_id)
    response = await client.submit(
        f"/products/{product_id}/apply",
        factories.application_form(**{**hidden, "submission_key": key * 24}),
    )
    return response.status_code


async def _withdraw(client: Client, institution_id: int):
    return await client.submit(f"/me/consents/{institution_id}/withdraw")


async def test_the_ledger_lists_what_was_shared_and_withdrawing_stops_every_flow(
    client, staff_client, world
):
    application = await delivered_application(client, world)
    ledger = soup(await client.get("/me/consents"))
    card = ledger.select_one(f"[data-institution='{world.bank_id}']")
    text = card.get_text()
    assert "测试银行" in text and "有效" in text and "身份证号码" in text and "月收入" in text
    assert "用于评估您的借款申请" in text and application.reference in text
    notice_link = card.select_one("a[href^='/me/consents/notices/']")["href"]
    notice = await client.get(notice_link)
    assert "个人信息单独同意书" in notice.text and "与您同意时记录的摘要一致" in notice.text

    # The bank has reviewed and sent an offer; withdrawing ends both.
    await login(staff_client, "/console/login", "staff@test-bank.example")
    await staff_client.submit(
        f"/console/leads/{application.id}/status", {"action": "review", "note": ""}
    )
    confirm = await client.get(f"/me/consents/{world.bank_id}/withdraw")
    assert confirm.status_code == 200 and "确定撤回" in confirm.text
    assert (await _withdraw(client, world.bank_id)).status_code == 303

    assert (await Application.objects().get(Application.id == application.id)).status == (
        "withdrawn"
    )
    assert await Consent.count().where(Consent.withdrawn_at.is_null()) == 0
    assert await Offer.count().where(Offer.status == "open") == 0
    after = soup(await client.get("/me/consents")).select_one(
        f"[data-institution='{world.bank_id}']"
    )
    assert "已撤回" in after.get_text() and not after.select("a.btn--danger")
    again = await client.get(f"/me/consents/{world.bank_id}/withdraw")
    assert "已撤回，无需再次操作" in again.text
    assert not soup(again).select("form[action$='/withdraw']")

    # No reveal, no name or city in the desk's export, nothing through the Open API.
    reveal = await staff_client.submit(
        f"/console/leads/{application.id}/reveal", {"field": "mobile", "reason": "核对身份信息"}
    )
    assert reveal.status_code in (403, 404) and "13912345678" not in reveal.text
    export = await staff_client.get("/console/leads/export/csv")
    assert export.status_code == 200 and "张" not in export.text and "北京" not in export.text
    auth = bearer(await token_for(client, await new_client(world.staff, ("leads:read",))))
    detail = (await client.get(f"/api/v1/leads/{application.id}", headers=auth)).json()
    assert detail["applicant"] is None and "张伟" not in json.dumps(detail, ensure_ascii=False)

    # The bank is told in its console and owes a confirmation by the deadline.
    notice_row = await InboxItem.objects().where(InboxItem.kind == "consent.withdrawn").first()
    assert notice_row is not None and notice_row.link == "/console/consents"
    withdrawal = await ConsentWithdrawal.objects().first()
    assert withdrawal.delete_by - withdrawal.withdrawn_at == timedelta(days=15)
    page = soup(await staff_client.get("/console/consents"))
    row = page.select_one(f"tr[data-withdrawal='{withdrawal.id}']")
    assert application.reference in row.get_text() and "待确认" in row.get_text()
    confirmed = await staff_client.submit(f"/console/consents/{withdrawal.id}/confirm")
    assert confirmed.status_code == 303
    again = await staff_client.submit(f"/console/consents/{withdrawal.id}/confirm")
    assert again.status_code == 409
    stored = await ConsentWithdrawal.objects().get(ConsentWithdrawal.id == withdrawal.id)
    assert stored.confirmed_by == world.staff.user_id and stored.confirmed_at is not None
    actions = {row.action for row in await AuditEntry.objects()}
    assert {"consent.withdrawn", "consent.deletion_requested"} <= actions
    assert "consent.deletion_confirmed" in actions
    borrower_view = await client.get("/me/consents")
    assert "确认删除您的信息" in borrower_view.text


async def test_an_undelivered_application_is_never_delivered_after_withdrawal(
    client, staff_client, world
):
    product_id = await factories.listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    assert await _apply(client, product_id, "a") == 303
    assert (await _withdraw(client, world.bank_id)).status_code == 303
    await jobs.run_until_idle()
    assert (await Application.objects().first()).status == "withdrawn"
    assert not await InboxItem.exists().where(InboxItem.kind == "lead.new")
    # The borrower is told why the application stopped.
    notices = await client.get("/me/notifications")
    assert "您已撤回对该机构的授权" in notices.text
    # Never delivered, so never a lead: the institution does not learn it existed.
    application = await Application.objects().first()
    await login(staff_client, "/console/login", "staff@test-bank.example")
    assert application.reference not in (await staff_client.get("/console/leads")).text
    lead = await staff_client.get(f"/console/leads/{application.id}")
    assert lead.status_code == 404


async def test_other_institutions_and_hostile_requests_are_refused(client, staff_client, world):
    application = await delivered_application(client, world)
    consent_id = application.consent
    for institution in (world.other_bank_id, 99_999_999, "-1", "9" * 40):
        response = await client.get(f"/me/consents/{institution}/withdraw")
        assert response.status_code == 404, institution
        assert (await _withdraw(client, institution)).status_code == 404
    no_csrf = await client.post(f"/me/consents/{world.bank_id}/withdraw", data={})
    assert no_csrf.status_code == 403
    assert await Consent.count().where(Consent.withdrawn_at.is_null()) == 1
    # Another borrower sees neither the ledger entry nor the notice.
    await factories.user("borrower", "13800000001", "borrower", None, "李雷")
    await client.submit("/logout")
    await login(client, "/login", "13800000001")
    assert (await client.get(f"/me/consents/notices/{consent_id}")).status_code == 404
    assert (await _withdraw(client, world.bank_id)).status_code == 404
    assert "测试银行" not in (await client.get("/me/consents")).text
    # Another institution cannot confirm the bank's withdrawal.
    await client.submit("/logout")
    await login(client, "/login", world.borrower_mobile)
    assert (await _withdraw(client, world.bank_id)).status_code == 303
    withdrawal = await ConsentWithdrawal.objects().first()
    await login(staff_client, "/console/login", "staff@other-bank.example")
    refused = await staff_client.submit(f"/console/consents/{withdrawal.id}/confirm")
    assert refused.status_code == 404
    assert "相关申请" not in (await staff_client.get("/console/consents")).text


async def test_two_withdrawals_at_once_record_one(client, world):
    await delivered_application(client, world)
    answers = await asyncio.gather(*(_withdraw(client, world.bank_id) for _ in range(3)))
    assert sorted(r.status_code for r in answers) == [303, 404, 404]
    assert await ConsentWithdrawal.count() == 1


async def test_operators_see_open_and_overdue_confirmations(client, staff_client, world):
    await delivered_application(client, world)
    await _withdraw(client, world.bank_id)
    await ConsentWithdrawal.update(
        {ConsentWithdrawal.delete_by: datetime.now(UTC) - timedelta(days=1)}
    ).where(ConsentWithdrawal.id > 0)
    await login(staff_client, "/admin/login", "auditor@loanmart.example")
    page = soup(await staff_client.get("/admin/consents"))
    row = page.select_one("tr[data-withdrawal]")
    assert "is-overdue" in row["class"] and "已逾期" in row.get_text() and "测试银行" in row.text
    overdue_only = soup(await staff_client.get("/admin/consents?state=overdue&institution=x"))
    assert overdue_only.select("tr[data-withdrawal]")
    other = soup(await staff_client.get(f"/admin/consents?institution={world.other_bank_id}"))
    assert not other.select("tr[data-withdrawal]")
    confirmed = soup(await staff_client.get("/admin/consents?state=confirmed"))
    assert not confirmed.select("tr[data-withdrawal]")
    # A borrower or institution staff may not open it.
    assert (await client.get("/admin/consents")).status_code in (302, 303, 401, 403, 404)


async def test_the_data_export_is_built_by_a_job_and_downloadable_once(client, world):
    application = await delivered_application(client, world)
    answers = await asyncio.gather(*(client.submit("/me/data/export") for _ in range(3)))
    assert [r.status_code for r in answers] == [303] * 3
    assert await DataExport.count() == 1, "asking again while it is built is one export"
    await jobs.run_until_idle()
    export = await DataExport.objects().first()
    assert export.status == "ready" and b"13912345678" not in export.content_encrypted
    assert await InboxItem.exists().where(InboxItem.kind == "data_export.ready")

    link_page = await client.submit(f"/me/data/exports/{export.id}/link")
    assert link_page.status_code == 200 and link_page.headers["cache-control"] == "no-store"
    href = soup(link_page).select_one("a[href*='format=json']")["href"]
    token = href.split("/me/data/download/")[1].split("?")[0]
    assert (await DataExport.objects().first()).token_hash not in (None, token)

    # The token is useless to anyone else.
    await factories.user("borrower", "13800000002", "borrower", None, "韩梅梅")
    await client.submit("/logout")
    await login(client, "/login", "13800000002")
    assert (await client.get(href)).status_code == 404
    await client.submit("/logout")
    await login(client, "/login", world.borrower_mobile)

    download, twice = await asyncio.gather(client.get(href), client.get(href))
    if download.status_code != 200:
        download, twice = twice, download
    assert download.status_code == 200 and twice.status_code == 404, "once, even at once"
    assert download.headers["content-disposition"].startswith("attachment")
    data = download.json()
    assert data["account"]["mobile"] == "13912345678"
    assert data["profile"]["real_name"] == "张伟"
    assert data["applications"][0]["reference"] == application.reference
    assert (
        data["applications"][0]["shared_with_institution"]["city"] == "北京市"
    )  # as stored: the canonical name
    assert data["consents"][0]["institution"] == "测试银行"
    assert data["credit_health"] == [] and data["sms_preferences"] == {}
    assert (await client.get(href)).status_code == 404, "once only"
    stored = await DataExport.objects().first()
    assert stored.status == "downloaded" and stored.content_encrypted is None
    actions = [row.action for row in await AuditEntry.objects() if row.object_type == "data_export"]
    assert actions.count("data_export.downloaded") == 1 and "data_export.ready" in actions


async def test_an_expired_or_forged_link_is_refused(client, world):
    await login(client, "/login", world.borrower_mobile)
    await client.submit("/me/data/export")
    await jobs.run_until_idle()
    export = await DataExport.objects().first()
    href = soup(await client.submit(f"/me/data/exports/{export.id}/link")).select_one(
        "a[href^='/me/data/download/']"
    )["href"]
    await DataExport.update({DataExport.expires_at: datetime.now(UTC)}).where(DataExport.id > 0)
    expired = await client.get(href)
    assert expired.status_code == 404 and "下载链接无效或已过期" in expired.text
    for forged in ("x" * 43, "x", "%00" * 30, "字" * 30):
        assert (await client.get(f"/me/data/download/{forged}")).status_code == 404
    assert (await client.submit("/me/data/exports/999999/link")).status_code == 404
    # A new link works (and is readable as a page).
    fresh = soup(await client.submit(f"/me/data/exports/{export.id}/link")).select_one(
        "a[href^='/me/data/download/']:not([href*='format'])"
    )["href"]
    page = await client.get(fresh)
    assert (
        page.status_code == 200 and "我的个人信息副本" in page.text and "13912345678" in page.text
    )


async def test_one_days_applications_reach_at_most_the_capped_institutions(client, world):
    await SystemParameter.insert(SystemParameter(key="institutions_per_application", value="2"))
    third = await factories.institution("third-bank", "第三银行")
    fourth = await factories.institution("fourth-bank", "第四银行")
    third_staff = await factories.user(
        "staff", "staff@third-bank.example", "institution_admin", third, "赵六"
    )
    fourth_staff = await factories.user(
        "staff", "staff@fourth-bank.example", "institution_admin", fourth, "钱七"
    )
    first = await factories.listed_product(world.staff, world.operator)
    second = await factories.listed_product(world.other_staff, world.operator)
    more_of_first = await factories.listed_product(world.staff, world.operator, name="测试快贷二号")
    capped = [
        await factories.listed_product(third_staff, world.operator),
        await factories.listed_product(fourth_staff, world.operator),
    ]
    await login(client, "/login", world.borrower_mobile)
    assert await _apply(client, first, "a") == 303
    # Two institutions more at once: exactly one gets the borrower's data.
    answers = await asyncio.gather(_apply(client, second, "b"), _apply(client, capped[0], "c"))
    assert sorted(answers) == [303, 400]
    hidden = await apply_form_secrets(client, capped[1])
    response = await client.submit(
        f"/products/{capped[1]}/apply", factories.application_form(**hidden)
    )
    assert response.status_code == 400 and "最多提供给2家机构" in response.text
    # Another product of an institution already reached is fine.
    assert await _apply(client, more_of_first, "d") == 303
    assert len({row.institution for row in await Application.objects()}) == 2


async def test_the_demo_has_a_withdrawal_to_confirm():
    from marketplace.demo.seed import seed_demo

    assert await seed_demo()
    withdrawal = await ConsentWithdrawal.objects().first()
    assert withdrawal is not None and withdrawal.confirmed_at is None
    # (Other demo borrowers — the settlement demo's — still consent to that institution.)
    assert not await Consent.exists().where(
        (Consent.institution == withdrawal.institution)
        & (Consent.borrower == withdrawal.borrower)
        & Consent.withdrawn_at.is_null()
    )


async def test_withdrawing_the_last_application_to_an_institution_owes_a_deletion(client, world):
    first = await delivered_application(client, world)
    second_product = await factories.listed_product(
        world.staff, world.operator, name="测试快贷二号"
    )
    assert await _apply(client, second_product, "z") == 303
    await jobs.run_until_idle()
    second = await Application.objects().where(Application.id != first.id).first()
    # Both withdrawn at once: the bank holds nothing more and owes one confirmation.
    answers = await asyncio.gather(
        *(client.submit(f"/me/applications/{a.reference}/withdraw") for a in (first, second))
    )
    assert [r.status_code for r in answers] == [303, 303]
    withdrawals = await ConsentWithdrawal.objects()
    assert len(withdrawals) == 1 and withdrawals[0].institution == world.bank_id
    assert "已撤回" in (await client.get("/me/consents")).text
