"""Limits that hold under parallel requests (issue 6 §2), argon2 off the event loop, and
registration that does not tell strangers who is registered.

Every attack here is fired as real concurrent HTTP requests through the app
(asyncio.gather), and what is asserted is how many attempts were actually evaluated."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import pytest
from argon2 import PasswordHasher

from marketplace.accounts import second_factor
from marketplace.accounts.services import (
    CODE_MAX_PER_ADDRESS,
    LOGIN_MAX_FAILURES_PER_ACCOUNT,
    LOGIN_MAX_FAILURES_PER_ADDRESS,
    mobile_login_key,
)
from marketplace.accounts.tables import User
from marketplace.notifications.services import BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.security import (
    current_totp_code,
    decrypt_field,
    make_password_hasher,
    use_password_hasher,
)
from tests import factories
from tests.factories import OPERATOR_TOTP_SECRET, PASSWORD
from tests.fixtures import Client, soup

STAFF_LOGIN = "staff@test-bank.example"


def _cheap_hasher_kwargs() -> dict[str, int]:
    # The same cheap parameters as the suite's session fixture.
    return {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


class CountingHasher(PasswordHasher):
    """Counts every password evaluation (real and dummy) from any thread."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.evaluated = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        with self._lock:
            self.evaluated += 1
        return super().verify(hash, password)


@pytest.fixture
def counted() -> Iterator[CountingHasher]:
    hasher = CountingHasher(**_cheap_hasher_kwargs())
    use_password_hasher(hasher)
    yield hasher
    use_password_hasher(make_password_hasher(**_cheap_hasher_kwargs()))


@pytest.fixture
async def visitors(app) -> AsyncIterator:
    """Makes clients with their own cookies and client address, each with a CSRF token."""
    async with AsyncExitStack() as stack:

        async def make(address: str) -> Client:
            transport_client = Client(
                transport=_transport(app, address), base_url="http://testserver"
            )
            client = await stack.enter_async_context(transport_client)
            await client.csrf_token()
            return client

        yield make


def _transport(app, address: str):
    import httpx

    return httpx.ASGITransport(app=app, client=(address, 50000))


def _statuses(responses) -> dict[int, int]:
    counts: dict[int, int] = {}
    for response in responses:
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    return counts


# -- passwords ----------------------------------------------------------------------------


async def test_parallel_wrong_passwords_on_one_account_evaluate_only_the_limit(
    world, visitors, counted
):
    # Each attacker has its own address, so only the per-account limit is in play.
    clients = [await visitors(f"203.0.113.{i}") for i in range(50)]
    counted.evaluated = 0
    responses = await asyncio.gather(
        *(c.submit("/console/login", {"login": STAFF_LOGIN, "password": "wrong1"}) for c in clients)
    )
    assert counted.evaluated == LOGIN_MAX_FAILURES_PER_ACCOUNT
    assert _statuses(responses) == {400: 5, 429: 45}
    assert all("账号或密码不正确" in r.text for r in responses if r.status_code == 400)

    # Locked: the right password gets the same answer as a wrong one, unevaluated.
    late = await visitors("198.51.100.200")
    right = await late.submit("/console/login", {"login": STAFF_LOGIN, "password": PASSWORD})
    wrong = await late.submit("/console/login", {"login": STAFF_LOGIN, "password": "wrong2"})
    assert right.status_code == wrong.status_code == 429
    assert int(right.headers["retry-after"]) > 0
    assert (
        soup(right).select_one(".alert, [role=alert]").get_text()
        == soup(wrong).select_one(".alert, [role=alert]").get_text()
    )
    assert counted.evaluated == LOGIN_MAX_FAILURES_PER_ACCOUNT


async def test_parallel_failures_from_one_address_evaluate_only_the_limit(world, visitors, counted):
    attacker = await visitors("203.0.113.9")
    counted.evaluated = 0
    responses = await asyncio.gather(
        *(
            attacker.submit("/login", {"login": f"1390000{i:04d}", "password": "wrong1"})
            for i in range(100)
        )
    )
    assert counted.evaluated == LOGIN_MAX_FAILURES_PER_ADDRESS
    assert _statuses(responses) == {400: 30, 429: 70}
    blocked = await attacker.submit(
        "/login", {"login": world.borrower_mobile, "password": PASSWORD}
    )
    assert blocked.status_code == 429
    # Another address is not punished for it.
    other = await visitors("198.51.100.20")
    response = await other.submit("/login", {"login": world.borrower_mobile, "password": PASSWORD})
    assert response.status_code == 303


