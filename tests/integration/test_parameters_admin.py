"""System parameters (A3): every parameter on one page with its type, unit, range and value;
the super admin changes one with a reason — validated, versioned (who, when, old → new),
audited and read by every process at once; the table is seeded with the defaults."""

from __future__ import annotations

import asyncio
import json

import pytest

from marketplace.audit.tables import AuditEntry
from marketplace.errors import DomainError
from marketplace.outbox.tables import OutboxMessage
from marketplace.parameters import services as parameter_services
from marketplace.parameters.services import (
    DEFAULTS,
    change_parameter,
    get_parameters,
    sync_defaults,
)
from marketplace.parameters.specs import SPECS
from marketplace.parameters.tables import ParameterChange, SystemParameter
from tests import factories
from tests.fixtures import login, soup

ROOT = "root@loanmart.example"


@pytest.fixture
async def root(world):
    return await factories.user("operator", ROOT, "super_admin", None, "超管")


async def test_every_parameter_is_listed_with_its_spec_and_readers_cannot_edit(client, world):
    await login(client, "/admin/login", "auditor@loanmart.example")
    response = await client.get("/admin/parameters")
    assert response.status_code == 200
    page = soup(response)
    listed = {code.text for code in page.select("tbody th code")}
    assert listed == set(DEFAULTS)
    headings = [h.text for h in page.select("h2")]
    assert {"综合成本与利率", "催收", "结算", "开放接口与 Webhook"} <= set(headings)
    row = page.find("code", string="collection_daily_cap").find_parent("tr")
    assert (
        "3" in row.text and "次/天" in row.text and "1 到 10" in row.text and "默认值" in row.text
    )
    assert page.select_one(".site-nav a[href='/admin/parameters']") is not None

    detail = soup(await client.get("/admin/parameters/collection_daily_cap"))
    assert detail.select_one("form[action='/admin/parameters/collection_daily_cap']") is None
    refused = await client.submit(
        "/admin/parameters/collection_daily_cap", {"value": "5", "reason": "越权尝试"}
    )
    assert refused.status_code == 403
    assert (await get_parameters("collection_daily_cap"))["collection_daily_cap"] == 3
    assert not await ParameterChange.exists()


async def test_a_change_is_versioned_audited_and_read_at_once(client, world, root):
    await login(client, "/admin/login", ROOT)
    page = soup(await client.get("/admin/parameters/collection_daily_cap"))
    version = page.select_one("input[name=version]")["value"]
    assert version == "0"
    response = await client.submit(
        "/admin/parameters/collection_daily_cap",
        {"value": "5", "reason": "监管窗口指导", "version": version},
    )
    assert response.status_code == 303, response.text[:500]
    # Readers go to the table: the new value applies without a restart.
    assert (await get_parameters("collection_daily_cap"))["collection_daily_cap"] == 5
    change = await ParameterChange.select().first()
    assert (change["version"], change["reason"], change["actor_label"]) == (
        1,
        "监管窗口指导",
        "超管",
    )
    assert (json.loads(change["old_value"]), json.loads(change["new_value"])) == (3, 5)
    entry = await AuditEntry.select().where(AuditEntry.action == "parameter.change").first()
    assert entry["object_id"] == "collection_daily_cap"
    assert json.loads(entry["detail"])["reason"] == "监管窗口指导"

    detail = soup(await client.get("/admin/parameters/collection_daily_cap"))
    history = detail.select_one("#history-title").find_parent("section")
    cells = [td.get_text(strip=True) for td in history.select("tbody td")]
    assert "v1" in cells and "3" in cells and "5" in cells and "监管窗口指导" in cells
    listing = soup(await client.get("/admin/parameters"))
    row = listing.find("code", string="collection_daily_cap").find_parent("tr")
    assert "v1" in row.text and "超管" in row.text and "默认值" not in row.text
    everything = soup(await client.get("/admin/parameters/history"))
    assert "监管窗口指导" in everything.text

    # A code list, through the text form.
    response = await client.submit(
        "/admin/parameters/rejection_reasons",
        {"value": "income=收入不足\nother=其他原因", "reason": "精简原因", "version": "0"},
    )
    assert response.status_code == 303
    assert (await get_parameters("rejection_reasons"))["rejection_reasons"] == [
        {"code": "income", "label": "收入不足"},
        {"code": "other", "label": "其他原因"},
    ]


