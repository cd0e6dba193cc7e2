"""Loan pages (issue 7, P9/I9): the institution's portfolio and loan list, one loan with its
repayment form, disbursing a signed lead, and the borrower's loans and calendar. Numbers
are checked against a portfolio built through the verbs."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import openpyxl

from marketplace.audit.tables import AuditEntry
from marketplace.loancalc import add_months, today_shanghai
from marketplace.loans.jobs import daily_overdue, run_daily_overdue
from marketplace.loans.portfolio import portfolio
from marketplace.loans.services import report_repayment
from marketplace.loans.tables import Instalment, Loan, LoanEvent, LoanRoll, Repayment
from tests.factories import application_in, user
from tests.fixtures import login, soup
from tests.loan_factories import ACCOUNT, disbursed_loan, with_shared_data

STAFF = "staff@test-bank.example"
OTHER_STAFF = "staff@other-bank.example"


async def _known_portfolio(world) -> dict[str, int]:
    """One current loan, one 1–30 days overdue, one settled; aged by today's run."""
    today = today_shanghai()
    current = await disbursed_loan(world, today - timedelta(days=10), "12000", 12)
    overdue = await disbursed_loan(world, add_months(today, -1) - timedelta(days=5), "6000", 6)
    settled = await disbursed_loan(world, today - timedelta(days=3), "3000", 3)
    plan = await Instalment.select().where(Instalment.loan == settled).order_by(Instalment.number)
    # Settled early three days in: period 1 in full (the current one), the rest principal.
    owed = sum(
        (row["principal_due"] + row["interest_due"] + row["fee_due"] for row in plan[:1]),
        Decimal(0),
    ) + sum((row["principal_due"] for row in plan[1:]), Decimal(0))
    await report_repayment(world.staff, settled, owed, today, "early_settlement", "SETTLE-0001")
    await daily_overdue()
    return {"current": current, "overdue": overdue, "settled": settled}


def _cells(page, selector: str) -> list[str]:
    return [cell.get_text(strip=True) for cell in page.select(selector)]


async def test_portfolio_page_shows_the_institutions_numbers_and_nobody_elses(client, world):
    loans = await _known_portfolio(world)
    await disbursed_loan(world, today_shanghai(), "99999", 12)  # disbursed today: current
    await login(client, "/console/login", STAFF)
    response = await client.get("/console/loans")
    assert response.status_code == 200
    page = soup(response)
    assert _cells(page, "#dpd-buckets tr[data-bucket=current] td") == ["2", "¥111,999.00"]
    assert _cells(page, "#dpd-buckets tr[data-bucket='1-30'] td") == ["1", "¥6,000.00"]
    assert _cells(page, "#dpd-buckets tr[data-bucket='90+'] td") == ["0", "¥0.00"]
    stats = {
        s.select_one(".stat__label").get_text(strip=True): s.select_one(".stat__value").get_text(
            strip=True
        )
        for s in page.select(".stat")
    }
    assert stats["在贷笔数"] == "3"
    assert stats["剩余本金"] == "¥117,999.00"
    # 6,000 of 117,999 overdue: above the default 5 % line.
    assert stats["逾期率（按本金）"] == "5.08%"
    assert "逾期率预警" in page.get_text()
    # The chart reads the same figures from its data attribute; the table is the no-JS view.
    assert page.select_one("#dpd-buckets [data-chart]") is not None
    rows = page.select("#loan-rows tr[data-loan]")
    assert len(rows) == 4
    assert {int(row["data-loan"]) for row in rows} >= set(loans.values())

    filtered = soup(await client.get("/console/loans?status=overdue&bucket=1-30"))
    assert [int(r["data-loan"]) for r in filtered.select("#loan-rows tr[data-loan]")] == [
        loans["overdue"]
    ]
    hostile = await client.get(
        "/console/loans?status=%00&bucket=9999&product=-1&disbursed_from=2026-02-31&page=99999999"
    )
    assert hostile.status_code == 200

    await client.post("/console/logout", data={"_csrf_token": await client.csrf_token()})
    client.cookies.clear()
    await login(client, "/console/login", OTHER_STAFF)
    other = soup(await client.get("/console/loans"))
    assert other.select("#loan-rows tr[data-loan]") == []
    assert _cells(other, "#dpd-buckets tr[data-bucket=current] td") == ["0", "¥0.00"]
    for loan_id in loans.values():
        assert (await client.get(f"/console/loans/{loan_id}")).status_code == 404