async def test_a_success_gives_its_attempt_back(world, visitors, counted):
    client = await visitors("198.51.100.30")
    for _ in range(LOGIN_MAX_FAILURES_PER_ACCOUNT - 1):
        response = await client.submit("/login", {"login": world.borrower_mobile, "password": "x1"})
        assert response.status_code == 400
    ok = await client.submit("/login", {"login": world.borrower_mobile, "password": PASSWORD})
    assert ok.status_code == 303
    # The account's count starts again: five more tries are evaluated.
    again = await visitors("198.51.100.31")
    counted.evaluated = 0
    for _ in range(LOGIN_MAX_FAILURES_PER_ACCOUNT):
        response = await again.submit("/login", {"login": world.borrower_mobile, "password": "x1"})
        assert response.status_code == 400
    assert counted.evaluated == LOGIN_MAX_FAILURES_PER_ACCOUNT


# -- TOTP ---------------------------------------------------------------------------------


async def test_parallel_wrong_totp_codes_evaluate_only_the_limit(world, client, monkeypatch):
    response = await client.submit(
        "/admin/login", {"login": "reviewer@loanmart.example", "password": PASSWORD}
    )
    assert response.headers["location"] == "/admin/login/verify"
    evaluated = 0
    real = second_factor.matched_totp_step

    def counting(secret: str, code: str) -> int | None:
        nonlocal evaluated
        evaluated += 1
        return real(secret, code)

    monkeypatch.setattr(second_factor, "matched_totp_step", counting)
    wrong = "000000" if current_totp_code(OPERATOR_TOTP_SECRET) != "000000" else "111111"
    await asyncio.gather(
        *(client.submit("/admin/login/verify", {"code": wrong}) for _ in range(100))
    )
    assert evaluated == second_factor.MAX_WRONG_CODES

    # The right code is refused too, unevaluated, and nobody is signed in.
    again = await client.submit(
        "/admin/login", {"login": "reviewer@loanmart.example", "password": PASSWORD}
    )
    assert again.status_code == 303
    right = await client.submit(
        "/admin/login/verify", {"code": current_totp_code(OPERATOR_TOTP_SECRET)}
    )
    assert right.status_code == 303 and right.headers["location"] == "/admin/login"
    assert evaluated == second_factor.MAX_WRONG_CODES
    assert (await client.get("/admin/")).status_code == 303


async def test_one_code_signs_in_one_of_two_parallel_sessions(world, visitors):
    first, second = await visitors("198.51.100.40"), await visitors("198.51.100.41")
    for c in (first, second):
        response = await c.submit(
            "/admin/login", {"login": "reviewer@loanmart.example", "password": PASSWORD}
        )
        assert response.headers["location"] == "/admin/login/verify"
    code = current_totp_code(OPERATOR_TOTP_SECRET)
    responses = await asyncio.gather(
        *(c.submit("/admin/login/verify", {"code": code}) for c in (first, second))
    )
    assert sorted(r.status_code for r in responses) == [303, 400], "a code is used once"


# -- SMS and registration -----------------------------------------------------------------


async def test_parallel_code_requests_from_one_address_send_only_the_limit(visitors):
    attacker = await visitors("203.0.113.50")
    responses = await asyncio.gather(
        *(
            attacker.submit("/register", {"action": "send_code", "mobile": f"1370000{i:04d}"})
            for i in range(30)
        )
    )
    assert await Notification.count() == CODE_MAX_PER_ADDRESS
    assert _statuses(responses) == {200: CODE_MAX_PER_ADDRESS, 429: 30 - CODE_MAX_PER_ADDRESS}
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["retry-after"]) > 0
    assert "验证码已发送" not in refused.text

    other = await visitors("198.51.100.50")
    sent = await other.submit("/register", {"action": "send_code", "mobile": "13700009999"})
    assert sent.status_code == 200
    assert await Notification.count() == CODE_MAX_PER_ADDRESS + 1


def _neutral(body: str, mobile: str) -> str:
    """The page with what legitimately differs removed: the typed number, CSRF tokens."""
    body = body.replace(mobile, "MOBILE")
    return re.sub(r'(name="_csrf_token" value=|csrf[-_]?token[^"]*"\s*:\s*)"[^"]*"', r"\1''", body)


