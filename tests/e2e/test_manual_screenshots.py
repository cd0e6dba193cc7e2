"""The screenshots of the user manuals (docs/manuals/), taken on the running product.

Each test walks one audience's key screens, asserts what the manual says is there, and
overwrites docs/manuals/images/<audience>-<nn>-<screen>.png, so the pictures stay true to
the product. Borrowers are shot on a phone-sized viewport, staff and operators on a desktop.
The tests do not depend on each other: each creates the products and leads it needs."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page, expect

from tests.conftest import PROJECT_ROOT
from tests.e2e.forms import fill_application
from tests.e2e.test_journey import PASSWORD, poll, sign_in
from tests.factories import valid_id_number

pytestmark = pytest.mark.e2e

IMAGES = PROJECT_ROOT / "docs" / "manuals" / "images"


async def shoot(target: Page | Locator, name: str) -> None:
    """The viewport (a page) or one element (a locator), as the manual shows it."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    await target.screenshot(path=str(IMAGES / f"{name}.png"), animations="disabled", caret="hide")


async def scroll_to_top_of(element: Locator) -> None:
    """Put `element` at the top of the viewport, so the shot starts at its heading."""
    await element.evaluate("el => el.scrollIntoView({block: 'start'})")


async def apply(page: Page, product: str, *, name: str, birth: str, city: str) -> str:
    """A signed-in borrower applies to `product` with its consent; returns the reference."""
    await page.goto(f"/products?q={product}")
    await page.get_by_role("link", name=product, exact=True).first.click()
    await page.get_by_role("link", name=re.compile("立即申请")).first.click()
    await fill_application(page, name=name, id_number=valid_id_number(birth=birth), city=city)
    await page.check("input[name=consent]")
    await page.get_by_role("button", name="提交申请").click()
    # The demo borrower already repays other loans here: the over-indebtedness guard asks
    # once for an acknowledgement, and the form keeps everything typed.
    acknowledgement = page.locator("input[name=debt_warning_read]")
    if await acknowledgement.count():
        await acknowledgement.check()
        await page.check("input[name=consent]")
        await page.get_by_role("button", name="提交申请").click()
    await page.wait_for_url("**/me/applications/*")
    return page.url.rsplit("/", 1)[-1]


async def fill_product(page: Page, name: str) -> None:
    """A product priced above the warn line (monthly 1.1% ≈ 13.2% a year, line 12%)."""
    await page.fill("#f-name", name)
    await page.select_option("#f-category", "consumer")
    await page.fill("#f-summary", "教育培训、技能提升分期，线上申请")
    await page.fill("#f-amount_min", "5000")
    await page.fill("#f-amount_max", "100000")
    await page.fill("#f-term_options", "6,12,24")
    await page.fill("#f-rate", "1.1")
    await page.select_option("#f-rate_period", "month")
    await page.check("#f-repayment_methods")
    await page.fill("#f-min_monthly_income", "4000")


async def submit_for_review(page: Page) -> None:
    """From a draft's page: acknowledge the high cost and submit."""
    await page.check("input[name=acknowledge_high_cost]")
    await page.get_by_role("button", name=re.compile("提交审核")).click()
    await expect(page.locator("main")).to_contain_text("待审核")


async def operator_sign_in(page: Page, live_server, login: str, *, shots: bool = False) -> None:
    """Password, then the TOTP code (printed by the demo server, where a phone would show it)."""
    await page.goto("/admin/login")
    await expect(page.locator("h1")).to_have_text("运营后台登录")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    if shots:
        await shoot(page, "operator-01-login")
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url("**/admin/login/verify")
    await expect(page.locator("h1")).to_have_text("身份验证")
    await page.fill("input[name=code]", await live_server.printed_code("totp", login))
    if shots:
        await shoot(page, "operator-02-totp")
    await page.get_by_role("button", name="验证并登录").click()
    await expect(page.locator("form[action$='/login']")).to_have_count(0)


