"""A real server process (web + arq worker) on its own database, and Debian's chromium.

Async Playwright: the suite runs in one session event loop (pytest-asyncio), where the
sync API cannot run."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import (
    BASE_DATABASE_URL,
    E2E_DATABASE,
    E2E_ENV,
    PROJECT_ROOT,
    _recreate_database,
)

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    log: Path
    worker_pid: int = 0  # to pause the arq worker (SIGSTOP) while a job must wait

    async def printed_code(self, channel: str, recipient: str, wait_seconds: float = 10) -> str:
        """The newest code the demo console printed (`[sms] 137****1234: …`, `[totp] …`):
        where a newcomer reads SMS and authenticator codes too."""
        pattern = rf"\[{channel}\] {re.escape(recipient)}: .*?(\d{{6}})"
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if matches := re.findall(pattern, self.log.read_text()):
                return matches[-1]
            await asyncio.sleep(0.2)
        raise AssertionError(f"no {channel} code for {recipient}")

    async def printed_link(
        self, channel: str, recipient: str, path: str, wait_seconds: float = 10
    ) -> str:
        """The path (from `path` on) of the newest link the demo console printed to
        `recipient`, e.g. the one-time `/partners/set-password/<token>` e-mail."""
        pattern = rf"\[{channel}\] {re.escape(recipient)}: .*?({re.escape(path)}[^\s，。]+)"
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if matches := re.findall(pattern, self.log.read_text()):
                return matches[-1]
            await asyncio.sleep(0.2)
        raise AssertionError(f"no {channel} link to {path} for {recipient}")


async def _run(*args: str, env: dict) -> None:
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()[-3000:]


@pytest.fixture(scope="session")
async def live_server() -> AsyncIterator[LiveServer]:
    await _recreate_database(BASE_DATABASE_URL, E2E_DATABASE)
    # A fresh database restarts outbox ids; stale arq job ids in Redis would swallow them.
    redis = Redis.from_url(E2E_ENV["REDIS_URL"])
    await redis.flushdb()
    await redis.aclose()
    port = _free_port()
    var_dir = tempfile.mkdtemp(prefix="loanmart-e2e-")
    env = {
        **os.environ,
        **E2E_ENV,
        "PORT": str(port),
        "LOANMART_VAR_DIR": var_dir,
        "LOANMART_DEMO": "1",
        "PYTHONUNBUFFERED": "1",
    }
    cli = (sys.executable, "-m", "server.cli")
    for step in ("migrate", "seed", "reindex"):
        await _run(*cli, step, env=env)
    log = Path(var_dir) / "server.log"
    with log.open("wb") as out:
        processes = [
            await asyncio.create_subprocess_exec(
                *cli, role, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=out
            )
            for role in ("worker", "web")
        ]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or any(p.returncode is not None for p in processes):
                    raise RuntimeError("e2e server did not start:\n" + log.read_text()[-3000:])
                await asyncio.sleep(0.3)
        yield LiveServer(url, log, processes[0].pid)
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()


@pytest.fixture(scope="session")
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        await browser.close()


async def _forget_address_limits() -> None:
    """Every browser comes from 127.0.0.1: each test starts with that address's SMS-code
    allowance fresh, as its own visitors would, however many tests ran before it."""
    redis = Redis.from_url(E2E_ENV["REDIS_URL"])
    async for key in redis.scan_iter(match="*smscode:address:*"):
        await redis.delete(key)
    await redis.aclose()


CSP_VIOLATION = re.compile(r"Content Security Policy|Refused to (execute|load|apply)", re.I)


@pytest.fixture
async def new_page(browser, live_server, request):
    """Each call is a fresh browser context (another person), phone-sized by default.
    A failing test leaves full-page screenshots of its pages in test-artifacts/. Any test
    whose pages broke the Content-Security-Policy or threw a script error fails."""
    contexts, pages = [], []
    script_problems: list[str] = []
    await _forget_address_limits()

    async def make(*, mobile: bool = True, javascript: bool = True):
        viewport = {"width": 390, "height": 844} if mobile else {"width": 1280, "height": 900}
        context = await browser.new_context(
            base_url=live_server.url,
            viewport=viewport,
            java_script_enabled=javascript,
            locale="zh-CN",
        )
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        page.on(
            "console",
            lambda message: (
                script_problems.append(f"{page.url}: {message.text}")
                if message.type == "error" and CSP_VIOLATION.search(message.text)
                else None
            ),
        )
        page.on("pageerror", lambda error: script_problems.append(f"{page.url}: {error}"))
        pages.append(page)
        return page

    yield make
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for number, page in enumerate(pages):
            await page.screenshot(
                path=str(ARTIFACTS / f"{request.node.name}-{number}.png"), full_page=True
            )
    for context in contexts:
        await context.close()
    assert not script_problems, "\n".join(script_problems)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report
