"""Roles and parameters in a real browser, without JavaScript (A2, A3): the super admin
changes a parameter with a reason and finds it in the history; a typo is refused with what
was typed; the roles page shows the demo's created role and its edit form."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.test_journey import sign_in

pytestmark = pytest.mark.e2e


async def test_super_admin_changes_a_parameter_and_reads_the_matrix(new_page, live_server):
    page = await new_page(mobile=False, javascript=False)
    await sign_in(page, "/admin/login", "super@loanmart.example", server=live_server)
    # Without JavaScript the grouped menu still opens on its summary.
    nav = page.get_by_role("navigation", name="主导航")
    await expect(nav.get_by_role("link", name="系统参数")).to_be_hidden()
    await nav.locator("summary", has_text="系统").click()
    await nav.get_by_role("link", name="系统参数").click()
    await expect(page.get_by_role("heading", name="系统参数", level=1)).to_be_visible()
    await expect(page.get_by_role("heading", name="催收", level=2)).to_be_visible()

    await page.goto("/admin/parameters/webhook_timeout_seconds")
    await page.get_by_label("新值").fill("９")
    await page.get_by_label("修改原因").fill("机构接收方普遍较慢")
    await page.get_by_role("button", name="保存修改").click()
    await expect(page.locator(".error-summary")).to_contain_text("半角数字")
    await expect(page.get_by_label("新值")).to_have_value("９")
    await expect(page.get_by_label("修改原因")).to_have_value("机构接收方普遍较慢")

    await page.get_by_label("新值").fill("15")
    await page.get_by_role("button", name="保存修改").click()
    history = page.locator("section", has=page.get_by_role("heading", name="修改历史（共 1 次）"))
    await expect(history.locator("tbody tr").first).to_contain_text("机构接收方普遍较慢")
    await expect(history.locator("tbody tr").first).to_contain_text("15")

    await page.goto("/admin/roles")
    matrix = page.locator("table.role-matrix").first
    await expect(matrix.locator("thead")).to_contain_text("数据分析员")
    await page.get_by_role("link", name="编辑 数据分析员").click()
    await expect(page.get_by_role("heading", name="编辑角色：数据分析员")).to_be_visible()
    await expect(page.get_by_label("查看结算单")).to_be_checked()
    await expect(page.get_by_label("管理结算", exact=False).first).not_to_be_checked()


OPERATOR_PAGES = (
    "/admin/users",
    "/admin/roles",
    "/admin/parameters",
    "/admin/monitoring",
    "/admin/monitoring/cases",
    "/admin/risk",
    "/admin/audit",
)


async def test_operator_pages_do_not_scroll_sideways_on_a_phone(new_page, live_server):
    """Wide tables scroll inside their frame; nothing in them (the role matrix's
    visually-hidden cell text) widens the page itself."""
    page = await new_page()
    await sign_in(page, "/admin/login", "super@loanmart.example", server=live_server)
    for path in OPERATOR_PAGES:
        await page.goto(path)
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a 390px phone"
        # The header keeps the whole brand: the avatar stands for the operator's name.
        cut = await page.evaluate(
            "(() => { const n = document.querySelector('.brand__name');"
            " return n.scrollWidth - n.clientWidth; })()"
        )
        assert cut <= 0, f"{path}: the brand name is cut by {cut}px"
