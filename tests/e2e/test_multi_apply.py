"""One application to many (issue #10, P5) in a real browser: a new borrower saves a
profile, picks three products of two institutions on the compare page, finds the profile
prefilled, gives two consents on one page, submits once and follows three applications,
each with its own timeline."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.factories import valid_id_number

pytestmark = pytest.mark.e2e

# Two demo products of 华信银行 and one of 云帆银行, all taking a salaried borrower in 杭州.
PRODUCTS = ("华信e贷", "华信公积金贷", "云帆薪享贷")


async def _register(page: Page, live_server, mobile: str) -> None:
    await page.goto("/register")
    await page.fill("input[name=mobile]", mobile)
    await page.get_by_role("button", name="获取验证码").click()
    code = await live_server.printed_code("sms", mobile[:3] + "****" + mobile[-4:])
    await page.fill("input[name=code]", code)
    await page.fill("input[name=password]", "abc12345")
    await page.fill("input[name=password_confirm]", "abc12345")
    await page.get_by_role("button", name=re.compile("注册")).click()
    await page.wait_for_load_state()


async def _product_id(page: Page, name: str) -> str:
    await page.goto(f"/products?q={name}")
    await page.get_by_role("link", name=name, exact=True).first.click()
    await page.wait_for_url("**/products/*")
    return page.url.rstrip("/").rsplit("/", 1)[-1]


async def test_three_products_two_consents_one_submission(new_page, live_server):
    borrower = await new_page()
    await _register(borrower, live_server, "13700005680")

    # The profile, saved once from the personal centre.
    await borrower.goto("/me")
    await borrower.get_by_role("link", name="查看和修改申请资料").click()
    await borrower.get_by_role("link", name="填写申请资料").click()
    await borrower.fill("input[name=real_name]", "周婷")
    await borrower.fill("input[name=id_number]", valid_id_number(birth="19920305"))
    await borrower.fill("input[name=city]", "杭州")
    await borrower.fill("input[name=monthly_income]", "20000")
    await borrower.select_option("select[name=employment_type]", "employee")
    await borrower.fill("input[name=address]", "浙江省杭州市西湖区文三路 90 号")
    await borrower.fill("input[name=contact_name]", "周建国")
    await borrower.select_option("select[name=contact_relation]", "parent")
    await borrower.fill("input[name=contact_mobile]", "13600136000")
    await borrower.get_by_role("button", name="保存资料").click()
    await borrower.wait_for_url("**/me/profile")
    await expect(borrower.locator("main")).to_contain_text("周*")
    await expect(borrower.locator("main")).not_to_contain_text("周婷")

    # Three products side by side, then all three ticked for one application.
    ids = [await _product_id(borrower, name) for name in PRODUCTS]
    await borrower.goto("/compare?" + "&".join(f"id={i}" for i in ids))
    for product_id in ids:
        await borrower.locator(f"input[form=compare-apply-form][value='{product_id}']").check()
    await borrower.get_by_role("button", name="一键申请所选产品").click()
    await borrower.wait_for_url("**/apply?products=*")

    # The profile is prefilled; the need is asked once.
    await expect(borrower.locator("input[name=real_name]")).to_have_value("周婷")
    await expect(borrower.locator("input[name=contact_mobile]")).to_have_value("13600136000")
    await borrower.fill("input[name=amount]", "50000")
    await borrower.select_option("select[name=term_months]", "12")
    await borrower.select_option("select[name=purpose]", "home_improvement")
    for product_id in ids:
        await expect(
            borrower.locator(f"input[name=products][value='{product_id}']")
        ).to_be_checked()

    # One consent per institution; sending without one names that institution.
    consents = borrower.locator("input[type=checkbox][name^=consent_]")
    await expect(consents).to_have_count(2)
    await borrower.get_by_label("我已阅读并同意向华信银行提供上述个人信息").check()
    await borrower.get_by_role("button", name="提交所选产品的申请").click()
    await expect(borrower.locator(".field__error")).to_contain_text("云帆银行")
    await expect(borrower.locator("input[name=amount]")).to_have_value("50000")
    await expect(borrower.get_by_label("我已阅读并同意向华信银行提供上述个人信息")).to_be_checked()
    await borrower.get_by_label("我已阅读并同意向云帆银行提供上述个人信息").check()
    await borrower.get_by_role("button", name="提交所选产品的申请").click()

    # Three applications, each with its own timeline.
    await borrower.wait_for_url("**/me/applications")
    await expect(borrower.locator("#flash-region")).to_contain_text("已提交 3 份申请")
    rows = borrower.locator("main table tbody tr")
    await expect(rows).to_have_count(3)
    references = set()
    for name in PRODUCTS:
        await borrower.goto("/me/applications")
        await borrower.get_by_role("link", name=re.compile(name)).first.click()
        await borrower.wait_for_url("**/me/applications/LM*")
        await expect(borrower.locator("#timeline")).to_be_visible()
        await expect(borrower.locator("h1")).to_contain_text(name)
        references.add(borrower.url.rsplit("/", 1)[-1])
    assert len(references) == 3
