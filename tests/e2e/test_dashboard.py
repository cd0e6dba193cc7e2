"""The operators' dashboard and an institution's reports in a real browser: the demo's
history draws every chart (ECharts, SVG), each chart's data table is there (folded away
with JavaScript, the content without it), and no script is refused by the CSP (the
new_page fixture fails a test on any CSP report or script error)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.test_journey import sign_in

pytestmark = pytest.mark.e2e


async def test_dashboard_draws_its_charts_over_their_tables(new_page, live_server):
    page = await new_page(mobile=False)
    await sign_in(page, "/admin/login", "super@loanmart.example", server=live_server)
    await page.get_by_role("navigation", name="主导航").get_by_role("link", name="数据看板").click()
    await expect(page.get_by_role("heading", name="数据看板", level=1)).to_be_visible()
    await expect(page.locator("[data-kpi=applications] .stat__value")).not_to_be_empty()
    for key in ("funnel", "trend", "queries", "zero_queries", "filters"):
        figure = page.locator(f"#figure-{key}")
        await expect(figure.locator(".chart")).to_be_visible()
        await expect(figure.locator(".chart svg")).to_have_count(1)
        await expect(figure.locator("details.chart-data")).not_to_have_attribute("open", "")
        await expect(figure.locator("table tbody tr").first).to_be_attached()
    # Granularity by month: the URL carries it (shareable).
    await page.get_by_label("统计粒度").select_option("month")
    await page.get_by_role("button", name="查看").click()
    await page.wait_for_url(re.compile(r"/admin/dashboard\?.*grain=month"))
    await expect(page.locator("#figure-trend .chart svg")).to_have_count(1)

    plain = await new_page(mobile=False, javascript=False)
    await sign_in(plain, "/admin/login", "super@loanmart.example", server=live_server)
    await plain.goto("/admin/dashboard")
    await expect(plain.locator("#figure-funnel .chart")).to_be_hidden()
    await expect(plain.locator("#table-funnel tbody tr").first).to_be_visible()


async def test_institution_reports_draw_their_charts(new_page, live_server):
    page = await new_page(mobile=False)
    await sign_in(page, "/console/login", "admin@huaxin-bank.example", server=live_server)
    await page.goto("/console/reports")
    await expect(page.get_by_role("heading", name="经营报表", level=1)).to_be_visible()
    await expect(page.locator("#figure-funnel .chart svg")).to_have_count(1)
    await expect(page.locator("#table-funnel tbody tr")).to_have_count(4)
    await expect(page.get_by_role("heading", name="客群分析")).to_be_visible()
