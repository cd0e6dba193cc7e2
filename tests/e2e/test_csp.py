"""The Content-Security-Policy in a real browser: htmx and the page scripts keep working,
nothing is refused (the new_page fixture fails a test on any CSP report or script error),
and the server processes write JSON log lines."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.e2e


async def test_htmx_pages_work_under_the_policy(new_page, live_server):
    page = await new_page(mobile=False)
    response = await page.goto("/products")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Live search is an htmx swap: the URL is pushed and the results change in place
    # (the marker proves the page was not reloaded by a plain form submission).
    await page.evaluate("window.lmMarker = 'same page'")
    await page.fill("input[name=q]", "装修")
    await page.press("input[name=q]", "Enter")
    await page.wait_for_url(re.compile(r"/products\?.*q="))
    await expect(page.locator("#results")).to_contain_text("装修")
    assert await page.evaluate("window.lmMarker") == "same page"
    assert await page.evaluate("window.htmx && htmx.config.allowEval") is False
    await page.locator("#results a[href^='/products/']").first.click()
    await page.wait_for_load_state()
    for path in ("/login", "/register", "/console/login", "/admin/login", "/no-such-page"):
        await page.goto(path)
        await page.wait_for_load_state()


async def test_server_processes_log_json_lines(new_page, live_server):
    page = await new_page()
    response = await page.goto("/")
    request_id = response.headers["x-request-id"]
    await page.goto("/products")
    for _attempt in range(50):  # the access line is written just after the response
        lines = [
            json.loads(raw)
            for raw in live_server.log.read_text().splitlines()
            if raw.startswith("{")
        ]
        access = [line for line in lines if line["logger"] == "loanmart.access"]
        if any(line["request_id"] == request_id for line in access):
            break
        await asyncio.sleep(0.1)
    assert any(
        line["request_id"] == request_id and line["route"] == "portal.home" for line in access
    )
    assert any(line["logger"].startswith("arq") for line in lines), "the worker logs JSON too"
