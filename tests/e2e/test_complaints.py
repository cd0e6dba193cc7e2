"""A complaint's whole path in a real browser (issue #12): the demo borrower files a
complaint about their application to 云帆 from the application page → the super admin
takes it and forwards it to 云帆 → the SLA run, with time moved to shortly before the
institution's deadline, reminds 云帆's staff (seen in their notifications) → 云帆 answers,
which resolves it → the borrower rates it and it closes."""

from __future__ import annotations

import os
import re
import sys
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from tests.conftest import E2E_ENV
from tests.e2e.conftest import _run
from tests.e2e.test_journey import sign_in

pytestmark = pytest.mark.e2e

DEMO_BORROWER = "13800138000"
OPERATOR = "super@loanmart.example"
INSTITUTION = "admin@yunfan-bank.example"


async def _sla(at: datetime) -> None:
    env = {**os.environ, **E2E_ENV, "LOANMART_DEMO": "1"}
    await _run(
        sys.executable, "-m", "server.cli", "complaints-sla", "--at", at.isoformat(), env=env
    )


async def test_complaint_from_filing_to_rating(new_page, live_server):
    borrower = await new_page()
    await sign_in(borrower, "/login", DEMO_BORROWER)
    await borrower.goto("/me/applications")
    await borrower.locator("tr", has_text="云帆").get_by_role("link").first.click()
    await borrower.get_by_role("link", name="投诉该申请").click()
    await expect(borrower.locator("h1")).to_have_text("我要投诉")
    await borrower.get_by_label("投诉对象").select_option(label="云帆银行")
    await borrower.get_by_label("类别").select_option(label="费用不透明")
    await borrower.get_by_label("投诉内容").fill("审核时要求先交评估费，没有任何说明")
    await borrower.get_by_role("button", name="提交投诉").click()
    await expect(borrower.locator("#flash-region")).to_contain_text("投诉已提交")
    reference = re.search(r"TS\d{8}-\d{6}", await borrower.locator("h1").inner_text()).group(0)

    operator = await new_page(mobile=False)
    await sign_in(operator, "/admin/login", OPERATOR, server=live_server)
    await operator.goto("/admin/complaints")
    await operator.get_by_role("link", name=reference).click()
    await operator.get_by_role("button", name="受理并指派").click()
    await expect(operator.locator("#flash-region")).to_contain_text("已指派")
    await operator.get_by_label("说明").fill("请核实评估费是否合规并答复借款人")
    await operator.get_by_role("button", name="转机构处理").click()
    await expect(operator.locator("#flash-region")).to_contain_text("已转机构处理")

    # Time moved to 3 hours before the institution's 48-hour deadline: one reminder.
    await _sla(datetime.now(UTC) + timedelta(hours=45))
    staff = await new_page(mobile=False)
    await sign_in(staff, "/console/login", INSTITUTION)
    await staff.goto("/console/notifications")
    await expect(staff.locator("main")).to_contain_text(f"投诉 {reference} 即将到期")
    await staff.goto("/console/complaints")
    await staff.get_by_role("link", name=reference).click()
    await expect(staff.locator("main")).to_contain_text("没有任何说明")
    await staff.get_by_label("答复内容").fill("评估费系误收，已全额退还并致歉")
    await staff.get_by_role("button", name="答复并办结").click()
    await expect(staff.locator("#flash-region")).to_contain_text("投诉已办结")

    await borrower.goto(f"/me/complaints/{reference}")
    await expect(borrower.locator("main")).to_contain_text("评估费系误收")
    await borrower.get_by_label("5分 非常满意").check()
    await borrower.get_by_role("button", name="评价并结束").click()
    await expect(borrower.locator("#flash-region")).to_contain_text("感谢您的评价")
    await expect(borrower.locator("main")).to_contain_text("已关闭")
