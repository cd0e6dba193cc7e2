"""The borrower's security pages in a real browser (issue #10, Proof): a forgotten password
reset by SMS code from the sign-in page; a consent withdrawn on /me/consents stopping the
delivery still waiting in the worker's queue, with the borrower told and the institution's
console showing the deletion it owes; a data export built by the worker and handed over
once through its link."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.forms import fill_application
from tests.e2e.test_journey import poll, sign_in
from tests.factories import valid_id_number

pytestmark = pytest.mark.e2e

OLD_PASSWORD = "abc12345"  # noqa: S105 - typed by the test borrower
NEW_PASSWORD = "xyz98765"  # noqa: S105
STAFF = "admin@huaxin-bank.example"


def _masked(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}"


async def _register(page: Page, server: LiveServer, mobile: str) -> str:
    """Returns the registration's SMS code."""
    await page.goto("/register")
    await page.fill("input[name=mobile]", mobile)
    await page.get_by_role("button", name="获取验证码").click()
    code = await server.printed_code("sms", _masked(mobile))
    await page.fill("input[name=code]", code)
    await page.fill("input[name=password]", OLD_PASSWORD)
    await page.fill("input[name=password_confirm]", OLD_PASSWORD)
    await page.get_by_role("button", name=re.compile("注册")).click()
    await page.wait_for_load_state()
    await expect(page.locator("form[action$='/login']")).to_have_count(0)
    return code


async def _new_code(server: LiveServer, mobile: str, seen: str) -> str:
    """The code sent after `seen` (the console keeps every code printed so far)."""
    for _attempt in range(50):
        code = await server.printed_code("sms", _masked(mobile))
        if code != seen:
            return code
        await asyncio.sleep(0.2)
    raise AssertionError(f"no new SMS code for {_masked(mobile)}")


@asynccontextmanager
async def _worker_paused(server: LiveServer) -> AsyncIterator[None]:
    """The arq worker stopped (SIGSTOP) and always resumed: jobs queued meanwhile wait."""
    os.kill(server.worker_pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.worker_pid, signal.SIGCONT)


async def test_forgotten_password_is_reset_by_sms_code(new_page, live_server):
    mobile = "13700005501"
    borrower = await new_page()
    registration_code = await _register(borrower, live_server, mobile)
    # Another device stays signed in with the old password: the reset signs it out.
    other_device = await new_page()
    await sign_in(other_device, "/login", mobile, OLD_PASSWORD)

    visitor = await new_page()
    await visitor.goto("/login")
    await visitor.get_by_role("link", name="忘记密码？").click()
    await expect(visitor.locator("h1")).to_have_text("重置登录密码")
    await visitor.fill("input[name=mobile]", mobile)
    await visitor.get_by_role("button", name="获取验证码").click()
    await expect(visitor.locator(".banner--success")).to_contain_text("验证码会在一分钟内发送")
    code = await _new_code(live_server, mobile, registration_code)
    await visitor.fill("input[name=code]", "000000" if code != "000000" else "111111")
    await visitor.fill("input[name=password]", NEW_PASSWORD)
    await visitor.fill("input[name=password_confirm]", NEW_PASSWORD)
    await visitor.get_by_role("button", name="重置密码").first.click()
    # A wrong code is refused in words, the number kept and the passwords not echoed.
    await expect(visitor.locator(".error-summary")).to_be_visible()
    await expect(visitor.locator("input[name=mobile]")).to_have_value(mobile)
    await expect(visitor.locator("input[name=password]")).to_have_value("")

    await visitor.fill("input[name=code]", code)
    await visitor.fill("input[name=password]", NEW_PASSWORD)
    await visitor.fill("input[name=password_confirm]", NEW_PASSWORD)
    await visitor.get_by_role("button", name="重置密码").first.click()
    await visitor.wait_for_url("**/login")
    await expect(visitor.locator("#flash-region")).to_contain_text("密码已重置")

    # The old password no longer opens the account; the new one does.
    await visitor.fill("input[name=login]", mobile)
    await visitor.fill("input[name=password]", OLD_PASSWORD)
    await visitor.get_by_role("button", name="登录").click()
    await expect(visitor.locator("main")).to_contain_text("账号或密码不正确")
    await sign_in(visitor, "/login", mobile, NEW_PASSWORD)
    await visitor.goto("/me/notifications")
    await expect(visitor.locator("main")).to_contain_text("登录密码已通过短信验证重置")

    # Every device signed in before the reset is out.
    await other_device.goto("/me/security")
    await expect(other_device.locator("input[name=password]")).to_be_visible()


