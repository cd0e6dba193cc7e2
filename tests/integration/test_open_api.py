"""The Open API (issue #8, I6): institutions' systems take a client-credentials token and
work their leads and loans with the console's verbs and rules, only their own, each POST
once per Idempotency-Key, within a rate limit, every error as problem details."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from marketplace.api_clients.services import ClientForm, NewClient, create_client
from marketplace.api_clients.tables import ApiClient, ApiToken
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.consents.tables import Consent
from marketplace.loancalc import today_shanghai
from marketplace.loans.tables import Loan, Repayment
from marketplace.offers.tables import Offer
from marketplace.parameters.tables import SystemParameter
from tests import factories
from tests.fixtures import Client, delivered_application, login, soup

PROBLEM = "application/problem+json"
ALL_SCOPES = (
    "leads:read",
    "leads:write",
    "offers:write",
    "loans:write",
    "reconciliation:read",
    "reconciliation:write",
)
OFFER = {
    "amount": "40000",
    "term_months": 12,
    "repayment_method": "equal_installment",
    "rate": "8.4",
    "rate_period": "year",
    "fee_service_rate": "0.1",
}


async def new_client(actor, scopes=ALL_SCOPES, name="核心系统") -> NewClient:
    return await create_client(actor, ClientForm(name=name, scopes=tuple(scopes)))


async def token_for(client: Client, api: NewClient, **form: str) -> str:
    response = await client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials", **form},
        auth=(api.client_id, api.secret),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    return body["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("/api/docs#problem-") and body["title"] and body["detail"]
    return body


async def test_token_flow_basic_and_post_and_its_refusals(client, world):
    api = await new_client(world.staff, ("leads:read",))
    token = await token_for(client, api)
    assert (await client.get("/api/v1/leads", headers=bearer(token))).status_code == 200

    # client_secret_post works too
    posted = await client.post(
        "/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": api.client_id,
            "client_secret": api.secret,
        },
    )
    assert posted.status_code == 200 and posted.json()["scope"] == "leads:read"

    wrong_secret = await client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(api.client_id, api.secret + "x"),
    )
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    unknown = await client.post(
        "/api/oauth/token", data={"grant_type": "client_credentials"}, auth=("lmc_nope", "x")
    )
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    wrong_grant = await client.post(
        "/api/oauth/token", data={"grant_type": "password"}, auth=(api.client_id, api.secret)
    )
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    beyond = await client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials", "scope": "loans:write"},
        auth=(api.client_id, api.secret),
    )
    assert beyond.status_code == 400 and beyond.json()["error"] == "invalid_scope"
    # Only the keyed hash of the token is stored; issuing one is audited with the client.
    stored = await ApiToken.select(ApiToken.token_hash)
    assert token not in {row["token_hash"] for row in stored}
    issued = await AuditEntry.objects().where(AuditEntry.action == "api_client.token")
    assert (
        issued and issued[0].actor_kind == "api_client" and api.client_id in issued[0].actor_label
    )


async def test_missing_bad_and_expired_tokens_are_401_problems(client, world):
    api = await new_client(world.staff, ("leads:read",))
    token = await token_for(client, api)
    missing = assert_problem(await client.get("/api/v1/leads"), 401)
    assert missing["title"] == "未认证"
    garbage = await client.get("/api/v1/leads", headers=bearer("x" * 5000))
    assert_problem(garbage, 401)
    assert 'error="invalid_token"' in garbage.headers["www-authenticate"]
    await ApiToken.update({ApiToken.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        ApiToken.id > 0
    )
    assert_problem(await client.get("/api/v1/leads", headers=bearer(token)), 401)


async def test_a_revoked_client_loses_its_live_tokens_at_once(client, world):
    from marketplace.api_clients.services import revoke_client

    api = await new_client(world.staff, ("leads:read",))
    token = await token_for(client, api)
    await revoke_client(world.staff, api.id)
    assert_problem(await client.get("/api/v1/leads", headers=bearer(token)), 401)
    again = await client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(api.client_id, api.secret),
    )
    assert again.status_code == 401


async def test_scopes_are_enforced_per_route(client, world):
    application = await delivered_application(client, world)
    reader = await token_for(client, await new_client(world.staff, ("leads:read",)))
    refused = await client.post(
        f"/api/v1/leads/{application.id}/status", json={"action": "review"}, headers=bearer(reader)
    )
    body = assert_problem(refused, 403)
    assert body["title"] == "权限不足"
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    offers_only = await token_for(client, await new_client(world.staff, ("offers:write",)))
    assert_problem(await client.get("/api/v1/leads", headers=bearer(offers_only)), 403)
    assert (await Application.objects().first()).status == "delivered"


async def test_a_lead_through_the_api_from_review_to_repayment(client, world):
    application = await delivered_application(client, world)
    token = await token_for(client, await new_client(world.staff))
    auth = bearer(token)

    page = (await client.get("/api/v1/leads", headers=auth)).json()
    assert [lead["id"] for lead in page["items"]] == [application.id]
    assert page["items"][0]["status"] == "delivered" and page["items"][0]["amount"] == "50000.00"
    detail = (await client.get(f"/api/v1/leads/{application.id}", headers=auth)).json()
    assert detail["applicant"]["real_name"] == "张伟"
    assert detail["applicant"]["id_number_masked"] != factories.valid_id_number()
    assert "review" in detail["allowed_actions"]

    moved = await client.post(
        f"/api/v1/leads/{application.id}/status", json={"action": "review"}, headers=auth
    )
    assert moved.status_code == 200 and moved.json() == {
        "lead_id": application.id,
        "status": "reviewing",
    }
    audit = await AuditEntry.objects().where(AuditEntry.action == "lead.reviewing").first()
    assert audit.actor_kind == "api_client" and "核心系统" in audit.actor_label

    made = await client.post(f"/api/v1/leads/{application.id}/offer", json=OFFER, headers=auth)
    assert made.status_code == 201, made.text
    offer = await Offer.objects().first()
    assert made.json() == {"lead_id": application.id, "offer_id": offer.id}
    assert offer.amount == Decimal("40000.00") and offer.made_by is None
    assert (await Application.objects().first()).status == "approved"

    rejected = await client.post(
        f"/api/v1/leads/{application.id}/rejection", json={"reason": "income"}, headers=auth
    )
    assert_problem(rejected, 409)  # approved already: the state machine's rule, as in the console


async def test_rejection_takes_a_current_reason_code(client, world):
    application = await delivered_application(client, world)
    auth = bearer(await token_for(client, await new_client(world.staff)))
    url = f"/api/v1/leads/{application.id}/rejection"
    reasons = (await client.get("/api/v1/rejection-reasons", headers=auth)).json()
    assert {"code": "income", "label": "收入不足"} in reasons
    for hostile in ("", "no_such_code", "income\x00", "💸"):
        body = assert_problem(await client.post(url, json={"reason": hostile}, headers=auth), 422)
        assert body["errors"] == {"reason": "请选择拒绝原因"}
    too_long = await client.post(url, json={"reason": "x" * 10_000}, headers=auth)
    assert "reason" in assert_problem(too_long, 422)["errors"]
    done = await client.post(url, json={"reason": "income", "note": "负债高"}, headers=auth)
    assert done.status_code == 200 and done.json()["status"] == "rejected"
    lead = await Application.objects().first()
    assert lead.status == "rejected" and lead.rejection_reason == "income"


async def test_disbursement_and_repayments_through_the_api(client, world):
    application_id = await factories.application_in(world, "accepted", amount="20000")
    auth = bearer(await token_for(client, await new_client(world.staff, ("loans:write",))))
    today = today_shanghai().isoformat()
    url = f"/api/v1/leads/{application_id}/disbursement"
    body = {"disbursed_on": today, "amount": "20000", "receiving_account": "6222020200112233"}
    for field, hostile in (
        ("amount", "-5"),
        ("amount", "١٠٠"),
        ("amount", "1e9"),
        ("disbursed_on", "2999-01-01"),
        ("receiving_account", "12"),
    ):
        refused = await client.post(url, json={**body, field: hostile}, headers=auth)
        assert field in assert_problem(refused, 422)["errors"], (field, hostile)
    wrong_type = await client.post(url, json={**body, "amount": 20000}, headers=auth)
    assert "amount" in assert_problem(wrong_type, 422)["errors"]
    paid = await client.post(url, json=body, headers=auth)
    assert paid.status_code == 201, paid.text
    loan = await Loan.objects().first()
    assert paid.json() == {"lead_id": application_id, "loan_id": loan.id}
    assert loan.principal == Decimal("20000.00")
    assert_problem(await client.post(url, json=body, headers=auth), 409)  # only once

    repay_url = f"/api/v1/loans/{loan.id}/repayments"
    payment = {"amount": "500", "paid_on": today, "kind": "partial", "reference": "TX001"}
    first = await client.post(repay_url, json=payment, headers=auth)
    assert first.status_code == 201, first.text
    # The same 流水号 again is the same repayment (the loans context's rule).
    again = await client.post(repay_url, json=payment, headers=auth)
    assert again.json() == first.json()
    assert await Repayment.count() == 1
    assert_problem(
        await client.post(repay_url, json={**payment, "kind": "gift"}, headers=auth), 422
    )
    entry = await AuditEntry.objects().where(AuditEntry.action == "loan.repayment").first()
    assert entry.actor_kind == "api_client" and entry.institution_id == world.bank_id


async def test_another_institutions_lead_and_loan_are_404(client, world):
    application = await delivered_application(client, world)
    accepted = await factories.application_in(world, "accepted")
    auth = bearer(await token_for(client, await new_client(world.other_staff)))
    assert (await client.get("/api/v1/leads", headers=auth)).json()["items"] == []
    for method, url, body in (
        ("GET", f"/api/v1/leads/{application.id}", None),
        ("POST", f"/api/v1/leads/{application.id}/status", {"action": "review"}),
        ("POST", f"/api/v1/leads/{application.id}/rejection", {"reason": "income"}),
        ("POST", f"/api/v1/leads/{application.id}/offer", OFFER),
        (
            "POST",
            f"/api/v1/leads/{accepted}/disbursement",
            {"disbursed_on": "2026-01-05", "amount": "1", "receiving_account": "62220202001122"},
        ),
        ("GET", "/api/v1/leads/2147483648", None),
        ("GET", "/api/v1/leads/0", None),
    ):
        response = await client.request(method, url, json=body, headers=auth)
        assert_problem(response, 404)
    assert (await Application.objects().get(Application.id == application.id)).status == "delivered"


async def test_a_withdrawn_consent_redacts_the_lead(client, world):
    application = await delivered_application(client, world)
    await Consent.update({Consent.withdrawn_at: datetime.now(UTC)}).where(Consent.id > 0)
    auth = bearer(await token_for(client, await new_client(world.staff, ("leads:read",))))
    detail = (await client.get(f"/api/v1/leads/{application.id}", headers=auth)).json()
    assert detail["consent_withdrawn"] is True and detail["applicant"] is None
    listed = (await client.get("/api/v1/leads", headers=auth)).json()["items"][0]
    assert listed["consent_withdrawn"] is True and listed["city"] is None
    assert "张伟" not in str(detail) and "北京" not in str(listed)


async def test_leads_page_by_cursor_and_filter_by_status_and_time(client, world):
    ids = [await factories.application_in(world, "reviewing") for _ in range(3)]
    auth = bearer(await token_for(client, await new_client(world.staff, ("leads:read",))))
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/leads", params=params, headers=auth)).json()
        seen += [lead["id"] for lead in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    none = await client.get("/api/v1/leads", params={"status": "approved"}, headers=auth)
    assert none.json()["items"] == []
    later = datetime.now(UTC) + timedelta(minutes=1)
    since = await client.get(
        "/api/v1/leads", params={"updated_since": later.isoformat()}, headers=auth
    )
    assert since.json()["items"] == []
    for params in (
        {"status": "submitted"},
        {"cursor": "!!!"},
        {"cursor": base64.urlsafe_b64encode(b"x|1").decode()},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "١"},
        {"updated_since": "yesterday"},
    ):
        assert_problem(await client.get("/api/v1/leads", params=params, headers=auth), 422)


async def test_idempotency_key_replays_and_refuses_another_body(client, world):
    application = await delivered_application(client, world)
    auth = bearer(await token_for(client, await new_client(world.staff)))
    url = f"/api/v1/leads/{application.id}/status"
    headers = {**auth, "Idempotency-Key": "move-1"}
    first = await client.post(url, json={"action": "review"}, headers=headers)
    assert first.status_code == 200
    replay = await client.post(url, json={"action": "review"}, headers=headers)
    assert replay.status_code == 200 and replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    other = await client.post(url, json={"action": "review", "note": "x"}, headers=headers)
    assert "Idempotency-Key" in assert_problem(other, 422)["errors"]
    for hostile in ("", "k" * 201, "键".encode(), b"k\x01"):
        bad = await client.post(
            url, json={"action": "review"}, headers={**auth, "Idempotency-Key": hostile}
        )
        assert_problem(bad, 422)
    events = await AuditEntry.count().where(AuditEntry.action == "lead.reviewing")
    assert events == 1


async def test_concurrent_posts_with_one_key_have_one_effect(client, world):
    application = await delivered_application(client, world)
    await Application.update({Application.status: "reviewing"}).where(Application.id > 0)
    auth = bearer(await token_for(client, await new_client(world.staff)))
    headers = {**auth, "Idempotency-Key": "offer-1"}
    url = f"/api/v1/leads/{application.id}/offer"
    responses = await asyncio.gather(
        *(client.post(url, json=OFFER, headers=headers) for _ in range(6))
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert await Offer.count() == 1


async def test_rate_limit_is_per_client_with_retry_after(client, world):
    await SystemParameter.insert(
        SystemParameter(key="api_requests_per_minute", value="5", updated_by="test")
    )
    auth = bearer(await token_for(client, await new_client(world.staff, ("leads:read",))))
    other = bearer(await token_for(client, await new_client(world.other_staff, ("leads:read",))))
    responses = await asyncio.gather(
        *(client.get("/api/v1/leads", headers=auth) for _ in range(10))
    )
    # The token request counted too: 4 calls left in the minute.
    assert sorted(r.status_code for r in responses) == [200] * 4 + [429] * 6
    limited = next(r for r in responses if r.status_code == 429)
    assert_problem(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert (await client.get("/api/v1/leads", headers=other)).status_code == 200


async def test_problem_details_for_malformed_json_unknown_paths_and_methods(client, world):
    application = await delivered_application(client, world)
    auth = bearer(await token_for(client, await new_client(world.staff)))
    url = f"/api/v1/leads/{application.id}/status"
    malformed = await client.post(
        url, content=b"{not json", headers={**auth, "Content-Type": "application/json"}
    )
    assert_problem(malformed, 400)
    missing = await client.post(url, json={}, headers=auth)
    assert assert_problem(missing, 422)["errors"] == {"action": "缺少必填项"}
    wrong = await client.post(url, json={"action": 5}, headers=auth)
    assert assert_problem(wrong, 422)["errors"] == {"action": "该项的类型或取值不正确"}
    assert_problem(await client.post(url, json=[1, 2], headers=auth), 422)
    assert_problem(await client.get("/api/v1/nothing", headers=auth), 404)
    assert_problem(await client.delete(url, headers=auth), 405)


async def test_csrf_is_off_for_the_api_and_on_everywhere_else(client, world):
    application = await delivered_application(client, world)
    auth = bearer(await token_for(client, await new_client(world.staff)))
    # No CSRF cookie or field: the bearer token is the credential.
    moved = await client.post(
        f"/api/v1/leads/{application.id}/status", json={"action": "review"}, headers=auth
    )
    assert moved.status_code == 200
    client.cookies.clear()
    await login(client, "/console/login", "staff@test-bank.example")
    forged = await client.post(
        "/console/api-clients", data={"name": "x", "scopes": "leads:read"}, headers=auth
    )
    assert forged.status_code == 403
    assert await ApiClient.count() == 1


async def test_openapi_document_has_only_the_api_and_the_docs_page_renders(client):
    document = (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    paths = set(document["paths"])
    assert "/v1/leads" in paths and "/oauth/token" in paths
    assert not any(p.startswith(("/console", "/admin", "/me", "/products")) for p in paths)
    assert document["servers"] == [{"url": "/api"}]
    page = await client.get("/api/docs")
    assert page.status_code == 200
    html = soup(page)
    assert html.select_one("h1").text.strip() == "开放接口文档"
    assert "/api/v1/leads" in html.text and not html.select("script:not([src])")


async def test_an_admin_creates_a_client_sees_the_secret_once_and_revokes_it(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    page = soup(await client.get("/console/api-clients"))
    assert page.select_one("h1").text.strip() == "开放接口"
    # The form's one-time key (server/once.py): a rejected post gives it back.
    key = {"form_key": page.select_one("input[name=form_key]")["value"]}
    refused = await client.submit("/console/api-clients", {"name": "x" * 61, **key})
    assert refused.status_code == 400
    again = soup(refused)
    assert (
        "请选择授权范围" in again.text and "客户端名称" in again.select_one(".error-summary").text
    )
    for hostile in ({"name": "核心", "scopes": "admin:all"}, {"name": "", "scopes": "leads:read"}):
        assert (await client.submit("/console/api-clients", {**hostile, **key})).status_code == 400
    form = {"name": "核心系统", "scopes": ["leads:read", "loans:write"], **key}
    created = await client.submit("/console/api-clients", form)
    assert created.status_code == 200
    # The answer's own form has a new key.
    assert soup(created).select_one("input[name=form_key]")["value"] != key["form_key"]
    row = await ApiClient.objects().first()
    shown = soup(created).select_one("section[aria-labelledby=created-title]").text
    assert row.client_id in shown
    secret = shown.split("密钥（client_secret）")[1].split()[0]
    assert len(secret) >= 40 and secret != row.secret_hash
    assert row.scopes == ["leads:read", "loans:write"]
    # A refresh re-posts the form: nothing new is made and the secret is not shown again.
    repeated = await client.submit("/console/api-clients", form)
    assert repeated.status_code == 303 and await ApiClient.count() == 1
    listed = await client.get("/console/api-clients")
    assert secret not in listed.text and row.client_id in listed.text
    assert "这个表单已经提交过" in soup(listed).text
    token = await client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(row.client_id, secret),
    )
    assert token.status_code == 200
    revoked = await client.submit(f"/console/api-clients/{row.id}/revoke")
    assert revoked.status_code == 303
    assert (await ApiClient.objects().first()).revoked_at is not None
    actions = [e.action for e in await AuditEntry.objects().order_by(AuditEntry.id)]
    assert "api_client.create" in actions and "api_client.revoke" in actions


async def test_only_institution_admins_manage_their_own_clients(client, world):
    other = await new_client(world.other_staff)
    await login(client, "/console/login", "staff@test-bank.example")
    assert (await client.submit(f"/console/api-clients/{other.id}/revoke")).status_code == 404
    assert (await client.submit("/console/api-clients/2147483648/revoke")).status_code == 404
    assert other.client_id not in (await client.get("/console/api-clients")).text
    assert (await ApiClient.objects().first()).revoked_at is None
    await client.submit("/logout")
    await factories.user("staff", "officer@test-bank.example", "loan_officer", world.bank_id, "赵")
    await login(client, "/console/login", "officer@test-bank.example")
    assert (await client.get("/console/api-clients")).status_code == 403
    assert "开放接口" not in soup(await client.get("/console")).select_one("header").text


async def test_the_demo_client_of_the_readme_pulls_the_demo_leads(client):
    from marketplace.demo.api_clients import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from marketplace.demo.seed import seed_demo

    assert await seed_demo()
    token = await client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    )
    assert token.status_code == 200 and token.json()["scope"] == " ".join(ALL_SCOPES)
    leads = await client.get("/api/v1/leads", headers=bearer(token.json()["access_token"]))
    assert leads.status_code == 200 and leads.json()["items"], "华信 has demo leads"


async def test_parallel_creations_stop_at_the_live_client_limit(world):
    from marketplace.api_clients.services import MAX_ACTIVE_CLIENTS
    from marketplace.errors import DomainError

    results = await asyncio.gather(
        *(new_client(world.staff, name=f"c{i}") for i in range(MAX_ACTIVE_CLIENTS + 5)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 5 and "最多可同时启用 20 个客户端" in refused[0].message
    assert await ApiClient.count() == MAX_ACTIVE_CLIENTS


async def test_hostile_token_requests_are_oauth_errors_never_500(client, world):
    api = await new_client(world.staff, ("leads:read",))
    hostile_headers = (
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Bearer x"},
    )
    for headers in hostile_headers:
        response = await client.post(
            "/api/oauth/token", data={"grant_type": "client_credentials"}, headers=headers
        )
        assert response.status_code in (400, 401), (headers, response.text)
    for client_id in ("x" * 10_000, "键\x00", ""):
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "y"}
        response = await client.post("/api/oauth/token", data=form)
        assert response.status_code in (400, 401) and response.json()["error"], client_id
    hostile_forms = (
        {"grant_type": "client_credentials", "scope": "leads:read\x00 💸"},
        {"grant_type": ["client_credentials", "password"]},
        {},
    )
    for form in hostile_forms:
        response = await client.post(
            "/api/oauth/token", data=form, auth=(api.client_id, api.secret)
        )
        assert response.status_code in (400, 401), (form, response.text)
        assert "error" in response.json()
    as_json = await client.post(
        "/api/oauth/token",
        json={"grant_type": "client_credentials"},
        auth=(api.client_id, api.secret),
    )
    assert as_json.status_code == 400


async def test_another_institutions_loan_takes_no_repayment(client, world):
    application_id = await factories.application_in(world, "accepted", amount="20000")
    mine = bearer(await token_for(client, await new_client(world.staff, ("loans:write",))))
    theirs = bearer(await token_for(client, await new_client(world.other_staff, ("loans:write",))))
    body = {
        "disbursed_on": today_shanghai().isoformat(),
        "amount": "20000",
        "receiving_account": "6222020200112233",
    }
    paid = await client.post(
        f"/api/v1/leads/{application_id}/disbursement", json=body, headers=mine
    )
    loan_id = paid.json()["loan_id"]
    payment = {
        "amount": "500",
        "paid_on": body["disbursed_on"],
        "kind": "partial",
        "reference": "T1",
    }
    refused = await client.post(f"/api/v1/loans/{loan_id}/repayments", json=payment, headers=theirs)
    assert_problem(refused, 404)
    assert await Repayment.count() == 0


async def test_a_lost_redis_is_a_503_problem_never_a_500(client, world, monkeypatch):
    from tests.integration.test_metrics import _redis_down

    api = await new_client(world.staff, ("leads:read",))
    auth = bearer(await token_for(client, api))
    _redis_down(monkeypatch)
    listed = await client.get("/api/v1/leads", headers=auth)
    assert assert_problem(listed, 503)["title"] == "服务暂时不可用"
    assert listed.headers["retry-after"] == "30"
    token = await client.post(
        "/api/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(api.client_id, api.secret),
    )
    assert_problem(token, 503)


async def test_a_client_form_posted_twice_at_once_makes_one_client(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    form = {"name": "核心系统", "scopes": "leads:read", "form_key": "k" * 22}
    answers = await asyncio.gather(*(client.submit("/console/api-clients", form) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 303, 303, 303]
    assert await ApiClient.count() == 1


async def test_a_client_form_without_its_key_keeps_what_was_typed(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    for key in ({}, {"form_key": "short"}, {"form_key": "<script>" * 4}):
        answer = await client.submit("/console/api-clients", {"name": "核心系统", **key})
        assert answer.status_code == 400
        page = soup(answer)
        assert "表单已过期，请刷新页面后重新提交" in page.select_one(".error-summary").text
        assert page.select_one("input[name=name]")["value"] == "核心系统"
    assert await ApiClient.count() == 0
