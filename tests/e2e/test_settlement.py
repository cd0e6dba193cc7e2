"""A monthly statement in a real browser (issue #9): the institution disputes a line of its
issued statement, the operator accepts the dispute, the institution confirms the adjusted
statement and the operator records the payment, which settles it. Runs on the demo seed's
issued statement of 瀚海银行 (CPS)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.test_journey import sign_in

pytestmark = pytest.mark.e2e

STAFF = "admin@hanhai-bank.example"
OPERATOR = "super@loanmart.example"
REASON = "该客户此前已由其他渠道申请，属重复线索"


async def test_dispute_accept_confirm_and_settle(new_page, live_server):
    staff = await new_page(mobile=False)
    await sign_in(staff, "/console/login", STAFF)
    await staff.goto("/console/settlement")
    issued = staff.locator("tr[data-statement]", has_text="已出具").first
    await issued.get_by_role("link", name=re.compile("结算单")).first.click()
    await expect(staff.locator(".page-header")).to_contain_text("已出具")
    statement_url = staff.url
    due_before = await staff.locator("[data-total='due']").inner_text()

    # The institution disputes the first charge line with a reason.
    line = staff.locator("tr[data-line][data-kind='charge']").first
    await line.locator("summary", has_text="提出异议").click()
    await line.locator("textarea[name=reason]").fill(REASON)
    await line.get_by_role("button", name="提交异议").click()
    await expect(staff.locator(".page-header")).to_contain_text("有异议")
    await expect(staff.locator("#disputes")).to_contain_text(REASON)
    await expect(staff.locator("form[action$='/confirm']")).to_have_count(0)

    # The operator finds it in the queue and accepts it in full.
    operator = await new_page(mobile=False)
    await sign_in(operator, "/admin/login", OPERATOR, server=live_server)
    await operator.goto("/admin/settlement/disputes")
    dispute = operator.locator("tr[data-dispute]", has_text=REASON)
    await dispute.get_by_role("link", name="处理").click()
    decision = operator.locator("tr[data-dispute]", has_text=REASON)
    await decision.locator("summary", has_text="处理").click()
    await decision.get_by_label("采纳异议").check()
    await decision.locator("textarea[name=note]").fill("核实为重复线索，全额调减")
    await decision.get_by_role("button", name="提交处理结果").click()
    await expect(operator.locator(".flash-region")).to_contain_text("已采纳异议")
    await expect(operator.locator(".page-header")).to_contain_text("已调整")

    # The institution sees the adjustment and confirms the adjusted statement.
    await staff.goto(statement_url)
    await expect(staff.locator(".page-header")).to_contain_text("已调整")
    await expect(staff.locator("#disputes")).to_contain_text("已采纳")
    due_after = await staff.locator("[data-total='due']").inner_text()
    assert due_after != due_before
    await staff.get_by_role("button", name="确认结算单").click()
    await expect(staff.locator(".page-header")).to_contain_text("已确认")

    # The operator records the payment of what is due; the statement is settled.
    await operator.reload()
    await expect(operator.locator(".page-header")).to_contain_text("已确认")
    payment = operator.locator("#payment")
    await expect(payment.locator("input[name=amount]")).to_have_value(
        due_after.replace("¥", "").replace(",", "")
    )
    await payment.locator("input[name=reference]").fill("ICBC20261201001")
    await payment.get_by_role("button", name="登记收款").click()
    await expect(operator.locator(".page-header")).to_contain_text("已结清")

    await staff.goto(statement_url)
    await expect(staff.locator(".page-header")).to_contain_text("已结清")
    await expect(staff.locator("main")).to_contain_text("ICBC20261201001")

    # The printable statement: the print button appears with JavaScript.
    await staff.goto(f"{statement_url}/print")
    await expect(staff.locator("h1")).to_contain_text("服务费结算单")
    await expect(staff.get_by_role("button", name="打印")).to_be_visible()
    await expect(staff.locator("main")).to_contain_text("已结清")