async def test_export_is_masked_filtered_and_audited(client, world):
    loans = await _known_portfolio(world)
    await login(client, "/console/login", STAFF)
    response = await client.get("/console/loans/export/csv?status=overdue")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "借款编号" and len(rows) == 2
    assert "6222" not in response.text and "3456789" not in response.text
    xlsx = await client.get("/console/loans/export/xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert len(list(book.active.iter_rows())) == 1 + len(loans)
    assert (await client.get("/console/loans/export/pdf")).status_code == 404
    exports = (
        await AuditEntry.select(AuditEntry.detail)
        .where(AuditEntry.action == "loan.export")
        .order_by(AuditEntry.id)
        .output(load_json=True)
    )
    assert [(e["detail"]["rows"], e["detail"]["format"]) for e in exports] == [
        (1, "csv"),
        (3, "xlsx"),
    ]


async def test_loan_page_plan_timeline_and_repayment_form(client, world):
    today = today_shanghai()
    loan_id = await disbursed_loan(world, add_months(today, -1) - timedelta(days=3), "6000", 6)
    await daily_overdue()
    await login(client, "/console/login", STAFF)
    page = soup(await client.get(f"/console/loans/{loan_id}"))
    assert len(page.select("tr[data-instalment]")) == 6
    assert "****6789" in page.get_text() and "6222" not in page.get_text()
    timeline = [li.select_one(".timeline__label").get_text() for li in page.select(".timeline li")]
    assert timeline == ["已放款", "逾期"]

    first = (
        await Instalment.select().where(Instalment.loan == loan_id).order_by(Instalment.number)
    )[0]
    due = first["principal_due"] + first["interest_due"] + first["fee_due"]
    url = f"/console/loans/{loan_id}/repayments"
    good = {"amount": str(due), "paid_on": today.isoformat(), "kind": "instalment"}
    hostile = [
        ({"amount": "-5"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1e5"}, "amount"),
        ({"amount": "99999999999999999999"}, "amount"),
        ({"paid_on": "2026-02-30"}, "paid_on"),
        ({"paid_on": (today + timedelta(days=1)).isoformat()}, "paid_on"),
        ({"kind": "bonus"}, "kind"),
        ({"reference": "ABC\x00DEF"}, "reference"),
        ({"reference": "流水😀"}, "reference"),
        ({"reference": "X" * 65}, "reference"),
        ({"reference": ""}, "reference"),
        ({"amount": str(due - 1)}, "kind"),  # less than the instalment: a partial
        ({"amount": "999999"}, "amount"),  # more than everything owed
    ]
    for change, field in hostile:
        form = {**good, "reference": "BANK-2026-0001", **change}
        response = await client.submit(url, form)
        assert response.status_code in (400, 409), (change, response.status_code)
        answer = soup(response)
        assert answer.select_one(f"#f-{field}[aria-invalid=true]") is not None, change
        # What was typed comes back (NUL-free values), nothing is lost.
        if "\x00" not in form["reference"] and len(form["reference"]) <= 64:
            assert answer.select_one("#f-reference").get("value", "") == form["reference"]
    assert await Repayment.count() == 0

    form = {**good, "reference": "BANK-2026-0001"}
    token = await client.csrf_token()
    answers = await asyncio.gather(
        *(client.post(url, data={"_csrf_token": token, **form}) for _ in range(4))
    )
    assert [a.status_code for a in answers] == [303] * 4
    assert await Repayment.count() == 1
    loan = await Loan.objects().get(Loan.id == loan_id)
    assert (loan.status, loan.dpd) == ("repaying", 0)
    page = soup(await client.get(f"/console/loans/{loan_id}"))
    assert "BANK-2026-0001" in page.get_text()
    timeline = [li.select_one(".timeline__label").get_text() for li in page.select(".timeline li")]
    assert timeline == ["已放款", "逾期", "还款", "逾期已还清"]
    # The same reference with another amount is refused, not recorded twice.
    response = await client.submit(url, {**form, "amount": "1.00", "kind": "partial"})
    assert response.status_code == 400 and "已登记过" in response.text
    assert await Repayment.count() == 1

    # The page names what settles it today; reporting exactly that settles the loan.
    page = soup(await client.get(f"/console/loans/{loan_id}"))
    owed = re.search(r"应还 ¥([\d,]+\.\d\d)", page.select_one("#settlement-today").get_text())
    settle = {**good, "amount": owed.group(1).replace(",", ""), "kind": "early_settlement"}
    assert (await client.submit(url, {**settle, "reference": "BANK-2026-0002"})).status_code == 303
    assert (await Loan.objects().get(Loan.id == loan_id)).status == "settled"
    assert (await client.get(f"/console/loans/{loan_id}")).text.count("settlement-today") == 0

    # Another institution's staff cannot post to it; a product manager cannot post at all.
    client.cookies.clear()
    await login(client, "/console/login", OTHER_STAFF)
    response = await client.submit(url, {**form, "reference": "OTHER-0001"})
    assert response.status_code == 404
    await user("staff", "pm@test-bank.example", "product_manager", world.bank_id, "周洁")
    client.cookies.clear()
    await login(client, "/console/login", "pm@test-bank.example")
    assert (await client.get(f"/console/loans/{loan_id}")).status_code == 403
    assert (await client.submit(url, {**form, "reference": "PM-0001"})).status_code == 403
    assert await Repayment.count() == 2


async def test_disbursing_a_signed_lead_from_the_console(client, world):
    application_id = await application_in(world, "accepted", "20000", 6)
    unsigned = await application_in(world, "approved", "20000", 6)
    other_bank = await application_in(world, "accepted", "20000", 6)
    for lead in (application_id, unsigned, other_bank):
        await with_shared_data(lead)
    from marketplace.applications.tables import Application

    await Application.update({Application.institution: world.other_bank_id}).where(
        Application.id == other_bank
    )
    await login(client, "/console/login", STAFF)
    url = f"/console/leads/{application_id}/disburse"
    page = soup(await client.get(url))
    assert page.select_one("#f-amount")["value"] == "20000.00"
    assert (await client.get(f"/console/leads/{other_bank}/disburse")).status_code == 404
    assert (
        "借款人签约后才能登记放款" in (await client.get(f"/console/leads/{unsigned}/disburse")).text
    )

    today = today_shanghai().isoformat()
    good = {"disbursed_on": today, "amount": "20000", "receiving_account": ACCOUNT}
    for change, field in [
        ({"amount": "20000.01"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "二万"}, "amount"),
        ({"receiving_account": "abc"}, "receiving_account"),
        ({"receiving_account": "6222\x000210"}, "receiving_account"),
        ({"receiving_account": "1" * 41}, "receiving_account"),
        ({"disbursed_on": "2999-01-01"}, "disbursed_on"),
        ({"disbursed_on": "yesterday"}, "disbursed_on"),
    ]:
        response = await client.submit(url, {**good, **change})
        assert response.status_code == 400, change
        assert soup(response).select_one(f"#f-{field}[aria-invalid=true]") is not None, change
    assert await Loan.count() == 0

    answers = await asyncio.gather(*(client.submit(url, good) for _ in range(3)))
    assert sorted(a.status_code for a in answers)[0] == 303
    assert await Loan.count() == 1
    loan = await Loan.objects().first()
    assert loan is not None
    moved = next(a for a in answers if a.status_code == 303)
    assert moved.headers["location"] == f"/console/loans/{loan.id}"
    loan_page = (await client.get(f"/console/loans/{loan.id}")).text
    assert "****6789" in loan_page and "6222" not in loan_page

    lead = soup(await client.get(f"/console/leads/{application_id}"))
    assert lead.select_one("[data-loan-status]")["data-loan-status"] == "disbursed"
    assert [li.select_one(".timeline__label").get_text() for li in lead.select(".timeline li")][
        -1
    ] == "已放款"
    leads = soup(await client.get("/console/leads?assignee=all"))
    assert leads.select_one(f"tr[data-lead='{application_id}'] [data-loan-status]") is not None
    again = soup(await client.get(url))
    assert again.select_one("#f-amount") is None  # already disbursed: a link to the loan


async def test_borrower_sees_own_loans_and_a_calendar_across_them(client, world):
    today = today_shanghai()
    first = await disbursed_loan(world, add_months(today, -1), "12000", 12)
    second = await disbursed_loan(world, today - timedelta(days=3), "6000", 6)
    stranger = await user("borrower", "13800000001", "borrower", None, "李四")
    await login(client, "/login", world.borrower_mobile)
    page = soup(await client.get("/me/loans"))
    assert {card["id"] for card in page.select(".loan-card")} == {
        f"loan-{first}",
        f"loan-{second}",
    }
    assert "****6789" in page.get_text() and "6222" not in page.get_text()
    assert "我的借款" in page.select_one(".site-header").get_text()

    due_months = {
        (row["due_on"].year, row["due_on"].month): row
        for row in await Instalment.select().where(Instalment.loan.is_in([first, second]))
    }
    month = add_months(today, 1).replace(day=1)
    response = await client.get(f"/me/calendar?month={month:%Y-%m}")
    assert response.status_code == 200
    cal = soup(response)
    expected = sum(
        (
            row["principal_due"] + row["interest_due"] + row["fee_due"]
            for row in await Instalment.select().where(Instalment.loan.is_in([first, second]))
            if (row["due_on"].year, row["due_on"].month) == (month.year, month.month)
        ),
        Decimal(0),
    )
    assert Decimal(cal.select_one("[data-month-total]")["data-month-total"]) == expected
    assert (month.year, month.month) in due_months
    days = cal.select(".calendar-list__day")
    assert days and all(d["data-day"].startswith(f"{month:%Y-%m}") for d in days)
    nxt = cal.select_one("a[rel=next]")["href"]
    assert nxt.endswith(f"month={add_months(month, 1):%Y-%m}")
    prev = cal.select_one("a[rel=prev]")["href"]
    assert prev.endswith(f"month={add_months(month, -1):%Y-%m}")

    this_month = f"{today:%Y-%m}"
    for hostile in [
        "2026-13",
        "abcd",
        "9999-01",
        "%00",
        "2026-1",
        "２０２６-０１",
        "-1",
        "2026-02-30",
    ]:
        response = await client.get(f"/me/calendar?month={hostile}")
        assert response.status_code == 200, hostile
        assert (
            soup(response)
            .select_one("a[rel=next]")["href"]
            .endswith(f"month={add_months(today.replace(day=1), 1):%Y-%m}")
        ), hostile
    assert this_month

    ics = await client.get("/me/calendar.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert ics.text.count("BEGIN:VEVENT") == 18  # every instalment still owed

    client.cookies.clear()
    await login(client, "/login", "13800000001")
    assert soup(await client.get("/me/loans")).select(".loan-card") == []
    assert (await client.get("/me/calendar.ics")).text.count("BEGIN:VEVENT") == 0
    assert stranger


async def test_borrower_timeline_shows_disbursement_repayments_overdue_and_settlement(
    client, world
):
    today = today_shanghai()
    loan_id = await disbursed_loan(world, add_months(today, -1) - timedelta(days=2), "3000", 3)
    await daily_overdue()
    loan = await Loan.objects().get(Loan.id == loan_id)
    from marketplace.applications.tables import Application

    reference = (
        await Application.select(Application.reference)
        .where(Application.id == loan.application)
        .first()
    )["reference"]
    plan = await Instalment.select().where(Instalment.loan == loan_id).order_by(Instalment.number)
    owed = sum(
        (r["principal_due"] + r["interest_due"] + r["fee_due"] for r in plan[:2]), Decimal(0)
    ) + sum((r["principal_due"] for r in plan[2:]), Decimal(0))
    await report_repayment(world.staff, loan_id, owed, today, "early_settlement", "SETTLE-9")
    await login(client, "/login", world.borrower_mobile)
    page = soup(await client.get(f"/me/applications/{reference}"))
    labels = [li.select_one(".timeline__label").get_text() for li in page.select(".timeline li")]
    assert labels[-4:] == ["已放款", "逾期", "还款", "已结清"]
    assert page.select_one(f"a[href='/me/loans#loan-{loan_id}']") is not None


async def test_roll_rates_and_alerts_from_month_end_snapshots(world):
    loan_id = await disbursed_loan(world, date(2026, 1, 31), "12000", 12)
    other = await disbursed_loan(world, date(2026, 1, 31), "5000", 12)
    await Loan.update({Loan.institution: world.other_bank_id}).where(Loan.id == other)
    await run_daily_overdue(date(2026, 2, 27))
    await run_daily_overdue(date(2026, 3, 1))  # closes February: both current
    await run_daily_overdue(date(2026, 3, 30))  # 30 days past due
    await run_daily_overdue(date(2026, 4, 1))  # closes March (1–30), then 32 days
    assert await LoanRoll.count() == 2  # one flow per institution for March
    mine = await portfolio(world.staff, date(2026, 4, 3))
    (march,) = mine.rolls
    assert march.month_end == date(2026, 3, 31)
    assert [r.rate for r in march.rates] == [Decimal("1"), None, None, None]
    assert [(a.loan_id, a.dpd, a.bucket_label) for a in mine.alerts] == [
        (loan_id, 32, "逾期31–60天")
    ]
    assert await LoanEvent.count().where(LoanEvent.kind == "overdue") == 2
    # A week on, the alert is no longer recent.
    assert (await portfolio(world.staff, date(2026, 4, 20))).alerts == ()
    theirs = await portfolio(world.other_staff, date(2026, 4, 3))
    assert [a.loan_id for a in theirs.alerts] == [other]
    await run_daily_overdue(date(2026, 4, 1))  # a second run of the day adds nothing
    assert await LoanRoll.count() == 2
    assert await LoanEvent.count().where(LoanEvent.kind == "bucket") == 2


async def test_demo_seeds_loans_in_every_state(client):
    from marketplace.demo.seed import seed_demo

    assert await seed_demo()
    loans = await Loan.select(Loan.status, Loan.dpd_bucket)
    assert {row["status"] for row in loans} == {"disbursed", "repaying", "overdue", "settled"}
    overdue = {row["dpd_bucket"] for row in loans if row["status"] == "overdue"}
    assert overdue == {"1-30", "31-60", "61-90", "90+"}
    assert await LoanRoll.count() > 0
    await login(client, "/console/login", "admin@huaxin-bank.example", "Demo12345")
    console = soup(await client.get("/console/loans"))
    # The roll-rate chart reads its figures from the data attribute; the table says the same.
    option = json.loads(console.select_one("#roll-rates [data-chart]")["data-chart"])
    assert len(option["series"]) == 4
    months = console.select("#roll-rates tbody tr")
    assert len(months) == len(option["xAxis"]["data"]) >= 2
    client.cookies.clear()
    await login(client, "/login", "13800138000", "Demo12345")
    page = soup(await client.get("/me/loans"))
    assert len(page.select(".loan-card")) == 9
    assert (await client.get("/me/calendar")).status_code == 200
