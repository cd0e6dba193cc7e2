"""The whole life of a loan in a real browser against a real server process (issue 7):
two institutions approve with offers → the borrower compares them and signs one with the
SMS code → the institution disburses → a due date passes (the post-loan day is run for
chosen business dates with `loanmart daily --date`) → DPD 1, a reminder and an overdue
notice → two repayments reported → settled."""

from __future__ import annotations

import os
import re
import sys
from datetime import timedelta

import pytest
from playwright.async_api import Page, expect

from marketplace.loancalc import add_months, today_shanghai
from tests.conftest import E2E_ENV
from tests.e2e.conftest import _run
from tests.e2e.forms import fill_application
from tests.e2e.test_journey import poll, sign_in
from tests.factories import valid_id_number

pytestmark = pytest.mark.e2e

MOBILE = "13700005678"
MASKED = "137****5678"
PRODUCTS = ("华信e贷", "云帆信用卡现金分期")


async def _daily(business_date) -> None:
    env = {**os.environ, **E2E_ENV, "LOANMART_DEMO": "1"}
    await _run(sys.executable, "-m", "server.cli", "daily", "--date", str(business_date), env=env)


async def _apply(borrower: Page, product: str) -> str:
    await borrower.goto(f"/products?q={product}")
    await borrower.get_by_role("link", name=product, exact=True).first.click()
    await borrower.get_by_role("link", name=re.compile("立即申请")).first.click()
    await fill_application(
        borrower, name="林悦", id_number=valid_id_number(sequence="457"), income="18000"
    )
    await borrower.check("input[name=consent]")
    await borrower.get_by_role("button", name="提交申请").click()
    await borrower.wait_for_url("**/me/applications/*")
    return borrower.url.rsplit("/", 1)[-1]


async def _offer(staff: Page, reference: str, amount: str | None, term: str | None) -> None:
    """Take the lead into review and approve it with an offer (the form starts from what
    the borrower asked, at the product's price)."""
    await poll(staff, "/console/leads?sort=recent", reference)
    await staff.get_by_role("link", name=reference, exact=True).click()
    await staff.get_by_role("button", name=re.compile("开始审核")).click()
    await expect(staff.locator("main")).to_contain_text("审核中")
    await staff.get_by_role("link", name=re.compile("批复并发送方案")).click()
    if amount:
        await staff.fill("#f-amount", amount)
    if term:
        await staff.select_option("#f-term_months", term)
    await staff.get_by_role("button", name="预览").click()
    await expect(staff.locator("main")).to_contain_text("综合年化")
    await staff.get_by_role("button", name="发送批复方案").click()
    await expect(staff.locator("main")).to_contain_text("已批复")


def _money(text: str) -> str:
    return text.replace("¥", "").replace(",", "").strip()


