"""The walking-skeleton journey across all three audiences, in a real browser against a
real server process (web + arq worker)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.factories import valid_id_number

pytestmark = pytest.mark.e2e

PRODUCT = "E2E安家装修贷"
PASSWORD = "Demo12345"  # noqa: S105 - demo accounts seeded by `loanmart seed`


def sign_in(page: Page, path: str, login: str, password: str = PASSWORD) -> None:
    page.goto(path)
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    expect(page.locator("form[action$='/login']")).to_have_count(0)


def poll(page: Page, url: str, text: str, seconds: float = 20) -> None:
    """Reload until `text` shows: index updates and deliveries are asynchronous by design."""
    deadline = time.monotonic() + seconds
    while True:
        page.goto(url)
        if text in page.content():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} did not appear at {url}")
        time.sleep(0.5)


def test_product_to_lead_journey(new_page, live_server):
    # 1. An institution user creates a product and submits it for review.
    staff = new_page(mobile=False)
    sign_in(staff, "/console/login", "admin@huaxin-bank.example")
    staff.goto("/console/products/new")
    staff.fill("#f-name", PRODUCT)
    staff.select_option("#f-category", "consumer")
    staff.fill("#f-summary", "装修、家电一站式分期，线上申请")
    staff.fill("#f-amount_min", "10000")
    staff.fill("#f-amount_max", "300000")
    staff.fill("#f-term_options", "12,24,36")
    staff.fill("#f-rate", "6.5")
    staff.select_option("#f-rate_period", "year")
    staff.select_option("#f-repayment_method", "equal_installment")
    staff.fill("#f-min_monthly_income", "5000")
    staff.fill("#f-cities", "")
    expect(staff.locator("#apr-preview")).to_contain_text("6.50%")
    staff.get_by_role("button", name="保存草稿").click()
    staff.get_by_role("button", name=re.compile("提交审核")).click()
    expect(staff.locator("main")).to_contain_text("待审核")

    # 2. An operator approves it from the review queue; the audit log records it.
    operator = new_page(mobile=False)
    sign_in(operator, "/admin/login", "super@loanmart.example")
    operator.goto("/admin/reviews/products")
    operator.get_by_role("link", name=PRODUCT).click()
    operator.get_by_role("button", name=re.compile("通过")).click()
    operator.goto("/admin/audit?q=product.approve")
    expect(operator.locator("main")).to_contain_text("product.approve")

    # 3. Within seconds it is listed and found by Chinese, institution name and initials.
    borrower = new_page()
    poll(borrower, "/products?q=装修", PRODUCT)
    for query in ("华信银行", "hxyh"):
        borrower.goto(f"/products?q={query}&sort=newest")
        expect(borrower.locator("main")).to_contain_text(PRODUCT)

    # 4. A borrower registers, applies with consent; a resend creates no second application.
    borrower.goto("/register")
    borrower.fill("input[name=mobile]", "13700001234")
    borrower.get_by_role("button", name="获取验证码").click()
    code = live_server.sms_code_for("137****1234")
    borrower.fill("input[name=code]", code)
    borrower.fill("input[name=password]", "abc12345")
    borrower.fill("input[name=password_confirm]", "abc12345")
    borrower.get_by_role("button", name=re.compile("注册")).click()
    borrower.goto("/products?q=" + PRODUCT)
    borrower.get_by_role("link", name=PRODUCT).first.click()
    expect(borrower.locator("#calculator")).to_contain_text("6.50%")
    borrower.get_by_role("link", name=re.compile("立即申请")).first.click()
    id_number = valid_id_number()
    borrower.fill("input[name=amount]", "50000")
    borrower.select_option("select[name=term_months]", "12")
    borrower.fill("input[name=real_name]", "陈晓")
    borrower.fill("input[name=id_number]", id_number)
    borrower.fill("input[name=city]", "杭州")
    borrower.fill("input[name=monthly_income]", "15000")
    expect(borrower.locator("input[name=consent]")).not_to_be_checked()
    expect(borrower.locator("main")).to_contain_text("华信银行")
    borrower.check("input[name=consent]")
    borrower.get_by_role("button", name="提交申请").click()
    expect(borrower.locator("main")).to_contain_text("已提交")
    application_url = borrower.url
    borrower.go_back()
    borrower.get_by_role("button", name="提交申请").click()
    assert borrower.url == application_url
    borrower.goto("/me/applications")
    expect(borrower.locator("main a[href^='/me/applications/']")).to_have_count(1)
    reference = application_url.rsplit("/", 1)[-1]

    # 5. The institution sees the lead (ID masked), moves it to 审核中 then 已批复.
    poll(staff, "/console/leads", reference)
    staff.get_by_role("link", name=reference).click()
    lead_url = staff.url
    masked = id_number[:3] + "*" * 11 + id_number[-4:]
    expect(staff.locator("main")).to_contain_text(masked)
    assert id_number not in staff.content()
    staff.get_by_role("button", name=re.compile("开始审核")).click()
    expect(staff.locator("main")).to_contain_text("审核中")
    staff.get_by_role("button", name=re.compile("批复")).click()
    expect(staff.locator("main")).to_contain_text("已批复")
    poll(borrower, application_url, "已批复")
    expect(borrower.locator(".timeline")).to_contain_text("审核中")

    # 6. Another institution gets 404 for the lead, in the page and in its list.
    other = new_page(mobile=False)
    sign_in(other, "/console/login", "admin@yunfan-bank.example")
    response = other.goto(lead_url)
    assert response is not None and response.status == 404
    other.goto("/console/leads")
    assert reference not in other.content()


def test_browsing_works_without_javascript(new_page):
    page = new_page(javascript=False)
    page.goto("/")
    page.fill("input[name=q]", "装修")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("装修")
    page.locator("main a[href^='/products/']").first.click()
    expect(page.locator("#calculator")).to_contain_text("%")
    page.goto("/calculator?amount=10000&term=12&rate=0.5&rate_period=month&method=flat")
    expect(page.locator("#quote")).to_contain_text("10.90%")


@pytest.mark.parametrize("path", ["/", "/products", "/calculator", "/register", "/login"])
def test_phone_pages_do_not_scroll_sideways(new_page, path):
    page = new_page()
    page.goto(path)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{path} is {overflow}px wider than a 390px phone"
