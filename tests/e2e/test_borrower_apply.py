"""A newcomer goes from a product to its application form through registration, and meets
the form's rules in a real browser: the city by everyday name, the employment type chosen,
and the repayment-burden warning (§6.6) read before sending."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.forms import fill_application
from tests.factories import valid_id_number

pytestmark = pytest.mark.e2e

# A demo product whose catalogue row lists its cities by short name (杭州, 宁波 …).
PRODUCT = "云帆薪享贷"


async def test_register_on_the_way_and_apply_past_the_guard(new_page, live_server):
    borrower = await new_page()
    await borrower.goto(f"/products?q={PRODUCT}")
    await borrower.get_by_role("link", name=PRODUCT, exact=True).first.click()
    await borrower.get_by_role("link", name=re.compile("立即申请")).first.click()
    await borrower.wait_for_url("**/login?next=*")

    # Registering from the sign-in page comes back to the application form, SMS step and all.
    await borrower.get_by_role("link", name="手机号注册").click()
    await borrower.fill("input[name=mobile]", "13700004321")
    await borrower.get_by_role("button", name="获取验证码").click()
    code = await live_server.printed_code("sms", "137****4321")
    await borrower.fill("input[name=code]", code)
    await borrower.fill("input[name=password]", "abc12345")
    await borrower.fill("input[name=password_confirm]", "abc12345")
    await borrower.get_by_role("button", name=re.compile("注册")).click()
    await borrower.wait_for_url("**/products/*/apply")
    await expect(borrower.locator("h1")).to_contain_text(PRODUCT)

    # 100,000 over 12 months is about 8,600 a month, more than half of 8,000.
    await fill_application(
        borrower,
        name="王芳",
        id_number=valid_id_number(birth="19920305"),
        income="8000",
        amount="100000",
        employment=None,
    )
    await borrower.check("input[name=consent]")
    await borrower.get_by_role("button", name="提交申请").click()

    # No employment type is assumed: asked for, with everything typed kept.
    await expect(borrower.locator(".error-summary")).to_contain_text("请选择您的职业类型")
    await expect(borrower.locator("input[name=city]")).to_have_value("杭州")
    await expect(borrower.locator("input[name=consent]")).to_be_checked()
    await borrower.select_option("select[name=employment_type]", "employee")
    await borrower.get_by_role("button", name="提交申请").click()

    # The burden is shown; the borrower may still send it after saying so.
    warning = borrower.locator("#debt-warning")
    await expect(warning).to_contain_text("还款负担提示")
    await expect(warning).to_contain_text("超过建议的 50%")
    await warning.locator("input[name=debt_warning_read]").check()
    await borrower.get_by_role("button", name="提交申请").click()
    await borrower.wait_for_url("**/me/applications/*")
    await expect(borrower.locator("main")).to_contain_text("已提交")
