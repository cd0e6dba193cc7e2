"""Settlement pages (issue #9): the institution's statements at /console/settlement and
every institution's at /admin/settlement — totals, filterable lines with drill-down,
disputes and their adjudication, payment, fraud flags, the audited downloads; each role
sees only what it may do and another institution's statement is a 404."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from openpyxl import load_workbook

from marketplace.agreements.tables import Agreement
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.loancalc import today_shanghai
from marketplace.settlement.billing import bill
from marketplace.settlement.periods import current_month, month_end, previous_month
from marketplace.settlement.services import build_statements
from marketplace.settlement.tables import BillingCredit, Statement
from server import statements
from tests import factories
from tests.fixtures import login, soup

LAST_MONTH = previous_month(current_month())
MONTH = LAST_MONTH.strftime("%Y-%m")


async def _statement(world, leads: int = 3) -> tuple[int, list[int]]:
    """A draft statement of last month for the bank with `leads` delivered CPL leads
    (¥30 each under the factory's agreement, signed long before)."""
    await Agreement.update({Agreement.signed_at: datetime.now(UTC) - timedelta(days=400)}).where(
        Agreement.institution == world.bank_id
    )
    applications = []
    for number in range(leads):
        application_id = await factories.application_in(world, "delivered")
        moment = month_end(LAST_MONTH) - timedelta(days=5, hours=number)
        await Application.update({Application.delivered_at: moment}).where(
            Application.id == application_id
        )
        assert await bill("cpl", application_id)
        applications.append(application_id)
    assert await build_statements(LAST_MONTH) == 1
    row = await Statement.select(Statement.id).where(Statement.institution == world.bank_id).first()
    return row["id"], applications


async def _operator(client, role: str = "finance") -> None:
    login_name = f"{role}@loanmart.example"
    await factories.user("operator", login_name, role, None, "钱会计")
    await login(client, "/admin/login", login_name)


async def _issued(client, staff_client, world, leads: int = 3) -> tuple[int, list[int]]:
    statement_id, applications = await _statement(world, leads)
    await _operator(client)
    response = await client.submit(f"/admin/settlement/{statement_id}/issue")
    assert response.status_code == 303, response.text[:800]
    await login(staff_client, "/console/login", "staff@test-bank.example")
    return statement_id, applications


def _total(page, name: str) -> str:
    return page.select_one(f"[data-total='{name}']").get_text(strip=True)


async def _audited(action: str) -> list[dict]:
    return await AuditEntry.select().where(AuditEntry.action == action)


async def test_operator_lists_filters_and_issues_a_draft(client, world):
    statement_id, _apps = await _statement(world)
    await _operator(client)

    listing = soup(await client.get(f"/admin/settlement?institution={world.bank_id}&month={MONTH}"))
    row = listing.select_one(f"tr[data-statement='{statement_id}']")
    assert row and "草稿" in row.text and "¥90.00" in row.text
    other = await client.get(f"/admin/settlement?institution={world.other_bank_id}")
    assert f'data-statement="{statement_id}"' not in other.text
    assert "没有符合条件的结算单" in other.text
    issued_only = await client.get("/admin/settlement?state=issued")
    assert f'data-statement="{statement_id}"' not in issued_only.text

    page = soup(await client.get(f"/admin/settlement/{statement_id}"))
    assert _total(page, "charges") == "¥90.00"
    assert _total(page, "net") == "¥90.00"
    assert _total(page, "vat") == "¥5.40"  # 6% VAT shown separately
    assert _total(page, "due") == "¥95.40"
    assert len(page.select("tr[data-line]")) == 3
    reconciliation = page.select_one("section[aria-labelledby=reconciliation-title]")
    assert "尚未报送放款台账" in reconciliation.text
    link = f"/admin/settlement/reconciliation?institution={world.bank_id}&period={MONTH}"
    assert reconciliation.select_one("a")["href"] == link
    buttons = {b.get_text(strip=True) for b in page.select(".page-header__actions button")}
    assert buttons == {"出具结算单", "重新生成草稿"}

    assert (await client.submit(f"/admin/settlement/{statement_id}/rebuild")).status_code == 303
    assert (await client.submit(f"/admin/settlement/{statement_id}/issue")).status_code == 303
    page = soup(await client.get(f"/admin/settlement/{statement_id}"))
    assert "已出具" in page.select_one(".page-header").text
    assert not page.select(".page-header__actions button")  # nothing left for operators now
    again = await client.submit(f"/admin/settlement/{statement_id}/issue")
    assert again.status_code == 409 and "当前状态不能执行该操作" in again.text


async def test_dispute_accept_confirm_and_settle_through_the_pages(client, staff_client, world):
    statement_id, applications = await _issued(client, staff_client, world)

    listing = soup(await staff_client.get("/console/settlement"))
    assert "已出具" in listing.select_one(f"tr[data-statement='{statement_id}']").text
    page = soup(await staff_client.get(f"/console/settlement/{statement_id}"))
    lead_links = {a["href"] for a in page.select("tr[data-line] a[href^='/console/leads/']")}
    assert lead_links == {f"/console/leads/{a}" for a in applications}
    assert page.select_one("form[action$='/confirm']")
    link = page.select_one("section[aria-labelledby=reconciliation-title] a")["href"]
    assert link == f"/console/settlement/reconciliation?period={MONTH}"
    line_ref = page.select_one("tr[data-line] input[name=line_ref]")["value"]

    # Without a reason: the form comes back, open on that line, with the error.
    url = f"/console/settlement/{statement_id}/disputes"
    empty = await staff_client.submit(url, {"line_ref": line_ref, "reason": "  "})
    assert empty.status_code == 400
    again = soup(empty)
    assert again.select_one("details.line-dispute[open] input[name=line_ref]")["value"] == line_ref
    assert again.select_one(".error-summary")
    long_reason = "异" * 501
    too_long = await staff_client.submit(url, {"line_ref": line_ref, "reason": long_reason})
    assert too_long.status_code == 400
    assert soup(too_long).select_one("details[open] textarea[name=reason]").text == long_reason
    garbage = await staff_client.submit(url, {"line_ref": "e:abc\x00", "reason": "不是我们的客户"})
    assert garbage.status_code == 400 and "无法识别" in garbage.text

    reason = "该客户为重复推送 😊"
    response = await staff_client.submit(url, {"line_ref": line_ref, "reason": reason})
    assert response.status_code == 303
    page = soup(await staff_client.get(f"/console/settlement/{statement_id}"))
    assert "有异议" in page.select_one(".page-header").text
    assert reason in page.select_one("#disputes").text
    assert not page.select_one("form[action$='/confirm']")

    queue = soup(await client.get(f"/admin/settlement/disputes?institution={world.bank_id}"))
    dispute = queue.select_one("tr[data-dispute]")
    assert reason in dispute.text
    elsewhere = await client.get(f"/admin/settlement/disputes?institution={world.other_bank_id}")
    assert "没有待处理的异议" in elsewhere.text
    dispute_id = dispute["data-dispute"]
    decide = f"/admin/settlement/{statement_id}/disputes/{dispute_id}"
    bad = await client.submit(
        decide, {"dispute": dispute_id, "decision": "accept", "amount": "-5", "note": ""}
    )
    assert bad.status_code == 400
    kept = soup(bad).select_one(f"form[action='{decide}']")
    assert kept.select_one("input[name=amount]")["value"] == "-5"
    assert kept.find_parent("details").has_attr("open")
    accepted = await client.submit(
        decide, {"dispute": dispute_id, "decision": "accept", "amount": "10", "note": "部分采纳"}
    )
    assert accepted.status_code == 303

    page = soup(await staff_client.get(f"/console/settlement/{statement_id}"))
    assert "已调整" in page.select_one(".page-header").text
    assert _total(page, "adjustments") == "-¥10.00"
    assert _total(page, "net") == "¥80.00"
    assert "已采纳" in page.select_one("#disputes").text
    adjustments = soup(
        await staff_client.get(f"/console/settlement/{statement_id}?kind=adjustment")
    )
    assert [r["data-kind"] for r in adjustments.select("tr[data-line]")] == ["adjustment"]

    assert (
        await staff_client.submit(f"/console/settlement/{statement_id}/confirm")
    ).status_code == 303

    payment = f"/admin/settlement/{statement_id}/payment"
    hostile = {"amount": "８４.８０", "paid_on": "2026-13-40", "reference": "x" * 65}
    rejected = await client.submit(payment, hostile)
    assert rejected.status_code == 400
    form = soup(rejected).select_one(f"form[action='{payment}']")
    for name, value in hostile.items():
        assert form.select_one(f"[name={name}]")["value"] == value
    today = soup(await client.get(f"/admin/settlement/{statement_id}"))
    paid_on = today.select_one(f"form[action='{payment}'] [name=paid_on]")["value"]
    assert paid_on == today_shanghai().isoformat()
    paid = await client.submit(
        payment, {"amount": "84.80", "paid_on": paid_on, "reference": "BANK-001"}
    )
    assert paid.status_code == 303
    page = soup(await staff_client.get(f"/console/settlement/{statement_id}"))
    assert "已结清" in page.select_one(".page-header").text
    assert "BANK-001" in page.text


async def test_another_institutions_statement_is_a_404(client, staff_client, world):
    statement_id, _apps = await _issued(client, staff_client, world)
    other = staff_client
    await other.post("/console/logout", data={"_csrf_token": await other.csrf_token()})
    await login(other, "/console/login", "staff@other-bank.example")
    assert "没有" in (await other.get("/console/settlement")).text
    for path in ("", "/lines.xlsx", "/print"):
        assert (await other.get(f"/console/settlement/{statement_id}{path}")).status_code == 404
    for path, data in (("/confirm", {}), ("/disputes", {"line_ref": "e:1", "reason": "x"})):
        response = await other.submit(f"/console/settlement/{statement_id}{path}", data)
        assert response.status_code == 404
    assert not await _audited("settlement.statement_downloaded")


async def test_the_institution_never_sees_a_draft(staff_client, world):
    statement_id, _apps = await _statement(world)
    await login(staff_client, "/console/login", "staff@test-bank.example")
    listing = await staff_client.get("/console/settlement")
    assert f'data-statement="{statement_id}"' not in listing.text
    assert "还没有结算单" in listing.text
    assert (await staff_client.get(f"/console/settlement/{statement_id}")).status_code == 404


async def test_downloads_are_audited_from_both_sides(client, staff_client, world):
    statement_id, applications = await _issued(client, staff_client, world)

    response = await staff_client.get(f"/console/settlement/{statement_id}/lines.xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "类型" and len(rows) == 1 + len(applications)
    assert [Decimal(str(row[8])) for row in rows[1:]] == [Decimal(30)] * len(applications)
    assert {row[4] for row in rows[1:]} == {
        r["reference"]
        for r in await Application.select(Application.reference).where(
            Application.id.is_in(applications)
        )
    }

    printable = soup(await client.get(f"/admin/settlement/{statement_id}/print"))
    assert "服务费结算单" in printable.text
    assert len(printable.select(".statement-print__lines tbody tr")) == len(applications)
    assert printable.select_one("link[href*='settlement.css']")
    assert printable.select_one("[data-print]").has_attr("hidden")  # shown by app.js only

    audited = await _audited("settlement.statement_downloaded")
    assert len(audited) == 2


async def test_roles_see_only_what_they_may_do(client, staff_client, world):
    statement_id, _apps = await _issued(client, staff_client, world)
    officer = await factories.user(
        "staff", "officer@test-bank.example", "loan_officer", world.bank_id, "赵信"
    )
    assert not officer.can("settlement.view")
    await staff_client.post(
        "/console/logout", data={"_csrf_token": await staff_client.csrf_token()}
    )
    await login(staff_client, "/console/login", "officer@test-bank.example")
    home = soup(await staff_client.get("/console/"))
    assert not home.select_one("a[href='/console/settlement']")
    assert (await staff_client.get(f"/console/settlement/{statement_id}")).status_code == 403

    await client.post("/admin/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/admin/login", "auditor@loanmart.example")
    page = soup(await client.get(f"/admin/settlement/{statement_id}"))
    assert page.select_one("[data-total='due']")
    assert not page.select("form[method=post][action*='/admin/settlement/']")
    refused = await client.submit(f"/admin/settlement/{statement_id}/payment", {})
    assert refused.status_code == 403


async def test_an_operator_flags_a_fraudulent_lead_from_its_line(client, world):
    statement_id, applications = await _statement(world, leads=2)
    await _operator(client)
    page = soup(await client.get(f"/admin/settlement/{statement_id}"))
    forms = page.select("form[action$='/fraud']")
    assert {f.select_one("input[name=application]")["value"] for f in forms} == {
        str(a) for a in applications
    }
    url = f"/admin/settlement/{statement_id}/fraud"
    empty = await client.submit(url, {"application": str(applications[0]), "reason": ""})
    assert empty.status_code == 400
    flagged = await client.submit(url, {"application": str(applications[0]), "reason": "身份冒用"})
    assert flagged.status_code == 303
    page = soup(await client.get(f"/admin/settlement/{statement_id}"))
    assert "已标记为欺诈线索" in page.select_one(".flash-region").text
    remaining = page.select("form[action$='/fraud'] input[name=application]")
    assert [f["value"] for f in remaining] == [str(applications[1])]
    # The credit is made now, so it lands on this month's statement (design: by created_at).
    credit = await BillingCredit.select().where(BillingCredit.reason == "fraud").first()
    assert credit["amount"] == Decimal("30.00") and credit["period"] == current_month()
    twice = await client.submit(url, {"application": str(applications[0]), "reason": "再次"})
    assert twice.status_code == 400 and "已标记为欺诈线索" in twice.text
    assert (await _audited("settlement.lead_flagged"))[0]["object_id"] == str(applications[0])


async def test_hostile_filters_and_pages_answer_calmly(client, world):
    statement_id, _apps = await _statement(world)
    await _operator(client)
    for query in (
        "?kind=%00&model=💥&dispute=" + "x" * 20000,
        "?reference=" + "L" * 5000,
        "?page=99999999999999999999",
        "?page=5",
        "?kind=credit",
    ):
        response = await client.get(f"/admin/settlement/{statement_id}{query}")
        assert response.status_code == 200, query
    for query in ("?month=２０２６-１１", "?month=9999-99", "?institution=-1&state=%00"):
        assert (await client.get(f"/admin/settlement{query}")).status_code == 200
    assert (await client.get("/admin/settlement/99999999999")).status_code == 404
    assert (await client.get("/admin/settlement/424242")).status_code == 404


HOSTILE = ("\x00", "😊" * 300, "9" * 40, "-1", "１２３", "1e999", "NaN", "x" * 20000, "")


async def test_hostile_form_values_get_clear_errors_never_a_500(client, staff_client, world):
    statement_id, _apps = await _issued(client, staff_client, world)
    page = soup(await staff_client.get(f"/console/settlement/{statement_id}"))
    line_ref = page.select_one("tr[data-line] input[name=line_ref]")["value"]
    dispute_url = f"/console/settlement/{statement_id}/disputes"
    for value in HOSTILE:
        response = await staff_client.submit(dispute_url, {"line_ref": value, "reason": "理由"})
        assert response.status_code == 400, (value, response.status_code)
    for value in ("\x00", "x" * 20000, "", "  \n "):
        response = await staff_client.submit(dispute_url, {"line_ref": line_ref, "reason": value})
        assert response.status_code == 400, (value, response.status_code)
    emoji = await staff_client.submit(dispute_url, {"line_ref": line_ref, "reason": "😊" * 300})
    assert emoji.status_code == 303

    queue = soup(await client.get("/admin/settlement/disputes"))
    dispute_id = queue.select_one("tr[data-dispute]")["data-dispute"]
    decide = f"/admin/settlement/{statement_id}/disputes/{dispute_id}"
    bad_amounts = [value for value in HOSTILE if value]  # empty: accept the whole line
    refused = [
        *({"decision": value, "amount": "", "note": "说明"} for value in HOSTILE),
        *({"decision": "accept", "amount": value, "note": ""} for value in bad_amounts),
        *({"decision": "reject", "amount": "", "note": v} for v in ("\x00", "x" * 20000, "")),
    ]
    for data in refused:
        response = await client.submit(decide, {"dispute": dispute_id, **data})
        assert response.status_code == 400, (data, response.status_code)
    fraud = f"/admin/settlement/{statement_id}/fraud"
    for value in HOSTILE:
        response = await client.submit(fraud, {"application": value, "reason": "依据"})
        assert response.status_code in (400, 404), (value, response.status_code)
    decided = await client.submit(
        decide, {"dispute": dispute_id, "decision": "reject", "note": "😊"}
    )
    assert decided.status_code == 303

    payment = f"/admin/settlement/{statement_id}/payment"
    for value in HOSTILE:
        for key in ("amount", "paid_on", "reference"):
            data = {"amount": "1", "paid_on": "2026-01-01", "reference": "R1", key: value}
            response = await client.submit(payment, data)
            assert response.status_code in (400, 409), (key, value, response.status_code)


async def test_home_pages_lead_to_the_statements_of_those_who_may_see_them(
    client, staff_client, world
):
    await login(staff_client, "/console/login", "staff@test-bank.example")
    home = soup(await staff_client.get("/console/"))
    assert home.select_one("main a[href='/console/settlement']")
    await _operator(client)
    home = soup(await client.get("/admin/"))
    assert home.select_one("main a[href='/admin/settlement/disputes']")
    await client.post("/admin/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/admin/login", "reviewer@loanmart.example")  # a product reviewer
    assert not soup(await client.get("/admin/")).select_one("main a[href^='/admin/settlement']")


async def test_long_statements_print_and_export_their_first_lines(
    client, staff_client, world, monkeypatch
):
    statement_id, _apps = await _issued(client, staff_client, world, leads=3)
    monkeypatch.setattr(statements, "PRINT_MAX_LINES", 2)
    monkeypatch.setattr(statements, "XLSX_MAX_LINES", 2)
    printable = soup(await staff_client.get(f"/console/settlement/{statement_id}/print"))
    assert len(printable.select(".statement-print__lines tbody tr")) == 2
    assert "仅列出前 2 行" in printable.text
    assert "¥95.40" in printable.select_one("[data-total='due']").text  # totals cover all
    response = await staff_client.get(f"/console/settlement/{statement_id}/lines.xlsx")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows) == 1 + 2 + 1 and "仅导出前 2 行" in rows[-1][0]
