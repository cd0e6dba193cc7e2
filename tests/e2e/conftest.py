"""A real server process (web + arq worker) on its own database, and Debian's chromium."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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

    def sms_code_for(self, masked_mobile: str, timeout: float = 10) -> str:
        """The demo console output is where a newcomer reads the SMS code too."""
        import re

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matches = re.findall(
                rf"\[sms\] {re.escape(masked_mobile)}: .*?(\d{{6}})", self.log.read_text()
            )
            if matches:
                return matches[-1]
            time.sleep(0.2)
        raise AssertionError(f"no SMS code for {masked_mobile}")


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    asyncio.run(_recreate_database(BASE_DATABASE_URL, E2E_DATABASE))
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
    cli = [sys.executable, "-m", "server.cli"]
    for step in ("migrate", "seed", "reindex"):
        subprocess.run([*cli, step], env=env, cwd=PROJECT_ROOT, check=True, capture_output=True)
    log = Path(var_dir) / "server.log"
    with log.open("wb") as out:
        processes = [
            subprocess.Popen([*cli, "worker"], env=env, cwd=PROJECT_ROOT, stdout=out, stderr=out),
            subprocess.Popen([*cli, "web"], env=env, cwd=PROJECT_ROOT, stdout=out, stderr=out),
        ]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError("e2e server did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.3)
        yield LiveServer(url, log)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
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
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for page in item.funcargs.get("_open_pages", []):
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{item.name}-{id(page)}.png"), full_page=True)


@pytest.fixture
def _open_pages() -> list:
    return []


@pytest.fixture
def new_page(browser, live_server, _open_pages):
    """Each call is a fresh browser context (a different person), phone-sized by default."""
    contexts = []

    def make(*, mobile: bool = True, javascript: bool = True):
        viewport = {"width": 390, "height": 844} if mobile else {"width": 1280, "height": 900}
        context = browser.new_context(
            base_url=live_server.url,
            viewport=viewport,
            java_script_enabled=javascript,
            locale="zh-CN",
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        _open_pages.append(page)
        return page

    yield make
    for context in contexts:
        context.close()
