"""The borrower's saved documents in a real browser: save a file to 我的资料 from the
personal centre, then answer an institution's request for documents with it in one click
(the demo borrower's application to 云帆 waits for an income certificate and bank
statements)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.test_journey import sign_in

pytestmark = pytest.mark.e2e

DEMO_BORROWER = "13800138000"
STATEMENT_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


async def test_save_a_document_and_send_it_when_an_institution_asks(new_page, live_server):
    borrower = await new_page()
    await sign_in(borrower, "/login", DEMO_BORROWER)
    await borrower.goto("/me")
    await borrower.get_by_role("link", name="管理资料").click()
    await expect(borrower.locator("h1")).to_have_text("我的资料")
    await expect(borrower.locator("main")).to_contain_text("不会收回已经提供给机构的副本")

    await borrower.get_by_label("资料类型").select_option(label="银行流水")
    await borrower.get_by_label("选择文件").set_input_files(
        {"name": "近六个月流水.pdf", "mimeType": "application/pdf", "buffer": STATEMENT_PDF}
    )
    await borrower.get_by_role("button", name="保存到我的资料").click()
    await expect(borrower.locator("#flash-region")).to_contain_text("已保存 1 个文件")
    saved = borrower.locator("tr[data-library-document]", has_text="近六个月流水.pdf")
    await expect(saved).to_contain_text("银行流水")
    await expect(saved).to_contain_text("未提供给任何机构")

    # The application waiting for documents offers the saved files for each asked kind.
    await borrower.goto("/me/applications")
    await borrower.locator("tr", has_text="待补充资料").get_by_role("link").first.click()
    await borrower.get_by_role("link", name="去上传资料").click()
    statements = borrower.locator("[data-saved=bank_statement]")
    await expect(statements).to_contain_text("使用已保存的资料")
    await statements.get_by_role("button", name="近六个月流水.pdf").click()
    await expect(borrower.locator("#flash-region")).to_contain_text("已使用保存的资料")
    await expect(borrower.locator("main")).to_contain_text("来自我的资料")
    await expect(borrower.locator("[data-saved=bank_statement]")).to_have_count(0)

    # The library now says which institution holds a copy.
    await borrower.goto("/me/documents")
    await expect(
        borrower.locator("tr[data-library-document]", has_text="近六个月流水.pdf")
    ).to_contain_text("云帆")
