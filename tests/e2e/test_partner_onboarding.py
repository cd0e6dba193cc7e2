"""Issue #8's proof: from the 入驻 application to the institution's first product listed
and its first lead delivered, in a real browser against a real server (web + arq worker)."""

from __future__ import annotations

import random
import re
import uuid

import pytest
from playwright.async_api import expect

from marketplace.partners.credit_code import CHARSET, check_char
from tests.e2e.forms import fill_application
from tests.e2e.test_journey import poll, sign_in
from tests.factories import valid_id_number

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _credit_code() -> str:
    """A valid 统一社会信用代码 (GB 32100): 17 characters and their check character."""
    first_17 = "91330100" + "".join(random.choices(CHARSET, k=9))  # noqa: S311 - test data
    return first_17 + check_char(first_17)


async def test_partner_onboarding_to_first_lead(new_page, live_server, tmp_path):
    suffix = uuid.uuid4().hex[:6]
    company = f"杭州入驻测试小额贷款有限公司{suffix}"
    short_name = f"入驻测试{suffix}"
    product = f"入驻首贷{suffix}"
    email = f"admin@e2e-{suffix}.example"
    mobile_tail = f"{random.randint(0, 9999):04d}"  # noqa: S311 - test data
    mobile = f"1390000{mobile_tail}"
    password = "Partner123"  # noqa: S105 - set in this test
    licence, permit = tmp_path / "licence.pdf", tmp_path / "permit.pdf"
    licence.write_bytes(PDF)
    permit.write_bytes(PDF)

    # 1. The institution applies on the public form, with its two licences.
    applicant = await new_page(mobile=False)
    await applicant.goto("/partners/apply")
    await applicant.fill("input[name=company_name]", company)
    await applicant.fill("input[name=short_name]", short_name)
    await applicant.fill("input[name=credit_code]", _credit_code())
    await applicant.select_option("select[name=kind]", "microloan")
    await applicant.fill("input[name=city]", "杭州")
    await applicant.fill("input[name=business_licence_no]", f"BL{suffix}")
    await applicant.set_input_files("input[name=business_licence]", str(licence))
    await applicant.fill("input[name=licence_type]", "小额贷款业务经营许可")
    await applicant.fill("input[name=licence_no]", f"XD{suffix}")
    await applicant.fill("input[name=licence_issuer]", "浙江省地方金融监督管理局")
    await applicant.fill("input[name=licence_expires_on]", "2031-12-31")
    await applicant.set_input_files("input[name=financial_licence]", str(permit))
    await applicant.fill("input[name=contact_name]", "王敏")
    await applicant.fill("input[name=contact_mobile]", mobile)
    await applicant.fill("input[name=contact_email]", email)
    await applicant.get_by_role("button", name="提交入驻申请").click()
    await applicant.wait_for_load_state()
    await expect(applicant.locator(".error-summary")).to_have_count(0)

    # 2. An operator approves it: the institution and its admin are created.
    operator = await new_page(mobile=False)
    await sign_in(operator, "/admin/login", "super@loanmart.example", server=live_server)
    await operator.goto("/admin/institutions/applications")
    await operator.get_by_role("link", name=company).first.click()
    await operator.get_by_role("button", name="通过并创建机构").click()
    await expect(operator.locator("main")).to_contain_text("已通过")

    # 3. The admin sets a password through the one-time link in the e-mail.
    masked_email = f"a***@e2e-{suffix}.example"
    link = await live_server.printed_link("email", masked_email, "/partners/set-password/")
    staff = await new_page(mobile=False)
    await staff.goto(link)
    await staff.fill("input[name=password]", password)
    await staff.fill("input[name=confirm]", password)
    await staff.get_by_role("button", name="设置密码").click()
    await staff.wait_for_load_state()
    await expect(staff.locator(".error-summary")).to_have_count(0)

    # 4. The operator offers a CPL agreement; the admin signs it with an SMS code.
    await operator.goto("/admin/agreements/new")
    option = operator.locator("select[name=institution] option", has_text=short_name)
    await operator.select_option("select[name=institution]", await option.get_attribute("value"))
    await operator.check("input[name=pricing_model][value=cpl]")
    await operator.fill("input[name=rate]", "30")
    await operator.get_by_role("button", name="发给机构签署").click()
    await expect(operator.locator("main")).to_contain_text("待签署")

    await sign_in(staff, "/console/login", email, password)
    await staff.goto("/console/agreement")
    await staff.get_by_role("button", name="获取短信验证码").click()
    code = await live_server.printed_code("sms", f"139****{mobile_tail}")
    await staff.fill("input[name=code]", code)
    await staff.get_by_role("button", name="同意并签署协议").click()
    await staff.goto("/console/agreement")
    await expect(staff.locator("#in-force-title + .card")).to_contain_text("CPL")

    # 5. The admin creates its first product and submits it; the operator approves it.
    await staff.goto("/console/products/new")
    await staff.fill("#f-name", product)
    await staff.select_option("#f-category", "consumer")
    await staff.fill("#f-summary", "新入驻机构的首款消费贷，线上申请")
    await staff.fill("#f-amount_min", "5000")
    await staff.fill("#f-amount_max", "100000")
    await staff.fill("#f-term_options", "12,24")
    await staff.fill("#f-rate", "9.9")
    await staff.select_option("#f-rate_period", "year")
    await staff.check("#f-repayment_methods")
    await staff.fill("#f-min_monthly_income", "3000")
    await staff.get_by_role("button", name="保存草稿").click()
    await staff.get_by_role("button", name=re.compile("提交审核")).click()
    await expect(staff.locator("main")).to_contain_text("待审核")

    await operator.goto("/admin/reviews/products")
    await operator.get_by_role("link", name=product, exact=True).click()
    await operator.get_by_role("button", name=re.compile("通过")).click()

    # 6. A borrower finds it and applies.
    borrower = await new_page()
    await poll(borrower, f"/products?q={product}", product)
    await borrower.goto("/register")
    await borrower.fill("input[name=mobile]", f"1370000{mobile_tail}")
    await borrower.get_by_role("button", name="获取验证码").click()
    await borrower.fill(
        "input[name=code]", await live_server.printed_code("sms", f"137****{mobile_tail}")
    )
    await borrower.fill("input[name=password]", "abc12345")
    await borrower.fill("input[name=password_confirm]", "abc12345")
    await borrower.get_by_role("button", name=re.compile("注册")).click()
    await borrower.goto(f"/products?q={product}")
    await borrower.get_by_role("link", name=product, exact=True).first.click()
    await borrower.get_by_role("link", name=re.compile("立即申请")).first.click()
    await fill_application(
        borrower, name="李娜", id_number=valid_id_number(), income="12000", amount="20000"
    )
    await expect(borrower.locator("main")).to_contain_text(short_name)
    await borrower.check("input[name=consent]")
    await borrower.get_by_role("button", name="提交申请").click()
    await borrower.wait_for_url("**/me/applications/*")
    await expect(borrower.locator("main")).to_contain_text("已提交")
    reference = borrower.url.rsplit("/", 1)[-1]

    # 7. The lead is delivered to the new institution's console.
    await poll(staff, "/console/leads?sort=recent", reference)