async def test_offer_signature_disbursement_overdue_repayments_settled(new_page, live_server):
    # The borrower registers and applies to two institutions.
    borrower = await new_page()
    await borrower.goto("/register")
    await borrower.fill("input[name=mobile]", MOBILE)
    await borrower.get_by_role("button", name="获取验证码").click()
    await borrower.fill("input[name=code]", await live_server.printed_code("sms", MASKED))
    await borrower.fill("input[name=password]", "abc12345")
    await borrower.fill("input[name=password_confirm]", "abc12345")
    await borrower.get_by_role("button", name=re.compile("注册")).click()
    huaxin_ref = await _apply(borrower, PRODUCTS[0])
    yunfan_ref = await _apply(borrower, PRODUCTS[1])

    # Each institution approves with an offer: 华信 offers less than asked, over 6 months.
    huaxin = await new_page(mobile=False)
    await sign_in(huaxin, "/console/login", "admin@huaxin-bank.example")
    await _offer(huaxin, huaxin_ref, "30000", "6")
    lead_url = huaxin.url
    yunfan = await new_page(mobile=False)
    await sign_in(yunfan, "/console/login", "admin@yunfan-bank.example")
    await _offer(yunfan, yunfan_ref, None, None)

    # The borrower compares both offers, cheapest APR first, and signs 华信's with the code.
    await poll(borrower, "/me/offers", "云帆")
    rows = borrower.locator("tr", has=borrower.locator(".offer-apr"))
    await expect(rows).to_have_count(2)
    aprs = [
        float((await a.inner_text()).rstrip("%")) for a in await rows.locator(".offer-apr").all()
    ]
    assert aprs == sorted(aprs)
    await rows.filter(has_text="华信银行").get_by_role("link", name="查看并签约").click()
    await expect(borrower.locator("main")).to_contain_text("借款合同")
    await expect(borrower.locator("main")).to_contain_text("¥30,000.00")
    await borrower.get_by_role("button", name="获取短信验证码").click()
    await borrower.fill("#f-code", await live_server.printed_code("sms", MASKED))
    await borrower.get_by_role("button", name="同意并签署合同").click()
    await expect(borrower.locator("main")).to_contain_text("借款合同（已签署）")

    # 华信 disburses, dated so that the first instalment fell due yesterday.
    today = today_shanghai()
    yesterday = today - timedelta(days=1)
    disbursed_on = next(
        today - timedelta(days=k)
        for k in range(27, 40)
        if add_months(today - timedelta(days=k), 1) == yesterday
    )
    await huaxin.goto(lead_url)
    await expect(huaxin.locator("main")).to_contain_text("已签约")
    await huaxin.get_by_role("link", name="登记放款").click()
    await huaxin.fill("#f-disbursed_on", disbursed_on.isoformat())
    await huaxin.fill("#f-amount", "30000")
    await huaxin.fill("#f-receiving_account", "6222 0210 0112 3456 789")
    await huaxin.get_by_role("button", name="登记放款并生成还款计划").click()
    await expect(huaxin.locator("main")).to_contain_text("****6789")
    loan_url = huaxin.url
    assert "6222" not in await huaxin.locator("main").inner_text()

    # The post-loan days: the reminder three days before the due date, then today, one day
    # past it. Running a day twice sends nothing twice.
    await _daily(yesterday - timedelta(days=3))
    await _daily(today)
    await _daily(today)
    await borrower.goto("/me/loans")
    await expect(borrower.locator("main")).to_contain_text("已逾期 1 天")
    await borrower.goto("/me/notifications")
    inbox = borrower.locator(".inbox")
    await expect(inbox.locator("li", has_text="到期")).to_have_count(1)
    await expect(inbox.locator("li", has_text="已逾期")).to_have_count(1)

    # 华信 reports the missed instalment, then settles the rest early.
    await huaxin.goto(loan_url)
    await expect(huaxin.locator("main")).to_contain_text("已逾期")
    owed = re.search(r"待还 (¥[\d,]+\.\d\d)", await huaxin.locator("main").inner_text())
    await huaxin.fill("#f-amount", _money(owed.group(1)))
    await huaxin.fill("#f-paid_on", today.isoformat())
    await huaxin.select_option("#f-kind", "instalment")
    await huaxin.fill("#f-reference", "E2E-REPAY-0001")
    await huaxin.get_by_role("button", name="登记还款").click()
    await expect(huaxin.locator("main")).to_contain_text("还款中")
    settle = re.search(
        r"应还 (¥[\d,]+\.\d\d)", await huaxin.locator("#settlement-today").inner_text()
    )
    await huaxin.fill("#f-amount", _money(settle.group(1)))
    await huaxin.fill("#f-paid_on", today.isoformat())
    await huaxin.select_option("#f-kind", "early_settlement")
    await huaxin.fill("#f-reference", "E2E-REPAY-0002")
    await huaxin.get_by_role("button", name="登记还款").click()
    await expect(huaxin.locator("main")).to_contain_text("该贷款已结清")

    # The borrower's loan and timeline end settled, with every step on the way.
    await borrower.goto("/me/loans")
    await expect(borrower.locator("main")).to_contain_text("已结清")
    await borrower.goto(f"/me/applications/{huaxin_ref}")
    timeline = borrower.locator(".timeline")
    for step in ("已批复", "已签约", "已放款", "逾期", "已结清"):
        await expect(timeline).to_contain_text(step)
