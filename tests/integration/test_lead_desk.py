"""The lead desk (issue 7, I3): filters that combine, the SLA badge, assignment, bulk
moves, audited reveals and exports. Leads are seeded straight into the table with their
delivery times, so ages and date ranges are exact."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl

from marketplace.applications.services import SHARED_DATA_CONTEXT
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.consents.notices import build_notice
from marketplace.consents.services import grant_consent
from marketplace.db import transaction
from marketplace.loancalc import SHANGHAI
from marketplace.parameters.tables import SystemParameter
from marketplace.security import encrypt_field
from tests import factories
from tests.factories import listed_product, valid_id_number
from tests.fixtures import login, soup

STAFF = "staff@test-bank.example"
OFFICER = "officer@test-bank.example"


async def _consent(world, institution_id: int) -> int:
    async with transaction():
        return await grant_consent(
            world.borrower, institution_id, build_notice("测试银行", "400", "贷")
        )


async def _lead(
    world,
    product_id: int,
    *,
    amount: str = "50000",
    city: str = "北京",
    hours_ago: float = 1,
    status: str = "delivered",
    institution_id: int | None = None,
    real_name: str = "张伟",
    id_number: str = "",
    mobile: str = "13912345678",
    assignee: int | None = None,
) -> int:
    institution_id = institution_id or world.bank_id
    shared = {
        "real_name": real_name,
        "id_number": id_number or valid_id_number(),
        "mobile": mobile,
        "city": city,
        "employment_type": "employee",
        "monthly_income": "12000",
    }
    delivered = datetime.now(UTC) - timedelta(hours=hours_ago)
    rows = await Application.insert(
        Application(
            reference=f"LM{datetime.now(UTC).timestamp():.6f}".replace(".", "")[-20:],
            borrower=world.borrower.user_id,
            product=product_id,
            product_version=1,
            institution=institution_id,
            consent=await _consent(world, institution_id),
            amount=Decimal(amount),
            term_months=12,
            status=status,
            shared_data_encrypted=encrypt_field(
                json.dumps(shared, ensure_ascii=False), context=SHARED_DATA_CONTEXT
            ),
            submission_key=f"k{delivered.timestamp()}",
            submitted_at=delivered - timedelta(minutes=5),
            delivered_at=delivered,
            city=city,
            assignee=assignee,
        )
    ).returning(Application.id)
    return rows[0]["id"]


def _ids(response) -> list[int]:
    return [int(tr["data-lead"]) for tr in soup(response).select("#lead-rows tbody tr")]


async def _officer(world, login_name: str = OFFICER, institution_id: int | None = None):
    return await factories.user(
        "staff", login_name, "loan_officer", institution_id or world.bank_id, "赵信贷"
    )


async def test_filters_combine_and_sort(client, world):
    p1 = await listed_product(world.staff, world.operator)
    p2 = await listed_product(world.staff, world.operator, name="安心经营贷")
    other_product = await listed_product(world.other_staff, world.operator)
    a = await _lead(world, p1, amount="50000", city="北京", hours_ago=20)
    b = await _lead(world, p1, amount="150000", city="上海", hours_ago=2, status="reviewing")
    c = await _lead(world, p2, amount="80000", city="北京", hours_ago=100)
    d = await _lead(world, p1, amount="90000", city="北京", hours_ago=120, status="rejected")
    f = await _lead(world, p2, amount="60000", city="上海", hours_ago=30)
    await _lead(world, other_product, city="北京", institution_id=world.other_bank_id)

    await login(client, "/console/login", STAFF)
    everything = await client.get("/console/leads")
    # Waiting leads oldest first by default; the other institution's lead never shows.
    assert _ids(everything) == [d, c, f, a, b]
    by_amount = await client.get("/console/leads", params={"sort": "amount_desc"})
    assert _ids(by_amount) == [b, d, c, f, a]

    combined = {"product": str(p1), "city": "北京", "amount_min": "40000", "amount_max": "100000"}
    assert set(_ids(await client.get("/console/leads", params=combined))) == {a, d}
    only_waiting = await client.get("/console/leads", params={**combined, "status": "delivered"})
    assert _ids(only_waiting) == [a]
    assert "符合筛选条件的线索共 1 条" in only_waiting.text

    # Delivered between two dates (China calendar days). Midnight of that day is 36–60
    # hours ago whatever the hour now: a, b and f in, c out.
    since = (datetime.now(SHANGHAI) - timedelta(hours=36)).date().isoformat()
    assert set(_ids(await client.get("/console/leads", params={"delivered_from": since}))) == {
        a,
        b,
        f,
    }
    # The end of that day is 52–76 hours ago whatever the hour now: c in, f out.
    until = (datetime.now(SHANGHAI) - timedelta(hours=76)).date().isoformat()
    window = {"delivered_to": until, "amount_max": "85000"}
    assert _ids(await client.get("/console/leads", params=window)) == [c]

    # The SLA badge: hours since delivery, amber past 24 h, red past 48 h, none once decided.
    badges = {
        int(tr["data-lead"]): tr.select_one("[data-sla]")
        for tr in soup(everything).select("#lead-rows tbody tr")
    }
    assert badges[a]["data-sla"] == "ok" and "20 小时" in badges[a].get_text()
    assert badges[f]["data-sla"] == "amber" and "30 小时" in badges[f].get_text()
    assert badges[c]["data-sla"] == "red"
    assert badges[d]["data-sla"] == "" and "小时" not in badges[d].get_text()


async def test_filters_survive_pagination_and_htmx(client, world):
    product_id = await listed_product(world.staff, world.operator)
    for hours in range(22):
        await _lead(world, product_id, city="北京", hours_ago=hours + 1)
    await _lead(world, product_id, city="上海", hours_ago=50)
    await login(client, "/console/login", STAFF)

    first = await client.get("/console/leads", params={"city": "北京", "sort": "recent"})
    assert len(_ids(first)) == 20
    next_links = [a["href"] for a in soup(first).select(".pagination a") if "page=2" in a["href"]]
    assert next_links and all("city=" in h and "sort=recent" in h for h in next_links)
    second = await client.get(next_links[0])
    assert len(_ids(second)) == 2

    live = await client.get(
        "/console/leads", params={"city": "上海"}, headers={"HX-Request": "true"}
    )
    assert live.status_code == 200
    fragment = soup(live)
    assert fragment.select_one("#lead-filters") is None, "htmx gets the table only"
    assert len(fragment.select("#lead-rows tbody tr")) == 1


async def test_hostile_filter_values_are_ignored(client, world):
    product_id = await listed_product(world.staff, world.operator)
    lead = await _lead(world, product_id)
    await login(client, "/console/login", STAFF)
    for params in (
        {"amount_min": "1e999"},
        {"amount_max": "-5"},
        {"delivered_from": "2026-13-45"},
        {"delivered_to": "２０２６-01-01"},
        {"product": "99999999999999"},
        {"assignee": "<script>"},
        {"assignee": "2147483648"},
        {"sort": "amount; DROP TABLE application"},
        {"city": "x" * 500},
        {"city": "北\x00京"},
        {"status": ["delivered", "rejected"]},
    ):
        response = await client.get("/console/leads", params=params)
        assert response.status_code == 200, params
        assert _ids(response) == [lead], params


async def test_officers_see_their_own_leads_by_default(client, world):
    product_id = await listed_product(world.staff, world.operator)
    officer = await _officer(world)
    mine = await _lead(world, product_id, assignee=officer.user_id, hours_ago=3)
    theirs = await _lead(world, product_id, assignee=world.staff.user_id, hours_ago=2)
    unassigned = await _lead(world, product_id, hours_ago=1)

    await login(client, "/console/login", OFFICER)
    assert _ids(await client.get("/console/leads")) == [mine]
    assert _ids(await client.get("/console/leads", params={"assignee": "none"})) == [unassigned]
    assert _ids(await client.get("/console/leads", params={"assignee": "all"})) == [
        mine,
        theirs,
        unassigned,
    ]
    client.cookies.clear()
    await login(client, "/console/login", STAFF)
    assert len(_ids(await client.get("/console/leads"))) == 3, "the admin starts on all leads"
    by_officer = await client.get("/console/leads", params={"assignee": str(officer.user_id)})
    assert _ids(by_officer) == [mine]
    assert "赵信贷" in by_officer.text


async def _audit(action: str) -> list[dict]:
    return await AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id)


async def test_admin_assigns_leads_to_own_staff_only(client, world):
    product_id = await listed_product(world.staff, world.operator)
    officer = await _officer(world)
    stranger = await _officer(world, "officer@other-bank.example", world.other_bank_id)
    a = await _lead(world, product_id, hours_ago=3)
    b = await _lead(world, product_id, hours_ago=2)
    foreign = await _lead(
        world,
        await listed_product(world.other_staff, world.operator),
        institution_id=world.other_bank_id,
    )
    await login(client, "/console/login", STAFF)
    back = "/console/leads?city=%E5%8C%97%E4%BA%AC"
    done = await client.submit(
        "/console/leads/assign",
        {"lead": [str(a), str(b)], "assignee": str(officer.user_id), "next": back},
    )
    assert done.status_code == 303 and done.headers["location"] == back
    assert "已分配 2 条线索" in (await client.get(back)).text
    assignees = {
        r["id"]: r["assignee"]
        for r in await Application.select(Application.id, Application.assignee)
    }
    assert assignees[a] == assignees[b] == officer.user_id
    audited = await _audit("lead.assign")
    assert sorted(int(r["object_id"]) for r in audited) == [a, b]
    assert all(r["actor_id"] == world.staff.user_id for r in audited)

    # Another institution's officer, or its lead among ours: 404, nothing changes.
    to_stranger = {"lead": [str(a)], "assignee": str(stranger.user_id)}
    assert (await client.submit("/console/leads/assign", to_stranger)).status_code == 404
    with_foreign = {"lead": [str(a), str(foreign)], "assignee": "none"}
    assert (await client.submit("/console/leads/assign", with_foreign)).status_code == 404
    after = {
        r["id"]: r["assignee"]
        for r in await Application.select(Application.id, Application.assignee)
    }
    assert after[a] == officer.user_id and after[foreign] is None
    assert len(await _audit("lead.assign")) == 2

    # Back to unassigned; an officer may not hand leads out.
    assert (
        await client.submit("/console/leads/assign", {"lead": [str(b)], "assignee": "none"})
    ).status_code == 303
    assert (await Application.select(Application.assignee).where(Application.id == b).first())[
        "assignee"
    ] is None
    client.cookies.clear()
    await login(client, "/console/login", OFFICER)
    assert _ids(await client.get("/console/leads")) == [a], "the officer starts on 我的线索"
    refused = await client.submit(
        "/console/leads/assign", {"lead": [str(b)], "assignee": str(officer.user_id)}
    )
    assert refused.status_code == 403


async def test_bulk_move_reports_each_refusal(client, world):
    product_id = await listed_product(world.staff, world.operator)
    waiting = await _lead(world, product_id, hours_ago=4)
    reviewing = await _lead(world, product_id, hours_ago=3, status="reviewing")
    rejected = await _lead(world, product_id, hours_ago=2, status="rejected")
    foreign = await _lead(
        world,
        await listed_product(world.other_staff, world.operator),
        institution_id=world.other_bank_id,
    )
    references = {
        r["id"]: r["reference"]
        for r in await Application.select(Application.id, Application.reference)
    }
    await login(client, "/console/login", STAFF)
    ids = [waiting, reviewing, rejected, foreign]
    response = await client.submit(
        "/console/leads/bulk-status", {"lead": [str(i) for i in ids], "action": "review"}
    )
    assert response.status_code == 303
    statuses = {
        r["id"]: r["status"] for r in await Application.select(Application.id, Application.status)
    }
    assert statuses == {
        waiting: "reviewing",
        reviewing: "reviewing",
        rejected: "rejected",
        foreign: "delivered",
    }
    page = (await client.get(response.headers["location"])).text
    assert "已更新 1 条线索" in page
    assert "3 条线索未更新" in page
    assert references[reviewing] in page and references[rejected] in page
    assert references[foreign] not in page, "another institution's reference is never shown"
    assert "当前状态不能执行该操作" in page and "找不到该申请" in page
    assert [int(r["object_id"]) for r in await _audit("lead.reviewing")] == [waiting]

    nothing = await client.submit(
        "/console/leads/bulk-status", {"action": "review", "next": "/console/leads?city=上海"}
    )
    assert nothing.status_code == 400 and "请至少勾选一条线索" in nothing.text
    # The filter is kept, by the city's canonical name.
    assert soup(nothing).select_one("#f-city")["value"] == "上海市", "the list keeps its filters"
    no_assignee = await client.submit("/console/leads/assign", {"lead": [str(waiting)]})
    assert no_assignee.status_code == 400 and "请选择负责人" in no_assignee.text


async def test_reveal_needs_the_permission_and_a_reason(client, world):
    product_id = await listed_product(world.staff, world.operator)
    id_number = valid_id_number(sequence="456")
    lead = await _lead(world, product_id, id_number=id_number, mobile="13812345678")
    await _officer(world)
    url = f"/console/leads/{lead}/reveal"

    await login(client, "/console/login", OFFICER)
    detail = await client.get(f"/console/leads/{lead}")
    assert id_number not in detail.text and url not in detail.text
    assert (await client.get(url)).status_code == 403
    refused = await client.submit(url, {"field": "id_number", "reason": "电话核实身份"})
    assert refused.status_code == 403 and id_number not in refused.text

    client.cookies.clear()
    await factories.user("staff", "risk@test-bank.example", "risk_officer", world.bank_id, "钱风控")
    await login(client, "/console/login", "risk@test-bank.example")
    assert f"{url}?field=id_number" in (await client.get(f"/console/leads/{lead}")).text
    no_reason = await client.submit(url, {"field": "id_number", "reason": " "})
    assert no_reason.status_code == 400 and id_number not in no_reason.text
    assert "请填写查看原因" in no_reason.text
    too_long = await client.submit(url, {"field": "id_number", "reason": "查" * 201})
    assert too_long.status_code == 400
    unknown_field = await client.submit(url, {"field": "real_name", "reason": "电话核实身份"})
    assert unknown_field.status_code == 400
    assert await _audit("lead.reveal") == []

    shown = await client.submit(url, {"field": "id_number", "reason": "电话核实身份"})
    assert shown.status_code == 200
    assert soup(shown).select_one("#revealed-value").get_text() == id_number
    assert "13812345678" not in shown.text, "one field at a time"
    assert "no-store" in shown.headers["cache-control"]
    assert id_number not in str(shown.url)
    phone = await client.submit(url, {"field": "mobile", "reason": "联系借款人补充材料"})
    assert soup(phone).select_one("#revealed-value").get_text() == "13812345678"
    # The masked view stays the default.
    assert id_number not in (await client.get(f"/console/leads/{lead}")).text

    audited = await _audit("lead.reveal")
    details = [json.loads(r["detail"]) for r in audited]
    assert [(d["field"], d["reason"]) for d in details] == [
        ("id_number", "电话核实身份"),
        ("mobile", "联系借款人补充材料"),
    ]
    assert all(id_number not in json.dumps(r, default=str) for r in audited)
    assert all("13812345678" not in json.dumps(r, default=str) for r in audited)

    # Another institution's lead is a 404 for the reveal too.
    foreign = await _lead(
        world,
        await listed_product(world.other_staff, world.operator),
        institution_id=world.other_bank_id,
    )
    lost = await client.submit(
        f"/console/leads/{foreign}/reveal", {"field": "id_number", "reason": "电话核实身份"}
    )
    assert lost.status_code == 404


async def test_parallel_reveals_stop_at_the_hourly_limit(client, world):
    await SystemParameter.insert(SystemParameter(key="lead_reveals_per_hour", value="3"))
    product_id = await listed_product(world.staff, world.operator)
    id_number = valid_id_number(sequence="789")
    lead = await _lead(world, product_id, id_number=id_number)
    await login(client, "/console/login", STAFF)
    token = await client.csrf_token()
    form = {"_csrf_token": token, "field": "id_number", "reason": "电话核实身份"}
    responses = await asyncio.gather(
        *(client.post(f"/console/leads/{lead}/reveal", data=form) for _ in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 3 + [429] * 5
    assert sum(id_number in r.text for r in responses) == 3
    assert all("retry-after" in r.headers for r in responses if r.status_code == 429)
    assert len(await _audit("lead.reveal")) == 3


async def test_exports_match_the_filters_masked_and_audited(client, world):
    product_id = await listed_product(world.staff, world.operator, name="=HYPERLINK(1)")
    id_number = valid_id_number(sequence="321")
    beijing = await _lead(
        world, product_id, amount="88000", city="北京", id_number=id_number, hours_ago=5
    )
    await _lead(world, product_id, amount="120000", city="上海", id_number=id_number, hours_ago=4)
    await _lead(
        world,
        await listed_product(world.other_staff, world.operator),
        city="北京",
        institution_id=world.other_bank_id,
    )
    reference = (
        await Application.select(Application.reference).where(Application.id == beijing).first()
    )["reference"]
    await login(client, "/console/login", STAFF)
    page = await client.get("/console/leads", params={"city": "北京"})
    xlsx_href = soup(page).select_one("a[href*='export/xlsx']")["href"]
    assert "city=" in xlsx_href

    xlsx = await client.get(xlsx_href)
    assert xlsx.status_code == 200 and "no-store" in xlsx.headers["cache-control"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][:5] == ["申请编号", "产品", "申请人", "城市", "申请金额（元）"]
    assert len(rows) == 2, "only this institution's lead in 北京"
    assert rows[1][0] == reference and rows[1][2] == "张**" and rows[1][3] == "北京"
    assert rows[1][1] == "'=HYPERLINK(1)", "a cell is never a formula"
    assert Decimal(str(rows[1][4])) == Decimal("88000")

    csv_response = await client.get("/console/leads/export/csv", params={"amount_min": "100000"})
    assert csv_response.status_code == 200
    parsed = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert parsed[0][0] == "申请编号" and len(parsed) == 2
    assert parsed[1][3] == "上海" and parsed[1][2] == "张**"
    for body in (xlsx.content, csv_response.content):
        assert id_number.encode() not in body and b"13912345678" not in body
        assert "张伟".encode() not in body

    audited = await _audit("lead.export")
    details = [json.loads(r["detail"]) for r in audited]
    assert [(d["format"], d["rows"], d["filters"]) for d in details] == [
        ("xlsx", 1, {"city": "北京市"}),
        ("csv", 1, {"amount_min": "100000"}),
    ]
    assert (await client.get("/console/leads/export/pdf")).status_code == 404
