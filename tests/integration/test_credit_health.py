"""信用健康 at /me/credit: the score with its factors, weights and tips from the borrower's
real records, its daily history written by the snapshot job (ids only in the payloads),
drawn as a chart over a table that works without JavaScript; never a 征信 report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from marketplace import jobs
from marketplace.consents.tables import DataExport
from marketplace.credit.jobs import daily_snapshots
from marketplace.credit.services import take_snapshot
from marketplace.credit.tables import CreditRun, CreditSnapshot
from marketplace.erasure.services import process_due_deletions, request_deletion
from marketplace.erasure.tables import DeletionRequest
from marketplace.loancalc import today_shanghai
from marketplace.loans.jobs import daily_overdue
from marketplace.outbox.tables import OutboxMessage
from marketplace.parameters.services import change_parameter
from tests import factories
from tests.fixtures import login, soup
from tests.loan_factories import disbursed_loan

PAGE = "/me/credit"


def _factors(page) -> dict[str, str]:
    return {
        card["data-factor"]: card.get_text(" ", strip=True)
        for card in page.select(".credit-factor")
    }


async def test_a_new_borrower_sees_the_score_its_factors_and_that_it_is_no_credit_report(
    client, world
):
    await login(client, "/login", world.borrower_mobile)
    me = soup(await client.get("/me"))
    assert me.select_one(f"a[href='{PAGE}']") is not None

    response = await client.get(PAGE)
    assert response.status_code == 200
    page = soup(response)
    assert "这不是征信报告" in page.select_one("#not-credit-report").text
    # No applications (velocity 100), no repayment record (60), no stated income (50),
    # no overdue (100), weighted 20/35/25/20: 73.5, rounded half up.
    assert page.select_one("#credit-score").text == "74"
    factors = _factors(page)
    assert list(factors) == ["velocity", "repayment", "dti", "overdue"]
    assert "权重 20%" in factors["velocity"] and "权重 35%" in factors["repayment"]
    assert "尚未填写月收入" in factors["dti"]
    assert "建议" in factors["repayment"]
    assert page.select_one("[data-chart]") is None, "no history yet, so no chart"
    assert "还没有历史记录" in page.text


async def test_an_overdue_loan_lowers_the_score_and_the_tips_say_what_to_do(client, world):
    await disbursed_loan(world, today_shanghai() - timedelta(days=75), "3000", 3)
    await daily_overdue()
    await login(client, "/login", world.borrower_mobile)
    page = soup(await client.get(PAGE))
    factors = _factors(page)
    assert "目前有借款逾期" in factors["overdue"]
    assert "得分 10/100" in factors["overdue"]  # 31–90 days past due
    assert "按时还清" in factors["repayment"]
    assert "尽快还清逾期款项" in factors["overdue"]
    assert int(page.select_one("#credit-score").text) < 74


async def test_the_daily_job_writes_one_snapshot_per_borrower_with_ids_only(client, world):
    queued = await daily_snapshots()
    assert queued == 1, "the one borrower; staff and operators have no credit health"
    messages = (
        await OutboxMessage.select(OutboxMessage.payload)
        .where(OutboxMessage.job == "credit.snapshot")
        .output(load_json=True)
    )
    assert [set(m["payload"]) for m in messages] == [{"borrower_id", "taken_on"}]
    await jobs.run_until_idle()
    assert await daily_snapshots() == 0, "once per business date"
    await jobs.run_until_idle()
    snapshots = await CreditSnapshot.select().output(load_json=True)
    assert len(snapshots) == 1
    assert snapshots[0]["taken_on"] == today_shanghai()
    assert snapshots[0]["score"] == 74
    assert set(snapshots[0]["factors"]) == {"velocity", "repayment", "dti", "overdue"}
    assert await CreditRun.count() == 1
    # Rewriting a date is harmless: still one row for it.
    await take_snapshot(world.borrower.user_id, today_shanghai())
    assert await CreditSnapshot.count() == 1


async def test_history_shows_as_a_chart_with_a_table_fallback(client, world):
    today = today_shanghai()
    for days_ago in (2, 1, 0):
        await take_snapshot(world.borrower.user_id, today - timedelta(days=days_ago))
    await login(client, "/login", world.borrower_mobile)
    page = soup(await client.get(PAGE))
    chart = page.select_one("#credit-history [data-chart]")
    option = json.loads(chart["data-chart"])
    assert option["series"][0]["data"] == [74, 74, 74]
    assert option["xAxis"]["data"][-1] == today.isoformat()
    rows = page.select("#credit-history details.chart-data tbody tr")
    assert [row.th.text for row in rows] == [
        (today - timedelta(days=n)).isoformat() for n in (0, 1, 2)
    ]
    assert page.select_one("script[src^='/static/vendor/echarts.min.js']") is not None


async def test_weights_come_from_the_system_parameters(client, world):
    admin = await factories.user("operator", "root@loanmart.example", "super_admin", None, "管理员")
    await change_parameter(admin, "credit_weight_repayment", 0)
    await login(client, "/login", world.borrower_mobile)
    page = soup(await client.get(PAGE))
    factors = _factors(page)
    assert "权重 0%" in factors["repayment"]
    assert "权重 31%" in factors["velocity"]  # 20 of 65
    # 20*100 + 25*50 + 20*100 over 65.
    assert page.select_one("#credit-score").text == "81"


async def test_only_the_borrower_sees_their_credit_health(client, world):
    response = await client.get(PAGE)
    assert response.status_code in (302, 303)
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.get(PAGE)
    assert response.status_code in (302, 303, 403, 404)


async def test_account_deletion_takes_the_history_and_stops_the_snapshots(client, world):
    await take_snapshot(world.borrower.user_id, today_shanghai() - timedelta(days=1))
    await request_deletion(world.borrower)
    await DeletionRequest.update(
        {DeletionRequest.due_at: datetime.now(UTC) - timedelta(minutes=1)}
    ).where(DeletionRequest.status == "pending")
    assert await process_due_deletions() == 1
    assert await CreditSnapshot.count() == 0
    assert await daily_snapshots() == 0, "a deleted account is no longer snapshotted"
    assert await take_snapshot(world.borrower.user_id, today_shanghai()) is None


async def test_the_data_export_carries_the_history_and_the_sms_choices(client, world):
    await take_snapshot(world.borrower.user_id, today_shanghai())
    await login(client, "/login", world.borrower_mobile)
    await client.submit("/me/notifications/settings", {"sms": ["marketing"]})
    await client.submit("/me/data/export")
    await jobs.run_until_idle()
    export = await DataExport.objects().first()
    href = soup(await client.submit(f"/me/data/exports/{export.id}/link")).select_one(
        "a[href*='format=json']"
    )["href"]
    data = (await client.get(href)).json()
    assert data["credit_health"] == [
        {
            "taken_on": today_shanghai().isoformat(),
            "score": 74,
            "factors": {"velocity": 100, "repayment": 60, "dti": 50, "overdue": 100},
        }
    ]
    assert data["sms_preferences"] == {
        "decisions": False,
        "progress": False,
        "reminders": False,
        "marketing": True,
    }