async def test_withdrawn_consent_stops_the_waiting_delivery(new_page, live_server):
    from marketplace.demo.catalogue import INSTITUTIONS, PRODUCTS

    product = next(
        p
        for p in PRODUCTS
        if p["institution"] == "huaxin-bank"
        and p["category"] == "consumer"
        and not p["cities"]
        and p["min_monthly_income"] <= 15000
        and "employee" in p["employment_types"]
        and p["age_min"] <= 30 <= p["age_max"]
    )
    institution = next(i for i in INSTITUTIONS if i["code"] == "huaxin-bank")["short_name"]
    borrower = await new_page()
    await _register(borrower, live_server, "13700005502")
    await borrower.goto(f"/products?q={product['name']}")
    await borrower.get_by_role("link", name=product["name"], exact=True).first.click()
    await borrower.get_by_role("link", name=re.compile("立即申请")).first.click()
    await fill_application(
        borrower,
        name="刘洋",
        id_number=valid_id_number(birth="19960101"),
        city="成都",
        amount=str(product["amount_min"]),
        term=str(product["term_options"][0]),
    )
    await borrower.check("input[name=consent]")

    async with _worker_paused(live_server):
        # Sent while the worker is busy elsewhere: the delivery waits in the queue.
        await borrower.get_by_role("button", name="提交申请").click()
        await borrower.wait_for_url("**/me/applications/*")
        await expect(borrower.locator("#timeline")).to_contain_text("已提交")
        application_url = borrower.url
        reference = application_url.rsplit("/", 1)[-1]

        await borrower.goto("/me/consents")
        entry = borrower.locator("section[data-institution]", has_text=institution)
        await expect(entry).to_contain_text("有效")
        await expect(entry).to_contain_text(reference)
        await entry.get_by_role("link", name=re.compile("撤回授权")).click()
        await expect(borrower.locator("h1")).to_contain_text(institution)
        await borrower.get_by_role("button", name="确定撤回").click()
        await borrower.wait_for_url("**/me/consents")
        await expect(borrower.locator("#flash-region")).to_contain_text("授权已撤回")
        entry = borrower.locator("section[data-institution]", has_text=institution)
        await expect(entry).to_contain_text("已撤回")
        await expect(entry).to_contain_text("机构须在")
        await expect(entry.get_by_role("link", name=re.compile("撤回授权"))).to_have_count(0)

    # The worker comes back to the queued delivery and refuses it; the borrower is told.
    await poll(borrower, application_url, "未向机构提供信息")
    await expect(borrower.locator("#timeline")).to_contain_text("已撤回")
    await poll(borrower, "/me/notifications", f"您的申请（编号 {reference}）已停止")

    # The institution never sees the lead, and owes a confirmation of deletion.
    staff = await new_page(mobile=False)
    await sign_in(staff, "/console/login", STAFF)
    await staff.goto("/console/leads")
    assert reference not in await staff.content()
    await staff.goto("/console/consents")
    await expect(staff.locator("h1")).to_have_text("授权撤回")
    await expect(staff.locator("tr[data-withdrawal]").first).to_contain_text(reference)
    await expect(
        staff.locator("tr[data-withdrawal]", has_text=reference).get_by_role(
            "button", name="确认已删除"
        )
    ).to_be_visible()


async def test_data_export_downloads_once(new_page, live_server):
    mobile = "13700005503"
    borrower = await new_page()
    await _register(borrower, live_server, mobile)
    await borrower.goto("/me/consents")
    export = borrower.locator("#data-export")
    await export.get_by_role("button", name="申请导出").click()
    await expect(borrower.locator("#flash-region")).to_contain_text("已开始生成")

    # The worker builds it; the borrower is told in-site.
    await poll(borrower, "/me/consents", "可下载")
    await borrower.goto("/me/notifications")
    await expect(borrower.locator("main")).to_contain_text("个人信息副本已生成")
    await borrower.goto("/me/consents")
    await borrower.locator("#data-export").get_by_role("button", name="获取下载链接").click()
    await expect(borrower.locator("h1")).to_have_text("下载个人信息副本")
    link = borrower.get_by_role("link", name="下载 JSON 文件")
    href = await link.get_attribute("href")
    assert href is not None and "/me/data/download/" in href

    async with borrower.expect_download() as waiting:
        await link.click()
    download = await waiting.value
    assert download.suggested_filename == "loanmart-my-data.json"
    saved = Path(await download.path())
    document = json.loads(await asyncio.to_thread(saved.read_bytes))
    assert document["format"] == "loanmart.data-export/1"
    assert document["account"]["mobile"] == mobile

    # The same link a second time (or the readable page behind it) is refused.
    response = await borrower.goto(href)
    assert response is not None and response.status == 404
    await expect(borrower.locator("main")).to_contain_text("下载链接无效或已过期")
    response = await borrower.goto(href.split("?")[0])
    assert response is not None and response.status == 404
    await borrower.goto("/me/consents")
    await expect(borrower.locator("#data-export tbody")).to_contain_text("已下载")
    await expect(
        borrower.locator("#data-export").get_by_role("button", name="获取下载链接")
    ).to_have_count(0)


async def test_delivery_cities_are_picked_by_province(new_page, live_server):
    """Not a borrower page, but the same slice: the institution's city picker in a browser,
    and without JavaScript. The settings are cleared again for the other tests."""
    for javascript in (True, False):
        staff = await new_page(mobile=False, javascript=javascript)
        await sign_in(staff, "/console/login", "admin@hanhai-bank.example")
        await staff.goto("/console/delivery")
        picker = staff.locator("fieldset.city-picker")
        await expect(picker.locator("#f-cities-chosen")).to_contain_text("未选择城市")
        await picker.locator("summary", has_text="浙江省").click()
        await picker.get_by_label("杭州市", exact=True).check()
        await picker.get_by_label("宁波市", exact=True).check()
        await staff.get_by_role("button", name="保存设置").click()
        await expect(staff.locator("#flash-region")).to_contain_text("接收设置已保存")
        await expect(picker.locator("#f-cities-chosen")).to_contain_text("杭州市、宁波市")
        await expect(picker.get_by_label("杭州市", exact=True)).to_be_checked()
        for city in ("杭州市", "宁波市"):
            await picker.get_by_label(city, exact=True).uncheck()
        await staff.get_by_role("button", name="保存设置").click()
        await expect(picker.locator("#f-cities-chosen")).to_contain_text("未选择城市")