async def test_borrower_manual(new_page, live_server):
    page = await new_page()

    await page.goto("/")
    await expect(page.locator("h1")).to_contain_text("看清真实成本")
    await expect(page.locator("main .product-card").first).to_be_visible()
    await shoot(page, "borrower-01-home")

    await page.goto("/products?q=装修&category=consumer")
    await expect(page.locator("#results-count")).to_contain_text("装修")
    await expect(page.locator("input[name=q]")).to_have_value("装修")
    await shoot(page, "borrower-02-search")
    cards = page.locator("#results .product-card")
    await expect(cards.first.locator("mark").first).to_be_visible()
    await cards.first.scroll_into_view_if_needed()
    await shoot(page, "borrower-03-results")

    await page.goto("/products?category=consumer&amount=50000&term=12")
    await page.locator("#results input[name=id]").nth(0).check()
    await page.locator("#results input[name=id]").nth(1).check()
    await page.get_by_role("button", name="对比已选产品").click()
    await expect(page.locator("h1")).to_have_text("产品对比")
    await expect(page.locator(".compare-table__product")).to_have_count(2)
    await shoot(page, "borrower-04-compare")

    await page.goto("/products?q=华信e贷")
    await page.get_by_role("link", name="华信e贷", exact=True).first.click()
    await expect(page.locator("h1")).to_contain_text("华信e贷")
    await expect(page.locator(".product-detail__summary")).to_contain_text("综合年化利率")
    await shoot(page, "borrower-05-product")
    await scroll_to_top_of(page.locator("#calculator"))
    await expect(page.locator("#quote")).to_contain_text("每期还款")
    await shoot(page, "borrower-06-product-calculator")

    # The calculator's own worked example: a 0.5% monthly fee is 10.90% a year, not 6%.
    await page.goto("/calculator")
    await page.get_by_role("link", name=re.compile("代入例子")).click()
    await expect(page.locator("#quote")).to_contain_text("10.90%")
    await scroll_to_top_of(page.locator(".calc-layout__result"))
    await shoot(page, "borrower-07-calculator")

    await page.goto("/register")
    await page.fill("input[name=mobile]", "13600005678")
    await page.get_by_role("button", name="获取验证码").click()
    await expect(page.locator(".banner--success")).to_contain_text("验证码已发送")
    await page.fill("input[name=code]", await live_server.printed_code("sms", "136****5678"))
    await page.fill("input[name=display_name]", "小周")
    await page.fill("input[name=password]", "abc12345")
    await page.fill("input[name=password_confirm]", "abc12345")
    await shoot(page, "borrower-08-register")
    await page.get_by_role("button", name=re.compile("注册")).click()
    await expect(page.locator(".account-menu__name")).to_have_text("小周")

    await page.goto("/products?q=华信e贷")
    await page.get_by_role("link", name="华信e贷", exact=True).first.click()
    await page.get_by_role("link", name=re.compile("立即申请")).first.click()
    await expect(page.locator("h1")).to_have_text("申请 华信e贷")
    await fill_application(page, name="周小川", id_number=valid_id_number(birth="19930615"))
    consent = page.locator("fieldset.consent")
    await expect(consent).to_contain_text("华信银行")
    await expect(consent.locator("input[name=consent]")).not_to_be_checked()
    await consent.locator("input[name=consent]").check()
    await consent.scroll_into_view_if_needed()
    await shoot(page, "borrower-09-consent")
    await page.get_by_role("button", name="提交申请").click()
    await page.wait_for_url("**/me/applications/*")
    application_url = page.url
    reference = application_url.rsplit("/", 1)[-1]

    # The institution starts its review; the borrower's timeline follows.
    staff = await new_page(mobile=False)
    await sign_in(staff, "/console/login", "officer@huaxin-bank.example")
    await poll(
        staff, "/console/leads?assignee=all&sort=recent", reference
    )  # officers default to 我的线索
    await staff.get_by_role("link", name=reference, exact=True).click()
    await staff.fill("textarea[name=note]", "资料齐全，已进入审核，请保持电话畅通。")
    await staff.get_by_role("button", name="开始审核").click()
    await expect(staff.locator("main")).to_contain_text("审核中")
    await poll(page, application_url, "资料齐全")
    await expect(page.locator(".application-status__badge")).to_contain_text("审核中")
    await shoot(page, "borrower-10-timeline")

    await page.goto("/me/applications")
    await expect(page.locator("main")).to_contain_text(reference)
    await shoot(page, "borrower-11-applications")


