"""Shared fixtures. The app runs in the test's own event loop (httpx ASGITransport), so
the Piccolo pool, Redis client and arq pool are all created in one loop; Litestar's
AsyncTestClient would run the app on a second loop in another thread."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from bs4 import BeautifulSoup

from marketplace import cache, jobs
from marketplace.accounts import roles
from marketplace.applications.tables import Application
from marketplace.contexts import table_names
from marketplace.db import engine
from marketplace.security import current_totp_code, make_password_hasher, use_password_hasher
from marketplace.settings import settings
from server.lifecycle import start_services, stop_services
from tests import factories

# Every table of every context, derived from the Piccolo apps: a new context's tables are
# emptied between tests without anyone listing them here.
APP_TABLES = ", ".join(table_names())


@pytest.fixture(scope="session", autouse=True)
async def services() -> AsyncIterator[None]:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    # Cheap hashing in tests; production parameters are covered in test_security.
    use_password_hasher(make_password_hasher(time_cost=1, memory_cost=8, parallelism=1))
    result = await run_forwards("all")
    assert result.success, result.message
    await start_services()
    await cache.redis().flushdb()  # the embedded Redis keeps data between runs
    yield
    await stop_services()


@pytest.fixture(autouse=True)
async def clean_state(services: None) -> AsyncIterator[None]:
    yield
    # Behaviour events still waiting for their batch belong to this test, not the next.
    from server import behaviour

    await behaviour.flush()
    # audit_entry is append-only (a trigger refuses DELETE); TRUNCATE is the test reset.
    await engine().run_ddl(f"TRUNCATE {APP_TABLES} RESTART IDENTITY CASCADE")
    await cache.redis().flushdb()
    # The process's copy of the role matrix edits goes with their rows (tests build actors
    # with roles.permissions_of directly, without a request that would reload it).
    roles.install(roles.EffectiveMatrix())
    from marketplace.products.search_port import backend

    await backend().clear()
    from marketplace.content.search_port import article_backend

    await article_backend().clear()
    # Stored files (the local storage adapter) go with the rows that pointed to them.
    shutil.rmtree(settings.files_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def app():
    from server.app import create_app

    return create_app()


class Client(httpx.AsyncClient):
    """An httpx client that knows the CSRF dance: GET a page, then post its form."""

    async def csrf_token(self) -> str:
        token = self.cookies.get("csrftoken")
        if not token:
            await self.get("/healthz")
            await self.get("/login")
            token = self.cookies.get("csrftoken")
        assert token, "no CSRF cookie issued"
        return token

    async def submit(self, url: str, data: dict | None = None, **kwargs) -> httpx.Response:
        form = {"_csrf_token": await self.csrf_token(), **(data or {})}
        return await self.post(url, data=form, **kwargs)


def soup(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


@pytest.fixture
async def client(app) -> AsyncIterator[Client]:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    async with Client(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def staff_client(app) -> AsyncIterator[Client]:
    """A second browser (another address) for the institution's side of a conversation."""
    transport = httpx.ASGITransport(app=app, client=("198.51.100.8", 50001))
    async with Client(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(client: Client, path: str, login: str, password: str = factories.PASSWORD) -> None:
    response = await client.submit(path, {"login": login, "password": password})
    assert response.status_code == 303, response.text[:500]
    if path.startswith("/admin"):
        assert response.headers["location"] == "/admin/login/verify"
        code = current_totp_code(factories.OPERATOR_TOTP_SECRET)
        response = await client.submit("/admin/login/verify", {"code": code})
        assert response.status_code == 303, response.text[:500]


@pytest.fixture
async def world():
    """Two institutions with staff, an operator and a borrower."""
    return await factories.world()


async def apply_form_secrets(client: Client, product_id: int) -> dict[str, str]:
    """The hidden fields of a product's apply form: the consent notice's digest and the
    submission key, as a browser would send them back."""
    page = soup(await client.get(f"/products/{product_id}/apply"))
    return {
        name: page.select_one(f"input[name={name}]")["value"]
        for name in ("notice_digest", "submission_key")
    }


async def delivered_application(client: Client, world: factories.World) -> Application:
    """The borrower (signed in on `client` here) applies through the site; the worker
    delivers the application to the bank."""
    product_id = await factories.listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    response = await client.submit(
        f"/products/{product_id}/apply", factories.application_form(**hidden)
    )
    assert response.status_code == 303
    await jobs.run_until_idle()
    application = await Application.objects().first()
    assert application.status == "delivered"
    return application


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """An institution's webhook receiver on a local port (webhook and job reliability
    tests): answers `fail_first` requests with 500, then 200, each after `delay` seconds."""

    fail_first: int = 0
    delay: float = 0.0  # seconds before answering
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def of(self, event: str) -> list[Received]:
        return [r for r in self.requests if r.headers["X-LoanMart-Event"] == event]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(Received(dict(self.headers), body, time.time()))
            failing = len(state.requests) <= state.fail_first
            time.sleep(state.delay)
            self.send_response(500 if failing else 200)
            self.end_headers()
            self.wfile.write(b"busy, try later" if failing else b'{"ok":true}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