async def test_a_cost_line_change_still_reprices_through_the_outbox(client, world, root):
    await login(client, "/admin/login", ROOT)
    response = await client.submit(
        "/admin/parameters/lpr_1y", {"value": "0.0345", "reason": "LPR 公布", "version": "0"}
    )
    assert response.status_code == 303
    assert (await get_parameters("lpr_1y"))["lpr_1y"] == "0.0345"
    assert await OutboxMessage.exists().where(OutboxMessage.job == "products.reprice")


HOSTILE_VALUES = [
    ("collection_daily_cap", ""),
    ("collection_daily_cap", "abc"),
    ("collection_daily_cap", "１２"),
    ("collection_daily_cap", "-5"),
    ("collection_daily_cap", "11"),
    ("collection_daily_cap", "3.5"),
    ("collection_daily_cap", "99999999999999999999999999"),
    ("collection_daily_cap", "1; DROP TABLE system_parameter;--"),
    ("collection_daily_cap", "<script>alert(1)</script>"),
    ("collection_daily_cap", "\x00"),
    ("collection_daily_cap", "9" * 100_000),
    ("lpr_1y", "NaN"),
    ("lpr_1y", "1e999"),
    ("lpr_1y", "0"),
    ("vat_rate", "1.5"),
    ("collection_hours_start", "25:00"),
    ("collection_hours_start", "22:00"),  # after the end (21:00)
    ("collection_hours_end", "07:00"),  # before the start (08:00)
    ("licence_reminder_days", "30, x"),
    ("rejection_reasons", "没有代码的一行"),
    ("rejection_reasons", "𝔘𝔫𝔦=\u202e反向"),
    ("collection_daily_cap", "3"),  # the current value: nothing to change
]


@pytest.mark.parametrize(("key", "typed"), HOSTILE_VALUES)
async def test_hostile_values_are_refused_with_what_was_typed(client, world, root, key, typed):
    await login(client, "/admin/login", ROOT)
    response = await client.submit(
        f"/admin/parameters/{key}", {"value": typed, "reason": "测试原因", "version": "0"}
    )
    assert response.status_code == 400, response.text[:300]
    page = soup(response)
    field = page.select_one("#f-value")
    assert field.get("aria-invalid") == "true"
    shown = field.text if field.name == "textarea" else field.get("value", "")
    if "\x00" not in typed and len(typed) < 2000:
        assert shown.strip() == typed.strip()
    assert page.select_one("#f-reason")["value"] == "测试原因"
    assert "<script>alert" not in response.text
    assert (await get_parameters(key))[key] == DEFAULTS[key]
    assert not await ParameterChange.exists()


async def test_a_reason_is_required_and_unknown_keys_are_404(client, world, root):
    await login(client, "/admin/login", ROOT)
    for reason in ("", "  ", "长" * 201, "原因\x07"):
        response = await client.submit(
            "/admin/parameters/collection_daily_cap", {"value": "4", "reason": reason}
        )
        assert response.status_code == 400
        page = soup(response)
        assert page.select_one("#f-reason")["aria-invalid"] == "true"
        assert page.select_one("#f-value")["value"] == "4"
    for key in ("no_such_key", "DEFAULTS", "%00", "x" * 300):
        assert (await client.get(f"/admin/parameters/{key}")).status_code == 404
        response = await client.submit(
            f"/admin/parameters/{key}", {"value": "1", "reason": "测试原因"}
        )
        assert response.status_code == 404
    assert not await ParameterChange.exists()