async def test_staff_manual(new_page, live_server):
    # A borrower's application to 华信银行 makes a lead in the inbox.
    borrower = await new_page()
    await sign_in(borrower, "/login", "13800138000")
    reference = await apply(borrower, "华信公积金贷", name="刘洋", birth="19910420", city="杭州")

    staff = await new_page(mobile=False)
    await staff.goto("/console/login")
    await expect(staff.locator("h1")).to_have_text("机构工作台登录")
    await shoot(staff, "staff-01-login")
    await sign_in(staff, "/console/login", "admin@huaxin-bank.example")
    await staff.goto("/console/")
    await expect(staff.locator("h1")).to_have_text("工作台")
    await expect(staff.locator(".stat-links")).to_contain_text("待处理")
    await shoot(staff, "staff-02-dashboard")

    await staff.goto("/console/products")
    await expect(staff.locator("main table")).to_contain_text("华信e贷")
    await shoot(staff, "staff-03-products")

    await staff.goto("/console/products/new")
    await fill_product(staff, "华信学无忧分期")
    preview = staff.locator("#apr-preview")
    await expect(preview).to_contain_text("13.20%")
    await expect(preview).to_contain_text("警示线")
    await scroll_to_top_of(staff.locator("#f-rate").locator("xpath=ancestor::fieldset[last()]"))
    await shoot(staff, "staff-04-product-new")
    await staff.get_by_role("button", name="保存草稿").click()
    await expect(staff.locator("main")).to_contain_text("草稿")
    await staff.check("input[name=acknowledge_high_cost]")
    await shoot(staff, "staff-05-product-draft")
    await staff.get_by_role("button", name=re.compile("提交审核")).click()
    await expect(staff.locator("main")).to_contain_text("待审核")

    # A listed product: pause, or delist behind a second confirmation.
    await staff.goto("/console/products")
    await staff.get_by_role("link", name="华信购车贷", exact=True).click()
    await expect(staff.get_by_role("button", name="暂停申请")).to_be_visible()
    await staff.locator("summary", has_text="下架产品").click()
    await expect(staff.get_by_role("button", name="确认下架")).to_be_visible()
    await shoot(staff, "staff-06-product-listed")

    await poll(staff, "/console/leads?sort=recent", reference)
    await expect(staff.locator("#lead-rows")).to_contain_text("刘**")
    await shoot(staff, "staff-07-leads")

    await staff.get_by_role("link", name=reference, exact=True).click()
    id_number = valid_id_number(birth="19910420")
    await expect(staff.locator("main")).to_contain_text(id_number[:3] + "*" * 11 + id_number[-4:])
    assert id_number not in await staff.content()
    await expect(staff.locator("main")).to_contain_text("138****8000")
    await shoot(staff, "staff-08-lead")
    await staff.get_by_role("button", name="开始审核").click()
    await expect(staff.locator(".page-header")).to_contain_text("审核中")
    await staff.get_by_role("link", name="批复并发送方案").click()
    await expect(staff.locator("#offer-preview")).to_contain_text("%")
    await staff.get_by_role("button", name="发送批复方案").click()
    await expect(staff.locator(".page-header")).to_contain_text("已批复")
    await expect(staff.locator("#decision-title + p")).to_contain_text("无需进一步处理")
    timeline = staff.locator("section:has(#timeline-title)")
    await expect(timeline).to_contain_text("批复方案")
    await scroll_to_top_of(timeline)
    await shoot(staff, "staff-09-lead-approved")

    # A loan officer works leads but does not create or change products.
    officer = await new_page(mobile=False)
    await sign_in(officer, "/console/login", "officer@huaxin-bank.example")
    await officer.goto("/console/")
    await officer.locator(".account-menu summary").click()
    await expect(officer.locator(".account-menu__who")).to_contain_text("信贷员")
    await expect(officer.locator(".stat-links")).to_contain_text("待处理")
    await expect(officer.get_by_role("link", name="新建产品")).to_have_count(0)
    await shoot(officer, "staff-10-officer")


