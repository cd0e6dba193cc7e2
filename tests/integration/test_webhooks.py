"""Webhooks against a real HTTP receiver on a local port: signed requests, retries with
backoff through the outbox, redelivery, secret rotation, consent-bound payloads, tenant
isolation and hostile receiver URLs."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from marketplace import jobs
from marketplace.applications.services import deliver
from marketplace.errors import ValidationFailed
from marketplace.offers.services import withdraw_application
from marketplace.outbox import services as outbox_services
from marketplace.outbox.services import sweep
from marketplace.outbox.tables import OutboxMessage, OutboxStatus
from marketplace.parsing import FieldError
from marketplace.settings import settings
from marketplace.webhooks import addresses
from marketplace.webhooks.queries import delivery as delivery_detail
from marketplace.webhooks.services import create_endpoint, rotate_secret
from marketplace.webhooks.signing import verify
from marketplace.webhooks.tables import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests import factories
from tests.fixtures import delivered_application, login, soup

# The one-time key of the forms that show a secret (server/once.py).
FORM_KEY = {"form_key": "f" * 22}


@pytest.fixture
def fast_policy(monkeypatch):
    policy = replace(outbox_services.POLICY, max_attempts=4, base_seconds=0.05, max_seconds=0.2)
    monkeypatch.setattr(outbox_services, "POLICY", policy)
    return policy


ALL_EVENTS = [
    "lead.delivered",
    "application.withdrawn",
    "consent.withdrawn",
    "offer.accepted",
    "offer.declined",
    "loan.disbursed",
]


async def _endpoint(world, url: str, events=ALL_EVENTS) -> tuple[int, str]:
    return await create_endpoint(world.staff, {"url": url, "events": events, "enabled": "1"})


async def _settle(rounds: int = 60) -> None:
    """What the worker does: sweep due rows and run the queue until nothing is pending."""
    for _ in range(rounds):
        await sweep()
        await jobs.run_until_idle()
        if not await OutboxMessage.exists().where(OutboxMessage.status == OutboxStatus.PENDING):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("outbox still pending")


def _signatures(header: str) -> list[str]:
    return [part[3:] for part in header.split(",") if part.startswith("v1=")]


async def test_signed_lead_is_retried_with_backoff_until_the_receiver_accepts(
    client, world, receiver, fast_policy
):
    receiver.fail_first = 2
    _, secret = await _endpoint(world, receiver.url)
    application = await delivered_application(client, world)

    # The first attempt ran with the delivery; it failed and waits for its backoff.
    first = await WebhookDelivery.objects().first()
    message = await OutboxMessage.objects().where(OutboxMessage.id == first.outbox_message).first()
    assert message.status == OutboxStatus.PENDING and message.attempts == 1
    assert message.last_error == "DeliveryFailed: HTTP 500"
    assert message.next_attempt_at > datetime.now(UTC) - timedelta(seconds=1)

    await _settle()
    assert len(receiver.requests) == 3
    ids = {r.headers["X-LoanMart-Delivery"] for r in receiver.requests}
    assert ids == {str(first.id)}, "retries keep the delivery id (receivers dedupe on it)"
    for request in receiver.requests:
        assert verify(secret, request.headers["X-LoanMart-Signature"], request.body)
        assert not verify("whsec_wrong", request.headers["X-LoanMart-Signature"], request.body)
    payload = json.loads(receiver.requests[-1].body)
    assert payload["event"] == "lead.delivered"
    assert payload["data"]["application_id"] == application.id
    assert payload["data"]["reference"] == application.reference
    assert payload["data"]["city"] == "北京市" and payload["data"]["consent_active"] is True
    # Identity and contact data never travel in a webhook.
    body = receiver.requests[-1].body.decode()
    assert "张伟" not in body and world.borrower_mobile not in body

    attempts = await WebhookAttempt.select(WebhookAttempt.status_code).order_by(WebhookAttempt.id)
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    message = await OutboxMessage.objects().where(OutboxMessage.id == first.outbox_message).first()
    assert message.status == OutboxStatus.DONE and message.runs == 3
    detail = await delivery_detail(world.staff, first.id)
    assert detail.delivery.status is DeliveryStatus.DELIVERED
    assert detail.delivery.attempts == 3
    assert "busy" in detail.attempts[-1].response_excerpt


async def test_stale_or_tampered_requests_fail_the_reference_verifier(world, receiver):
    _, secret = await _endpoint(world, receiver.url)
    application_id = await factories.application_in(world, status="submitted")
    await deliver(application_id)
    await _settle()
    request = receiver.requests[0]
    header = request.headers["X-LoanMart-Signature"]
    sent_at = int(header.split(",")[0].removeprefix("t="))
    assert abs(sent_at - request.at) < 5
    assert verify(secret, header, request.body, now=sent_at + 299)
    assert not verify(secret, header, request.body, now=sent_at + 301), "replayed too late"
    assert not verify(secret, header, request.body, now=sent_at - 301), "from the future"
    assert not verify(secret, header, request.body.replace(b"lead", b"leaf"))
    assert not verify(secret, header.replace(f"t={sent_at}", f"t={sent_at + 1}"), request.body)
    assert not verify(secret, "v1=" + _signatures(header)[0], request.body), "no timestamp"


async def test_the_verification_code_in_the_docs_accepts_real_requests(world, receiver):
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    code = docs.split("```python\n")[1].split("```")[0]
    assert "def verify" in code
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own documentation's sample
    _, secret = await _endpoint(world, receiver.url)
    await deliver(await factories.application_in(world, status="submitted"))
    await _settle()
    request = receiver.requests[0]
    header = request.headers["X-LoanMart-Signature"]
    assert namespace["verify"](secret, header, request.body)
    assert not namespace["verify"](secret, header, request.body + b" ")
    assert not namespace["verify"]("whsec_other", header, request.body)


async def test_rotation_sends_both_signatures_during_the_overlap_only(world, receiver):
    endpoint_id, old = await _endpoint(world, receiver.url)
    new = await rotate_secret(world.staff, endpoint_id)
    assert new != old
    stored = await WebhookEndpoint.objects().first()
    assert new not in stored.secret_encrypted and old not in stored.previous_secret_encrypted

    await deliver(await factories.application_in(world, status="submitted"))
    await _settle()
    header = receiver.requests[-1].headers["X-LoanMart-Signature"]
    assert len(_signatures(header)) == 2
    assert verify(new, header, receiver.requests[-1].body)
    assert verify(old, header, receiver.requests[-1].body)

    # The overlap ends: only the new secret signs.
    await WebhookEndpoint.update(
        {WebhookEndpoint.previous_valid_until: datetime.now(UTC) - timedelta(seconds=1)}
    ).where(WebhookEndpoint.id == endpoint_id)
    await deliver(await factories.application_in(world, status="submitted"))
    await _settle()
    header = receiver.requests[-1].headers["X-LoanMart-Signature"]
    assert len(_signatures(header)) == 1
    assert verify(new, header, receiver.requests[-1].body)
    assert not verify(old, header, receiver.requests[-1].body)


async def test_after_consent_is_withdrawn_no_lead_data_leaves(client, world, receiver):
    await _endpoint(world, receiver.url)
    application = await delivered_application(client, world)
    await _settle()
    assert json.loads(receiver.of("lead.delivered")[0].body)["data"]["city"] == "北京市"

    await withdraw_application(world.borrower, application.id)
    await _settle()
    [withdrawn] = receiver.of("application.withdrawn")
    assert json.loads(withdrawn.body)["data"]["application_id"] == application.id
    [consent] = receiver.of("consent.withdrawn")
    data = json.loads(consent.body)["data"]
    assert set(data) == {"consent_id", "application_ids"}
    assert data["application_ids"] == [application.id]

    # Redelivering the old lead event now carries ids only: built at send time.
    lead = await WebhookDelivery.objects().where(WebhookDelivery.event == "lead.delivered").first()
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.submit(f"/console/webhooks/deliveries/{lead.id}/redeliver")
    assert response.status_code == 303
    await _settle()
    again = receiver.of("lead.delivered")[-1]
    assert len(receiver.of("lead.delivered")) == 2
    assert json.loads(again.body)["data"] == {
        "application_id": application.id,
        "consent_active": False,
    }
    assert "北京" not in again.body.decode()


async def test_failing_receiver_parks_as_failed_and_redelivery_by_hand_succeeds(
    client, world, receiver, fast_policy
):
    receiver.fail_first = 100
    await _endpoint(world, receiver.url)
    await deliver(await factories.application_in(world, status="submitted"))
    await _settle()
    assert len(receiver.requests) == fast_policy.max_attempts
    row = await WebhookDelivery.objects().first()
    detail = await delivery_detail(world.staff, row.id)
    assert detail.delivery.status is DeliveryStatus.FAILED and detail.delivery.can_redeliver
    assert detail.last_error == "HTTP 500"

    await login(client, "/console/login", "staff@test-bank.example")
    page = await client.get("/console/webhooks/deliveries?status=failed")
    assert page.status_code == 200
    assert soup(page).select_one(f"tr[data-delivery='{row.id}']") is not None
    assert (
        soup(await client.get("/console/webhooks/deliveries?status=delivered")).select_one(
            "tr[data-delivery]"
        )
        is None
    )

    receiver.fail_first = 0
    response = await client.submit(f"/console/webhooks/deliveries/{row.id}/redeliver")
    assert response.status_code == 303
    # A double click while it is queued adds nothing.
    await client.submit(f"/console/webhooks/deliveries/{row.id}/redeliver")
    await _settle()
    assert len(receiver.requests) == fast_policy.max_attempts + 1
    detail = await delivery_detail(world.staff, row.id)
    assert detail.delivery.status is DeliveryStatus.DELIVERED
    page = soup(await client.get(f"/console/webhooks/deliveries/{row.id}"))
    assert "已送达" in page.get_text() and len(page.select("tbody tr")) == 5


async def test_disabled_or_unsubscribed_endpoints_get_nothing(world, receiver):
    await create_endpoint(world.staff, {"url": receiver.url, "events": ["loan.disbursed"]})
    await create_endpoint(
        world.staff, {"url": receiver.url + "?b", "events": ["lead.delivered"], "enabled": ""}
    )
    await deliver(await factories.application_in(world, status="submitted"))
    await _settle()
    assert receiver.requests == [] and await WebhookDelivery.count() == 0


async def test_another_institutions_endpoint_and_delivery_are_404(client, world, receiver):
    endpoint_id, _ = await _endpoint(world, receiver.url)
    await deliver(await factories.application_in(world, status="submitted"))
    await _settle()
    delivery_id = (await WebhookDelivery.objects().first()).id
    await login(client, "/console/login", "staff@other-bank.example")
    assert (await client.get(f"/console/webhooks/{endpoint_id}")).status_code == 404
    assert (await client.get(f"/console/webhooks/deliveries/{delivery_id}")).status_code == 404
    for path in (
        f"/console/webhooks/{endpoint_id}",
        f"/console/webhooks/{endpoint_id}/rotate",
        f"/console/webhooks/{endpoint_id}/delete",
        f"/console/webhooks/deliveries/{delivery_id}/redeliver",
    ):
        response = await client.submit(
            path, {"url": "https://evil.example/", "events": "lead.delivered"}
        )
        assert response.status_code == 404, path
    listing = soup(await client.get("/console/webhooks/deliveries"))
    assert listing.select("tr[data-delivery]") == []
    assert await WebhookEndpoint.count() == 1
    assert (await WebhookEndpoint.objects().first()).url == receiver.url
    # A delivery filter naming another institution's endpoint is ignored, not obeyed.
    page = await client.get(f"/console/webhooks/deliveries?endpoint={endpoint_id}")
    assert page.status_code == 200 and soup(page).select("tr[data-delivery]") == []


HOSTILE_URLS = {
    "file:///etc/passwd": "https://",
    "javascript:alert(1)": "https://",
    "http://10.0.0.1/hook": "https://",
    "https://10.0.0.1/hook": "内网",
    "https://192.168.1.5/hook": "内网",
    "https://169.254.169.254/latest/meta-data": "内网",
    "https://[fd00::1]/hook": "内网",
    "https://[::ffff:10.0.0.1]/hook": "内网",
    "https://0.0.0.0/hook": "内网",
    "http://example.com/hook": "https://",
    "https://user:pw@example.com/hook": "用户名",
    "https://example.com:99999/hook": "格式",
    "https://example.com/" + "a" * 500: "500",
    "https://exa mple.com/": "空格",
    "https://例子.中国/hook": "字符",
    "": "请填写",
}


async def test_hostile_urls_are_refused_in_chinese(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    for url, words in HOSTILE_URLS.items():
        response = await client.submit(
            "/console/webhooks/new", {"url": url, "events": "lead.delivered", **FORM_KEY}
        )
        assert response.status_code == 400, url
        error = soup(response).select_one("#f-url-error")
        assert error is not None and words in error.get_text(), (url, error)
        # The typed value comes back for correction.
        assert soup(response).select_one("input[name=url]").get("value", "") == url.strip()
    for events in ({}, {"events": "nope"}, {"events": ["lead.delivered", "x" * 5000]}):
        response = await client.submit(
            "/console/webhooks/new", {"url": "https://hooks.example.com/", **events, **FORM_KEY}
        )
        assert response.status_code == 400
        assert soup(response).select_one("#f-events-error") is not None
    assert await WebhookEndpoint.count() == 0
    # Without the CSRF token nothing is written.
    response = await client.post(
        "/console/webhooks/new",
        data={"url": "https://hooks.example.com/", "events": "lead.delivered"},
    )
    assert response.status_code == 403 and await WebhookEndpoint.count() == 0


async def test_an_unreachable_receiver_is_a_failed_attempt_in_chinese(world, fast_policy):
    await _endpoint(world, "http://127.0.0.1:9/closed")  # the discard port: nothing listens
    await deliver(await factories.application_in(world, status="submitted"))
    await _settle()
    errors = await WebhookAttempt.select(WebhookAttempt.error, WebhookAttempt.status_code)
    assert len(errors) == fast_policy.max_attempts
    assert all(e["error"] == "无法连接接收地址" and e["status_code"] is None for e in errors)


async def test_a_slow_receiver_times_out_and_is_retried(world, receiver, fast_policy):
    from marketplace.parameters.tables import SystemParameter

    await SystemParameter.insert(SystemParameter(key="webhook_timeout_seconds", value="1"))
    receiver.delay = 1.5
    await _endpoint(world, receiver.url)
    await deliver(await factories.application_in(world, status="submitted"))
    await sweep()
    await jobs.run_until_idle()
    [attempt] = await WebhookAttempt.select(WebhookAttempt.error, WebhookAttempt.duration_ms)
    assert attempt["error"] == "等待响应超时（ReadTimeout）"
    assert 900 <= attempt["duration_ms"] < 1500
    receiver.delay = 0
    await _settle()
    assert await WebhookDelivery.count().where(WebhookDelivery.delivered_at.is_not_null()) == 1


async def test_production_refuses_loopback_and_names_that_resolve_inside(monkeypatch):
    monkeypatch.setattr(addresses, "settings", replace(settings, environment="production"))
    for url in ("http://127.0.0.1:8000/hook", "https://localhost/hook", "https://[::1]/hook"):
        with pytest.raises(FieldError):
            addresses.check_url(url)
    assert addresses.check_url("https://hooks.example.com/x") == "https://hooks.example.com/x"
    # A public-looking name that points inside is refused when sending.
    with pytest.raises(addresses.UnsafeAddress):
        await addresses.check_resolved("https://localhost./hook")
    with pytest.raises(addresses.UnsafeAddress):
        await addresses.check_resolved("https://2130706433/hook")


async def test_secret_is_shown_once_and_only_admins_manage_webhooks(client, world, receiver):
    await login(client, "/console/login", "staff@test-bank.example")
    form = {"url": receiver.url, "events": ["lead.delivered", "loan.disbursed"], "enabled": "1"}
    response = await client.submit("/console/webhooks/new", {**form, **FORM_KEY})
    assert response.status_code == 200
    secret = soup(response).select_one("[data-secret]").get_text()
    assert secret.startswith("whsec_") and len(secret) > 40
    endpoint = await WebhookEndpoint.objects().first()
    assert endpoint.events == ["lead.delivered", "loan.disbursed"]
    for path in ("/console/webhooks", f"/console/webhooks/{endpoint.id}"):
        assert secret not in (await client.get(path)).text
    # A refresh of the answer re-posts the form: no second endpoint, no secret shown.
    repeated = await client.submit("/console/webhooks/new", {**form, **FORM_KEY})
    assert repeated.status_code == 303 and await WebhookEndpoint.count() == 1
    edit = soup(await client.get(f"/console/webhooks/{endpoint.id}"))
    rotate = {"form_key": edit.select_one("form[action$=rotate] input[name=form_key]")["value"]}
    rotated = await client.submit(f"/console/webhooks/{endpoint.id}/rotate", rotate)
    assert rotated.status_code == 200
    new_secret = soup(rotated).select_one("[data-secret]").get_text()
    assert new_secret not in ("", secret)
    # Re-posting the rotation does not replace the secret just shown.
    after_rotation = (await WebhookEndpoint.objects().first()).secret_encrypted
    again = await client.submit(f"/console/webhooks/{endpoint.id}/rotate", rotate)
    assert again.status_code == 303
    assert again.headers["location"] == f"/console/webhooks/{endpoint.id}"
    assert (await WebhookEndpoint.objects().first()).secret_encrypted == after_rotation
    # Without its key the rotation is refused, and nothing rotates.
    stale = await client.submit(f"/console/webhooks/{endpoint.id}/rotate")
    assert stale.status_code == 400 and "表单已过期" in soup(stale).text
    assert (await WebhookEndpoint.objects().first()).secret_encrypted == after_rotation
    edit = soup(await client.get(f"/console/webhooks/{endpoint.id}"))
    assert "旧密钥" in edit.get_text()

    officer = await factories.user(
        "staff", "officer@test-bank.example", "loan_officer", world.bank_id
    )
    assert officer
    await client.post("/console/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/console/login", "officer@test-bank.example")
    assert (await client.get("/console/webhooks")).status_code == 403
    nav = soup(await client.get("/console/"))
    assert nav.select_one("a[href='/console/webhooks']") is None


async def test_parallel_creates_stop_at_the_endpoint_limit(world):
    results = await asyncio.gather(
        *(
            create_endpoint(
                world.staff, {"url": f"https://hooks{i}.example.com/", "events": "lead.delivered"}
            )
            for i in range(8)
        ),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if not isinstance(r, tuple)]
    assert len(created) == 5 and await WebhookEndpoint.count() == 5
    assert all("最多可添加5个" in str(r) for r in refused)
    assert not any(isinstance(r, ValidationFailed) for r in refused)


async def test_demo_receiver_accepts_only_requests_signed_by_the_endpoint(client, world):
    """Mounted only in demo mode (the tests run with it off: a 404 here); its handler on
    its own checks the signature like an institution's receiver would."""
    import httpx
    from litestar import Litestar

    from marketplace.webhooks.signing import signature_header
    from server.demo_webhooks import demo_webhook_receiver

    _, secret = await _endpoint(world, "https://hooks.example.com/")
    await deliver(await factories.application_in(world, status="submitted"))
    delivery_id = (await WebhookDelivery.objects().first()).id
    body = b'{"event":"lead.delivered"}'
    assert (await client.post("/demo/webhook-receiver", content=body)).status_code == 404

    demo = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=Litestar([demo_webhook_receiver])),
        base_url="http://demo",
    )

    async def post(signed_with: str, at: int) -> int:
        headers = {
            "X-LoanMart-Delivery": str(delivery_id),
            "X-LoanMart-Event": "lead.delivered",
            "X-LoanMart-Signature": signature_header([signed_with], at, body),
        }
        response = await demo.post("/demo/webhook-receiver", content=body, headers=headers)
        return response.status_code

    async with demo:
        now = int(time.time())
        assert await post(secret, now) == 200
        assert await post("whsec_forged", now) == 401
        assert await post(secret, now - 600) == 401, "stale timestamp"
        response = await demo.post("/demo/webhook-receiver", content=body)
        assert response.status_code == 401 and response.json()["verified"] is False


