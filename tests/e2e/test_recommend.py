"""为我推荐 in a real browser: from the home page, the demo borrower states a need and gets
products ranked by all-in APR with approval-odds bands and the criteria behind them; one
click to the general view, on to the published calibration; the apply form carries the
chosen products; the same page works without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.test_journey import sign_in

pytestmark = pytest.mark.e2e

DEMO_BORROWER = "13800138000"


async def test_recommendations_with_odds_general_view_and_calibration(new_page, live_server):
    borrower = await new_page()
    await sign_in(borrower, "/login", DEMO_BORROWER)
    await borrower.goto("/")
    await borrower.locator("#home-recommend").click()
    await expect(borrower.locator("h1")).to_have_text("为我推荐")
    await borrower.get_by_label("借款金额").fill("30000")
    await borrower.get_by_label("借款期限").fill("12")
    await borrower.get_by_role("button", name="查看推荐").click()
    await expect(borrower).to_have_url(re.compile(r"amount=30000"))
    await expect(borrower.locator("#recommend-mode")).to_contain_text("已按您的个人情况推荐")
    items = borrower.locator("#eligible-list > li")
    await expect(items.first).to_be_visible()
    first = items.first
    await expect(first.locator(".odds")).to_contain_text("获批可能性")
    await first.locator("summary").click()
    await expect(first.locator("[data-criterion=age]")).to_contain_text("周岁")
    await expect(first.locator("[data-criterion=city]")).to_be_visible()
    await expect(borrower.locator("#how")).to_contain_text("如何计算")

    # The chosen products go to the multi-apply form as ?products=…
    product_id = await first.get_attribute("data-product")
    await first.get_by_role("checkbox").check()
    await borrower.get_by_role("button", name="申请已选产品").click()
    await expect(borrower).to_have_url(re.compile(rf"/apply\?products={product_id}$"))

    await borrower.goto("/recommend?amount=30000&term=12")
    await borrower.locator("#general-view-link").click()
    await expect(borrower).to_have_url(re.compile(r"view=general"))
    await expect(borrower.locator("#recommend-mode")).to_contain_text("不按个人情况的推荐")
    await expect(borrower.locator("#eligible-list [data-criterion=age]")).to_have_count(0)

    await borrower.locator("#calibration-link").click()
    await expect(borrower.locator("h1")).to_have_text("获批可能性校准")
    await expect(borrower.locator("#calibration-table tbody tr")).to_have_count(3)
    await expect(borrower.locator("#computed-at")).to_contain_text("计算时间")


async def test_hostile_need_without_javascript_is_a_clear_error(new_page, live_server):
    plain = await new_page(javascript=False)
    await plain.goto("/recommend?amount=-5&term=abc")
    await expect(plain.locator(".error-summary")).to_contain_text("借款金额")
    await expect(plain.locator(".error-summary")).to_contain_text("借款期限")
    await expect(plain.get_by_label("借款金额")).to_have_value("-5")
    await plain.get_by_label("借款金额").fill("20000")
    await plain.get_by_label("借款期限").fill("12")
    await plain.get_by_role("button", name="查看推荐").click()
    await expect(plain.locator("#eligible-list > li").first).to_be_visible()
    await expect(plain.locator("#recommend-mode")).to_contain_text("当前为不按个人情况的推荐")
