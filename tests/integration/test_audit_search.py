"""Audit search (A13): each filter, the audited export, hostile filter values, sign-ins
of every audience recorded without what was typed, and an auditor who changes nothing."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from litestar.routes import HTTPRoute
from openpyxl import load_workbook

from marketplace.audit.queries import AuditFilters, search_audit
from marketplace.audit.services import record
from marketplace.audit.tables import AuditEntry
from marketplace.db import transaction
from tests import factories
from tests.fixtures import login, soup


def _detail(value: object) -> dict:
    return value if isinstance(value, dict) else json.loads(str(value))


async def _seed(world) -> None:
    async with transaction():
        await record(
            world.operator.with_request("203.0.113.5", "req-approve-1"),
            "product.approve",
            "product",
            42,
            note="特别备注 100%",
        )
        await record(
            world.staff.with_request("198.51.100.20", "req-lead"), "lead.reveal", "application", 7
        )
        await record(
            world.other_staff.with_request("198.51.100.21", ""), "lead.export", "application", 8
        )
        await record(
            world.operator.with_request("203.0.113.77", ""), "risk.release", "application", 9
        )
    await AuditEntry.insert(
        AuditEntry(
            at=datetime.now(UTC) - timedelta(days=40),
            actor_kind="operator",
            actor_id=world.operator.user_id,
            actor_label="审核员",
            action="product.reject",
            object_type="product",
            object_id="41",
            ip="203.0.113.5",
        )
    )


async def _actions(**filters: object) -> list[str]:
    rows, total = await search_audit(AuditFilters(**filters), page=1, per_page=50)
    assert total == len(rows)
    return sorted(row.action for row in rows)


async def test_each_filter_narrows_the_search(world):
    await _seed(world)
    assert len(await _actions()) == 5
    assert await _actions(actor="审核") == ["product.approve", "product.reject", "risk.release"]
    assert await _actions(actor=str(world.staff.user_id)) == ["lead.reveal"]
    assert await _actions(actor_kind="staff") == ["lead.export", "lead.reveal"]
    assert await _actions(institution_id=world.bank_id) == ["lead.reveal"]
    assert await _actions(object_type="application", object_id="8") == ["lead.export"]
    assert await _actions(action="product.approve") == ["product.approve"]
    assert await _actions(action="risk.") == ["risk.release"]
    assert await _actions(action="product") == [], "no dot: an exact code, not a prefix"
    today = datetime.now(UTC).date()
    recent = await _actions(date_from=today - timedelta(days=1), date_to=today + timedelta(days=1))
    assert "product.reject" not in recent and len(recent) == 4
    assert await _actions(date_to=today - timedelta(days=30)) == ["product.reject"]
    assert await _actions(ip="203.0.113.5") == ["product.approve", "product.reject"]
    assert await _actions(ip="203.0.113.") == ["product.approve", "product.reject", "risk.release"]
    assert await _actions(text="特别备注") == ["product.approve"], "free text reads the details"
    assert await _actions(text="req-lead") == ["lead.reveal"]
    assert await _actions(text="%") == ["product.approve"], "% is a literal, not a wildcard"
    assert await _actions(text="_") == [], "_ is a literal too"
    assert await _actions(actor="审核", ip="203.0.113.77") == ["risk.release"]


async def test_auditor_searches_and_exports_and_the_export_is_audited(client, world):
    await _seed(world)
    await login(client, "/admin/login", "auditor@loanmart.example")
    page = await client.get("/admin/audit", params={"actor_kind": "staff", "q": ""})
    assert page.status_code == 200
    rows = soup(page).select("main table tbody tr")
    assert len(rows) == 2
    assert soup(page).select_one("select[name=actor_kind] option[selected]")["value"] == "staff"

    csv_response = await client.get("/admin/audit/export/csv", params={"actor_kind": "staff"})
    assert csv_response.status_code == 200
    assert csv_response.headers["content-disposition"] == 'attachment; filename="audit-log.csv"'
    lines = csv_response.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 3 and "lead.reveal" in csv_response.text
    exported = await AuditEntry.objects().where(AuditEntry.action == "audit.export").first()
    assert exported.actor_id == world.auditor.user_id
    assert _detail(exported.detail) == {
        "filters": {"actor_kind": "staff"},
        "rows": 2,
        "format": "csv",
    }

    xlsx = await client.get("/admin/audit/export/xlsx", params={"action": "product.approve"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [row[5] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["product.approve"]
    assert (await client.get("/admin/audit/export/pdf")).status_code == 404
    # The export shows up in the log it exported.
    log = await client.get("/admin/audit", params={"action": "audit.export"})
    assert len(soup(log).select("main table tbody tr")) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 5000},
        {"q": "'; DROP TABLE audit_entry; --", "actor": "<script>alert(1)</script>"},
        {"from": "2026-13-45", "to": "yesterday"},
        {"from": "2030-01-01", "to": "2020-01-01"},
        {"institution": "-1", "page": "abc"},
        {"institution": "99999999999999999999", "page": "-3"},
        {"ip": "1.2.3.4\x00", "action": "%'", "object_type": "junk", "object_id": "😀" * 50},
        {"actor": "12345678901234567890", "actor_kind": "root"},
        {"q": "\\", "action": "\\."},
    ],
)
async def test_hostile_filter_values_never_500(client, world, params):
    await _seed(world)
    await login(client, "/admin/login", "auditor@loanmart.example")
    assert (await client.get("/admin/audit", params=params)).status_code == 200
    assert (await client.get("/admin/audit/export/csv", params=params)).status_code == 200


async def test_sign_ins_of_every_audience_are_recorded_without_what_was_typed(
    client, staff_client, world
):
    await factories.user("staff", "staff2@test-bank.example", "loan_officer", world.bank_id)
    wrong = "Wr0ng-Secret!"
    for path, login_name in (
        ("/login", world.borrower_mobile),
        ("/console/login", "staff@test-bank.example"),
        ("/admin/login", "auditor@loanmart.example"),
    ):
        response = await client.submit(path, {"login": login_name, "password": wrong})
        assert response.status_code == 400
    await login(client, "/login", world.borrower_mobile)
    await login(staff_client, "/console/login", "staff@test-bank.example")
    failures = await AuditEntry.objects().where(AuditEntry.action == "auth.login_failed")
    assert sorted(_detail(row.detail)["kind"] for row in failures) == [
        "borrower",
        "operator",
        "staff",
    ]
    for row in failures:
        stored = repr(row.__dict__) + str(_detail(row.detail))
        assert wrong not in stored
        assert world.borrower_mobile not in stored and "staff@test-bank.example" not in stored
        assert row.ip == "198.51.100.7"
    successes = await AuditEntry.objects().where(AuditEntry.action == "auth.login")
    assert sorted(row.actor_kind for row in successes) == ["borrower", "staff"]
    # An attempt refused because the account is locked is a failed sign-in too.
    for _attempt in range(6):
        await client.submit(
            "/console/login", {"login": "staff2@test-bank.example", "password": wrong}
        )
    throttled = await AuditEntry.objects().where(AuditEntry.action == "auth.login_failed")
    assert "throttled" in {_detail(row.detail)["reason"] for row in throttled}


def _post_routes(app) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if "POST" not in handler.http_methods:
                continue
            access = handler.opt.get("access")
            if access in (None, "public"):
                continue
            path = re.sub(r"\{[^}:]+:int\}", "1", route.path)
            path = re.sub(r"\{[^}:]+:str\}", "x", path)
            found.append((handler.name, path))
    return found


# Marking one's own notices read changes no business record; the user search is a POST
# only to keep phone numbers out of URLs and logs, and changes nothing.
OWN_STATE = {"admin.inbox.read_all", "admin.users.search"}


async def test_every_post_route_is_forbidden_to_the_auditor(app, client, world):
    await login(client, "/admin/login", "auditor@loanmart.example")
    before = await AuditEntry.count()
    routes = _post_routes(app)
    assert len(routes) > 40
    for name, path in routes:
        if name in OWN_STATE:
            continue
        response = await client.submit(path, {})
        # Another audience's page sends the browser to that audience's sign-in.
        refused = response.status_code in (401, 403) or (
            response.status_code == 303 and "login" in response.headers["location"]
        )
        assert refused, (name, path, response.status_code)
    assert await AuditEntry.count() == before
