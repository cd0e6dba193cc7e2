"""The borrower's credit health, SMS settings and legal texts in a real browser: the
worker's daily snapshot job feeds the chart (drawn by ECharts, the table folded away), the
same page without JavaScript is the table; the footer leads to versioned legal texts."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.test_journey import poll, sign_in

pytestmark = pytest.mark.e2e

DEMO_BORROWER = "13800138000"


async def test_credit_health_chart_and_its_table_without_javascript(new_page, live_server):
    borrower = await new_page()
    await sign_in(borrower, "/login", DEMO_BORROWER)
    # The worker queues today's snapshot of every borrower at startup.
    await poll(borrower, "/me/credit", "每日信用健康分")
    await expect(borrower.locator("#not-credit-report")).to_contain_text("这不是征信报告")
    chart = borrower.locator("#credit-history .chart")
    await expect(chart).to_be_visible()
    await expect(chart.locator("svg")).to_have_count(1)
    await expect(borrower.locator("#credit-history details.chart-data")).not_to_have_attribute(
        "open", ""
    )
    await expect(borrower.locator(".credit-factor")).to_have_count(4)

    plain = await new_page(javascript=False)
    await sign_in(plain, "/login", DEMO_BORROWER)
    await plain.goto("/me/credit")
    await expect(plain.locator("#credit-history .chart")).to_be_hidden()
    rows = plain.locator("#credit-history details.chart-data tbody tr")
    await expect(rows.first).to_be_visible()


async def test_sms_settings_and_legal_texts_from_the_footer(new_page, live_server):
    borrower = await new_page()
    await sign_in(borrower, "/login", DEMO_BORROWER)
    await borrower.goto("/me/notifications")
    await borrower.get_by_role("link", name="短信通知设置").click()
    marketing = borrower.get_by_role("checkbox", name=re.compile("营销活动"))
    await expect(marketing).not_to_be_checked()
    await marketing.check()
    await borrower.get_by_role("button", name="保存设置").click()
    await expect(borrower.locator("#flash-region")).to_contain_text("短信通知设置已保存")
    await expect(borrower.get_by_role("checkbox", name=re.compile("营销活动"))).to_be_checked()
    await expect(borrower.locator("[data-category=security]")).to_contain_text("不可关闭")

    await borrower.locator(".site-footer").get_by_role("link", name="隐私政策").click()
    await expect(borrower.locator("h1")).to_have_text("隐私政策")
    await expect(borrower.locator("#legal-version")).to_contain_text("第 1 版")
    await expect(borrower.locator("main table")).to_contain_text("信用健康")
    await borrower.locator(".site-footer").get_by_role("link", name="个人信息单独同意书").click()
    await expect(borrower.locator("main")).to_contain_text("〔机构名称〕")
