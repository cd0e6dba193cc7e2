"""Reconciliation in a real browser (issue 9): the demo institution opens 放款对账, goes to
the month it reported, resolves a discrepancy with a note (without JavaScript, as the page
works without it), and an upload with a bad row names the row and imports nothing; an
operator sees the same month in the admin."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.test_journey import sign_in

pytestmark = pytest.mark.e2e

HEADER = "申请编号,放款金额,放款日期,机构借据号\n"


async def test_institution_resolves_a_discrepancy_and_a_bad_file_imports_nothing(
    new_page, live_server, tmp_path
):
    page = await new_page(mobile=False, javascript=False)
    await sign_in(page, "/console/login", "admin@huaxin-bank.example")
    await page.goto("/console/settlement/reconciliation")
    await expect(page.get_by_role("heading", name="放款对账", level=1)).to_be_visible()
    reported = page.get_by_role("navigation", name="已报送的月份").get_by_role("link").first
    month = (await reported.text_content() or "").strip()
    await reported.click()
    await expect(page.locator("tr[data-outcome=matched]").first).to_be_visible()

    open_row = page.locator("tr[data-state=open]").first
    reference = await open_row.get_attribute("data-reference")
    await open_row.locator("summary").click()
    await open_row.get_by_label("处理说明").fill("已与机构核对，差额下月冲正")
    await open_row.get_by_role("button", name="标记已处理").click()
    resolved = page.locator(f'tr[data-reference="{reference}"]')
    await expect(resolved).to_have_attribute("data-state", "resolved")
    await expect(resolved).to_contain_text("已与机构核对，差额下月冲正")

    bad = tmp_path / "ledger.csv"
    rows = f"LM1,100,{month}-01,\nLM1,100,{month}-02,\nLM2,-5,{month}-02,\n"
    bad.write_text(HEADER + rows, encoding="utf-8")
    await page.locator("#u-period").fill(month)
    await page.set_input_files("#u-file", str(bad))
    await page.get_by_role("button", name="检查并导入").click()
    await expect(page.locator("tr[data-row='3']")).to_contain_text("与第 2 行申请编号重复")
    await expect(page.locator("tr[data-row='4']")).to_contain_text("请填写正确的放款金额")

    operator = await new_page(mobile=False)
    await sign_in(operator, "/admin/login", "super@loanmart.example", server=live_server)
    await operator.goto("/admin/settlement/reconciliation")
    await operator.locator("#f-institution").select_option(label="华信银行股份有限公司")
    await operator.locator("#filter-period").fill(month)
    await operator.get_by_role("button", name="查看").click()
    await expect(operator.locator(f'tr[data-reference="{reference}"]')).to_have_attribute(
        "data-state", "resolved"
    )