async def test_editing_checks_the_url_again_and_keeps_what_was_typed(client, world):
    endpoint_id, _ = await _endpoint(world, "https://hooks.example.com/a")
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.submit(
        f"/console/webhooks/{endpoint_id}",
        {"url": "https://169.254.169.254/", "description": "元数据", "events": "loan.disbursed"},
    )
    assert response.status_code == 400
    page = soup(response)
    assert "内网" in page.select_one("#f-url-error").get_text()
    assert page.select_one("input[name=description]")["value"] == "元数据"
    assert page.select_one("input[value='loan.disbursed']").has_attr("checked")
    stored = await WebhookEndpoint.objects().first()
    assert stored.url == "https://hooks.example.com/a" and stored.events == ALL_EVENTS

    response = await client.submit(
        f"/console/webhooks/{endpoint_id}",
        {"url": "https://hooks.example.com/b", "events": "loan.disbursed"},
    )
    assert response.status_code == 303
    stored = await WebhookEndpoint.objects().first()
    assert stored.url == "https://hooks.example.com/b" and stored.events == ["loan.disbursed"]
    assert stored.enabled is False, "an unticked box disables the endpoint"


async def test_a_send_connects_to_the_address_it_checked_not_a_second_lookup(
    world, receiver, monkeypatch
):
    """DNS rebinding: the name answers a callable address to the check and an internal one
    a moment later. The request must still go to the checked address, with the real host
    name in its Host header, and the name is looked up once per send."""
    loop = asyncio.get_running_loop()
    lookups: list[str] = []
    real_getaddrinfo = loop.getaddrinfo

    async def rebinding(host, port, *args, **kwargs):
        if host not in ("localhost", b"localhost"):  # the HTTP client asks in bytes
            return await real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host.decode() if isinstance(host, bytes) else host)
        address = "127.0.0.1" if len(lookups) == 1 else "10.255.255.1"
        return await real_getaddrinfo(address, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    url = f"http://localhost:{receiver.port}/hook"
    await _endpoint(world, url)
    await deliver(await factories.application_in(world, status="submitted"))
    await sweep()
    await jobs.run_until_idle()

    assert lookups == ["localhost"]
    [request] = receiver.requests
    assert request.headers["Host"] == f"localhost:{receiver.port}"
    assert await WebhookDelivery.count().where(WebhookDelivery.delivered_at.is_not_null()) == 1


def test_pinned_requests_keep_the_host_name_for_the_header_and_tls():
    assert addresses.pinned("https://hooks.example.com/in?x=1", "93.184.216.34") == (
        "https://93.184.216.34/in?x=1",
        {"Host": "hooks.example.com"},
        {"sni_hostname": "hooks.example.com"},
    )
    assert addresses.pinned("https://hooks.example.com:8443/in", "2606:2800:220:1::1") == (
        "https://[2606:2800:220:1::1]:8443/in",
        {"Host": "hooks.example.com:8443"},
        {"sni_hostname": "hooks.example.com"},
    )
    assert addresses.pinned("http://localhost:9000/in", "127.0.0.1") == (
        "http://127.0.0.1:9000/in",
        {"Host": "localhost:9000"},
        {},
    )
