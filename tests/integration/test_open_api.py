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
from marketplace.loans.tables import Loan, Repayment
from marketplace.offers.tables import Offer
from tests import factories
from tests.fixtures import Client, delivered_application

PROBLEM = "application/problem+json"
ALL_SCOPES = ("leads:read", "leads:write", "offers:write", "loans:write")
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

    # The borrower signs (the offers context's own step), then the institution pays out.
    await Application.update({Application.status: "accepted"}).where(
        Application.id == application.id
    )
    await Offer.update({Offer.status: "signed"}).where(Offer.id == offer.id)
    today = datetime.now(UTC).astimezone().date().isoformat()
    paid = await client.post(
        f"/api/v1/leads/{application.id}/disbursement",
        json={"disbursed_on": today, "amount": "40000", "receiving_account": "6222020200112233"},
        headers=auth,
    )
    assert paid.status_code in (201, 409, 422), paid.text