async def test_operator_manual(new_page, live_server):
    staff = await new_page(mobile=False)
    await sign_in(staff, "/console/login", "admin@yunfan-bank.example")
    await staff.goto("/console/products/new")
    await fill_product(staff, "云帆学涯贷")
    await staff.get_by_role("button", name="保存草稿").click()
    await submit_for_review(staff)

    reviewer = await new_page(mobile=False)
    await operator_sign_in(reviewer, live_server, "reviewer@loanmart.example", shots=True)
    await reviewer.goto("/admin/")
    await expect(reviewer.locator("h1")).to_have_text("运营概览")
    await expect(reviewer.locator(".stat-links")).to_contain_text("待审核产品")
    await expect(reviewer.locator(".site-nav")).not_to_contain_text("审计日志")
    await shoot(reviewer, "operator-03-overview")

    await reviewer.goto("/admin/reviews/products")
    await expect(reviewer.locator("main table")).to_contain_text("云帆学涯贷")
    await shoot(reviewer, "operator-04-review-queue")
    await reviewer.get_by_role("link", name="云帆学涯贷", exact=True).click()
    await expect(reviewer.locator(".banner--warning")).to_contain_text("自动合规检查发现")
    await expect(reviewer.locator(".banner--warning")).to_contain_text("警示线")
    await reviewer.fill("textarea[name=note]", "费用披露完整，高成本提示已确认。")
    await shoot(reviewer, "operator-05-review")
    await reviewer.get_by_role("button", name="通过并上架").click()
    await expect(reviewer.locator("#flash-region")).to_contain_text("已通过")
    await expect(reviewer.get_by_role("link", name="云帆学涯贷", exact=True)).to_have_count(0)

    auditor = await new_page(mobile=False)
    await operator_sign_in(auditor, live_server, "auditor@loanmart.example")
    await auditor.goto("/admin/audit?q=product.approve")
    await expect(auditor.locator("main table")).to_contain_text("product.approve")
    # Read-only: the auditor's menu has no review queue.
    await expect(auditor.locator(".site-nav")).not_to_contain_text("产品审核")
    await shoot(auditor, "operator-06-audit")

    await auditor.goto("/admin/jobs")
    await expect(auditor.locator("h1")).to_have_text("后台任务")
    await expect(auditor.locator("main table")).to_contain_text("products.index")
    await shoot(auditor, "operator-07-jobs")


async def test_post_loan_manual(new_page, live_server):
    """The demo data after the decision: offers, loans, calendar, notices; the institution's
    portfolio, a loan and the collections desk; the operators' collection oversight."""
    borrower = await new_page()
    await sign_in(borrower, "/login", "13800138000")
    await borrower.goto("/me/offers")
    await expect(borrower.locator(".offer-apr").first).to_contain_text("%")
    await shoot(borrower, "borrower-12-offers")
    await borrower.goto("/me/loans")
    await expect(borrower.locator("main")).to_contain_text("已逾期")
    await shoot(borrower, "borrower-13-loans")
    await borrower.goto("/me/calendar")
    await expect(borrower.locator("h1")).to_contain_text("还款日历")
    await shoot(borrower, "borrower-14-calendar")
    await borrower.goto("/me/notifications")
    await expect(borrower.locator(".inbox")).to_be_visible()
    await shoot(borrower, "borrower-15-notifications")

    staff = await new_page(mobile=False)
    await sign_in(staff, "/console/login", "admin@huaxin-bank.example")
    await staff.goto("/console/loans")
    await expect(staff.locator("main")).to_contain_text("迁徙率")
    await shoot(staff, "staff-11-portfolio")
    await staff.goto("/console/collections")
    await expect(staff.locator("main table")).to_contain_text("逾期")
    await shoot(staff, "staff-13-collections")
    await staff.goto("/console/loans?status=overdue")
    await staff.locator("main table a[href^='/console/loans/']").first.click()
    await expect(staff.locator("#repay-title")).to_be_visible()
    await shoot(staff, "staff-12-loan")

    operator = await new_page(mobile=False)
    await operator_sign_in(operator, live_server, "super@loanmart.example")
    await operator.goto("/admin/collections")
    await expect(operator.locator("main table").first).to_contain_text("华信")
    await shoot(operator, "operator-08-collections")