async def test_registration_does_not_tell_who_is_registered(world, visitors):
    registered, unregistered = world.borrower_mobile, "13700001234"
    answers = []
    for index, mobile in enumerate((registered, unregistered)):
        stranger = await visitors(f"198.51.100.{60 + index}")
        answers.append(
            await stranger.submit("/register", {"action": "send_code", "mobile": mobile})
        )
    assert answers[0].status_code == answers[1].status_code == 200
    assert _neutral(answers[0].text, registered) == _neutral(answers[1].text, unregistered)
    assert "验证码已发送" in answers[0].text

    # Only the unregistered number got a code.
    rows = await Notification.objects()
    assert [row.recipient_masked for row in rows] == ["137****1234"]

    # Asking again within the minute reads the same for both numbers too.
    again = []
    for index, mobile in enumerate((registered, unregistered)):
        stranger = await visitors(f"198.51.100.{62 + index}")
        again.append(await stranger.submit("/register", {"action": "send_code", "mobile": mobile}))
    assert again[0].status_code == again[1].status_code == 429
    assert _neutral(again[0].text, registered) == _neutral(again[1].text, unregistered)


def _register_form(mobile: str, code: str) -> dict[str, str]:
    return {
        "action": "register",
        "mobile": mobile,
        "code": code,
        "password": "abc12345",
        "password_confirm": "abc12345",
        "display_name": "小周",
    }


async def _last_code() -> str:
    row = await Notification.objects().order_by(Notification.id, ascending=False).first()
    return re.search(r"\d{6}", decrypt_field(row.body_encrypted, context=BODY_CONTEXT)).group()


async def test_registering_a_taken_number_fails_neutrally(world, visitors):
    # Guessing a code for a registered number gets the wrong-code answer, like any number.
    stranger = await visitors("198.51.100.70")
    response = await stranger.submit("/register", _register_form(world.borrower_mobile, "123456"))
    assert response.status_code == 400 and "验证码不正确或已过期" in response.text

    # The number is registered between the code and the last step: no second account and
    # no "already registered" wording.
    mobile = "13700005678"
    await stranger.submit("/register", {"action": "send_code", "mobile": mobile})
    code = await _last_code()
    await factories.user("borrower", mobile, "borrower")
    response = await stranger.submit("/register", _register_form(mobile, code))
    assert response.status_code == 400 and "已注册" not in response.text
    assert await User.count().where(User.login_key == mobile_login_key(mobile)) == 1


async def test_one_code_registers_one_account_under_parallel_submits(visitors):
    mobile = "13700002468"
    first = await visitors("198.51.100.80")
    await first.submit("/register", {"action": "send_code", "mobile": mobile})
    code = await _last_code()
    clients = [first] + [await visitors(f"198.51.100.{81 + i}") for i in range(4)]
    responses = await asyncio.gather(
        *(c.submit("/register", _register_form(mobile, code)) for c in clients)
    )
    assert sorted(r.status_code for r in responses) == [303, 400, 400, 400, 400]
    assert await User.count().where(User.kind == "borrower") == 1


# -- argon2 off the event loop ------------------------------------------------------------


class GatedHasher(PasswordHasher):
    """The production parameters, with every verification held until the test releases
    it. Were verification on the event loop, the first one would block the loop itself:
    the gate then gives way after a few seconds so the test fails instead of hanging."""

    def __init__(self) -> None:
        super().__init__(time_cost=3, memory_cost=65536, parallelism=4)
        self.started = threading.Event()
        self.released = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self.started.set()
        if not self.released.wait(timeout=5):
            self.released.set()
        return super().verify(hash, password)


async def test_a_login_flood_does_not_stop_the_loop(app, visitors, client):
    production_hash = make_password_hasher().hash(PASSWORD)
    mobiles = [f"1360000{i:04d}" for i in range(20)]
    for mobile in mobiles:
        await factories.user("borrower", mobile, "borrower")
    await User.update({User.password_hash: production_hash}).where(User.kind == "borrower")
    clients = [await visitors(f"203.0.113.{100 + i}") for i in range(20)]
    hasher = GatedHasher()
    use_password_hasher(hasher)
    try:
        logins = [
            asyncio.create_task(c.submit("/login", {"login": mobile, "password": PASSWORD}))
            for c, mobile in zip(clients, mobiles, strict=True)
        ]
        await asyncio.to_thread(hasher.started.wait)
        health = [await client.get("/healthz") for _ in range(3)]
        # Still closed: the loop answered while a verification was in progress.
        gate_closed_during_health = not hasher.released.is_set()
        finished_before_health = sum(task.done() for task in logins)
        hasher.released.set()
        results = await asyncio.gather(*logins)
    finally:
        use_password_hasher(make_password_hasher(**_cheap_hasher_kwargs()))
    assert [r.status_code for r in health] == [200, 200, 200]
    assert gate_closed_during_health, "/healthz waited for password hashing"
    assert finished_before_health == 0
    assert [r.status_code for r in results] == [303] * 20