async def test_parallel_changes_never_lose_a_version(client, world, root):
    await login(client, "/admin/login", ROOT)
    # Two operators on a page showing version 0: one wins, the other is told (409).
    results = await asyncio.gather(
        client.submit(
            "/admin/parameters/lead_sla_hours",
            {"value": "12", "reason": "加快处理", "version": "0"},
        ),
        client.submit(
            "/admin/parameters/lead_sla_hours",
            {"value": "48", "reason": "放宽时限", "version": "0"},
        ),
    )
    assert sorted(r.status_code for r in results) == [303, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert "刚被其他人修改过" in loser.text
    changes = await ParameterChange.select().where(ParameterChange.key == "lead_sla_hours")
    assert len(changes) == 1

    # Code changing one key many times at once: serialised on the row, each a version,
    # each change's old value the previous change's new one.
    values = [30, 31, 32, 33, 34]
    await asyncio.gather(*(change_parameter(root, "cooling_off_days", v) for v in values))
    chain = (
        await ParameterChange.select()
        .where(ParameterChange.key == "cooling_off_days")
        .order_by(ParameterChange.version)
    )
    assert [c["version"] for c in chain] == [1, 2, 3, 4, 5]
    assert json.loads(chain[0]["old_value"]) == DEFAULTS["cooling_off_days"]
    for before, after in zip(chain, chain[1:], strict=False):
        assert json.loads(after["old_value"]) == json.loads(before["new_value"])
    current = (await get_parameters("cooling_off_days"))["cooling_off_days"]
    assert current == json.loads(chain[-1]["new_value"])


async def test_the_table_is_seeded_with_the_defaults_and_keeps_changes(world, root, monkeypatch):
    assert not await SystemParameter.exists()
    await sync_defaults()
    rows = {r["key"]: r for r in await SystemParameter.select()}
    assert set(rows) == set(DEFAULTS)
    assert all(r["version"] == 0 for r in rows.values())
    assert json.loads(rows["collection_hours_end"]["value"]) == "21:00"

    await change_parameter(root, "collection_daily_cap", 4, reason="试行")
    # A new code default: a row nobody changed follows it, a changed one keeps its value.
    monkeypatch.setitem(parameter_services.DEFAULTS, "lead_sla_hours", 36)
    monkeypatch.setitem(parameter_services.DEFAULTS, "collection_daily_cap", 2)
    await sync_defaults()
    values = await get_parameters("lead_sla_hours", "collection_daily_cap")
    assert values == {"lead_sla_hours": 36, "collection_daily_cap": 4}
    assert await SystemParameter.count() == len(DEFAULTS)


async def test_change_parameter_checks_the_spec_for_callers_in_code(world, root):
    for key, bad in (
        ("collection_daily_cap", "x"),
        ("collection_daily_cap", 1.5),
        ("collection_daily_cap", True),
        ("licence_reminder_days", [0]),
        ("collection_hours_start", "21:00"),  # not before the end
    ):
        with pytest.raises(DomainError):
            await change_parameter(root, key, bad)
    assert await change_parameter(root, "licence_reminder_days", [60, 7]) == 1
    assert (await get_parameters("licence_reminder_days"))["licence_reminder_days"] == [60, 7]
    assert set(SPECS) == set(DEFAULTS)


async def test_the_demo_has_parameter_history_and_created_roles():
    from marketplace.accounts.role_matrix import matrix_view
    from marketplace.accounts.role_tables import CustomRole
    from marketplace.demo.seed import seed_demo
    from marketplace.parameters.queries import parameter_history

    await sync_defaults()  # `loanmart migrate` runs first: the demo's own values still win
    assert await seed_demo()
    assert await SystemParameter.count() == len(DEFAULTS)
    assert (await get_parameters("cooling_off_applications"))["cooling_off_applications"] == 12
    # A value that is not its default came through the verb: the page says who changed it.
    for row in await SystemParameter.select(
        SystemParameter.key, SystemParameter.value, SystemParameter.version
    ):
        assert json.loads(row["value"]) == DEFAULTS[row["key"]] or row["version"] > 0, row
    history = await ParameterChange.select().order_by(ParameterChange.at)
    assert len(history) >= 2 and all(change["reason"] for change in history)
    assert history[0]["at"] < history[-1]["at"]
    assert {r["code"] for r in await CustomRole.select(CustomRole.code)} >= {"data_analyst"}

    rows, total = await parameter_history()
    assert total == len(history) and rows[0].reason
    matrix = await matrix_view("operator")
    analyst = [c.code for c in matrix.roles].index("data_analyst")
    granted = {row.code for g in matrix.groups for row in g.rows if row.cells[analyst].granted}
    assert "settlement.view" in granted and "settlement.manage" not in granted
