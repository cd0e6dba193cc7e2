"""Published complaint statistics (§6.5) and the monitoring wiring (issue 11): the page's
figures equal hand-computed ones on a small fixed data set — the 90-day window's first
moment counted and the one before it not, the sample-too-small and no-application cases,
an even-count median, a reopened complaint still counted as resolved once — the refresh is
idempotent under parallel runs, and filed complaints reach the monitoring board and open a
complaint-rate case."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from marketplace.applications.tables import Application
from marketplace.complaints.stats import refresh_complaint_stats, window_ending
from marketplace.complaints.tables import Complaint, ComplaintStatsSnapshot
from marketplace.consents.tables import Consent
from marketplace.inbox.tables import InboxItem
from marketplace.monitoring import flags
from marketplace.monitoring.tables import MonitoringCase
from marketplace.parameters.tables import SystemParameter
from tests import factories
from tests.fixtures import login, soup

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE = window_ending(NOW, 90).since


@pytest.fixture(autouse=True)
def _now_for_each_test() -> None:
    """Each test's data is placed around the moment it runs: the monitoring board's window
    runs back from the real now, and a suite that crosses a Shanghai midnight between
    import and this test would otherwise count across two different days."""
    global NOW, SINCE  # noqa: PLW0603 - the data-set helpers read these module figures
    NOW = datetime.now(UTC).replace(microsecond=0)
    SINCE = window_ending(NOW, 90).since


RISK = "risk@loanmart.example"


async def _params(**values: object) -> None:
    for key, value in values.items():
        await SystemParameter.insert(
            SystemParameter(key=key, value=json.dumps(value), updated_by="test")
        ).on_conflict(
            target=SystemParameter.key, action="DO UPDATE", values=[SystemParameter.value]
        )


class Data:
    """Applications and complaints written directly with chosen times."""

    def __init__(self, world: factories.World) -> None:
        self.world = world
        self.consents: dict[int, int] = {}

    async def application(self, product_id: int, institution_id: int, at: datetime) -> int:
        if institution_id not in self.consents:
            rows = await Consent.insert(
                Consent(
                    borrower=self.world.borrower.user_id,
                    institution=institution_id,
                    notice_version="1",
                    notice_hash="0" * 64,
                    purpose="loan",
                    data_items=["name"],
                    retention="1y",
                )
            ).returning(Consent.id)
            self.consents[institution_id] = rows[0]["id"]
        rows = await Application.insert(
            Application(
                reference=f"LMT{secrets.token_hex(6).upper()}",
                borrower=self.world.borrower.user_id,
                product=product_id,
                product_version=1,
                institution=institution_id,
                consent=self.consents[institution_id],
                amount=Decimal("50000"),
                term_months=12,
                repayment_method="equal_installment",
                status="submitted",
                shared_data_encrypted="x",
                submission_key=secrets.token_hex(16),
                submitted_at=at,
            )
        ).returning(Application.id)
        return rows[0]["id"]

    async def complaint(
        self,
        institution_id: int | None,
        at: datetime,
        *,
        kind: str = "complaint",
        status: str = "open",
        hours: float | None = None,
        on_time: bool | None = None,
        rating: int | None = None,
        application_id: int | None = None,
    ) -> None:
        await Complaint.insert(
            Complaint(
                reference=f"TS{secrets.token_hex(8).upper()}",
                kind=kind,
                borrower=self.world.borrower.user_id,
                institution=institution_id,
                application=application_id,
                category="opaque_fees" if kind == "complaint" else "suggestion",
                description_encrypted="x",
                status=status,
                created_at=at,
                resolve_due_at=at + timedelta(hours=120),
                resolved_at=None if hours is None else at + timedelta(hours=hours),
                resolved_within_sla=on_time,
                rating=rating,
            )
        )


async def _fixed_data_set(world: factories.World) -> dict[str, int]:
    """测试银行: 4 applications in the window (the first at its first moment) and one just
    before; complaints filed at the first moment (10 h, on time, ★5), 5 days ago (30 h,
    late, ★2), 3 days ago (20 h, on time, reopened since), 10 days ago (50 h, late) and
    yesterday (open); one just before the window (★1) is not counted.
    → 5 complaints ÷ 4 applications × 10000 = 12500.00; on time 2 of 4 = 50.00%;
      median of 10, 20, 30, 50 h = 25.00 h; satisfaction (5 + 2) ÷ 2 = 3.50 from 2.
    别家银行: 2 applications (fewer than the minimum of 3), one complaint resolved in 7.5 h
    on time → 样本不足, 100.00%, 7.50 h, no rating.
    第三银行: nothing → 0 complaints, no rate.
    Not institution figures: a complaint against the platform, a feedback."""
    third = await factories.institution("third-bank", "第三银行")
    bank_product = await factories.listed_product(world.staff, world.operator)
    other_product = await factories.listed_product(world.other_staff, world.operator)
    data = Data(world)
    first = await data.application(bank_product, world.bank_id, SINCE)
    for days in (1, 1):
        await data.application(bank_product, world.bank_id, NOW - timedelta(days=days))
    await data.application(bank_product, world.bank_id, SINCE + timedelta(days=1))
    await data.application(bank_product, world.bank_id, SINCE - timedelta(seconds=1))
    for _ in range(2):
        await data.application(other_product, world.other_bank_id, NOW - timedelta(days=2))

    bank = world.bank_id
    await data.complaint(
        bank, SINCE, status="closed", hours=10, on_time=True, rating=5, application_id=first
    )
    await data.complaint(
        bank, NOW - timedelta(days=5), status="closed", hours=30, on_time=False, rating=2
    )
    await data.complaint(bank, NOW - timedelta(days=3), status="escalated", hours=20, on_time=True)
    await data.complaint(bank, NOW - timedelta(days=10), status="resolved", hours=50, on_time=False)
    await data.complaint(bank, NOW - timedelta(days=1))
    await data.complaint(
        bank, SINCE - timedelta(seconds=1), status="closed", hours=1, on_time=True, rating=1
    )
    await data.complaint(
        world.other_bank_id, NOW - timedelta(days=4), status="resolved", hours=7.5, on_time=True
    )
    await data.complaint(None, NOW - timedelta(days=1))
    await data.complaint(None, NOW - timedelta(days=1), kind="feedback")
    await _params(complaint_stats_min_applications=3)
    return {"third": third, "bank_product": bank_product}


def _complaint_cell(page, subject: str) -> str:
    row = page.select_one(f"tr[data-subject='{subject}']")
    assert row is not None, f"no row for {subject}"
    return " ".join(row.select_one("td[data-label='投诉率']").get_text(" ", strip=True).split())


def _figures(page, institution_id: int) -> dict[str, str]:
    row = page.select_one(f"tr[data-institution='{institution_id}']")
    assert row is not None, f"no row for institution {institution_id}"
    return {
        cell["data-figure"]: " ".join(cell.get_text(" ", strip=True).split())
        for cell in row.select("td[data-figure]")
    }


async def test_the_page_shows_the_hand_computed_figures(client, world):
    ids = await _fixed_data_set(world)
    await refresh_complaint_stats(NOW)

    response = await client.get("/complaints/stats")
    assert response.status_code == 200
    page = soup(response)
    assert _figures(page, world.bank_id) == {
        "complaints": "5",
        "per_10k": "12500.00 4 笔申请",
        "within_sla_share": "50.00% 2/4 件",
        "median_hours": "25.00 小时",
        "satisfaction": "3.50 / 5 2 人评价",
    }
    assert _figures(page, world.other_bank_id) == {
        "complaints": "1",
        "per_10k": "样本不足 2 笔申请",
        "within_sla_share": "100.00% 1/1 件",
        "median_hours": "7.50 小时",
        "satisfaction": "—",
    }
    assert _figures(page, ids["third"]) == {
        "complaints": "0",
        "per_10k": "— 0 笔申请",
        "within_sla_share": "—",
        "median_hours": "—",
        "satisfaction": "—",
    }
    window = window_ending(NOW, 90)
    stated = page.select_one("#stats-window").get_text(" ", strip=True)
    assert window.start.isoformat() in stated and window.end.isoformat() in stated
    assert "近 90 天" in stated and "统计时间" in stated
    # Only the institution with a published rate is charted; the data travel as the option.
    chart = json.loads(page.select_one("#complaint-rate-chart [data-chart]")["data-chart"])
    assert chart["yAxis"]["data"] == ["测试银行"]
    assert chart["series"][0]["data"] == [12500.0]
    method = page.select_one("#method").get_text()
    assert "少于" not in method and "不足 3 笔" in method


async def test_sorting_by_rate_puts_institutions_without_a_rate_last(client, world):
    ids = await _fixed_data_set(world)
    await _params(complaint_stats_min_applications=2)
    await refresh_complaint_stats(NOW)

    def order(page) -> list[int]:
        return [int(tr["data-institution"]) for tr in page.select("tbody tr[data-institution]")]

    high = order(soup(await client.get("/complaints/stats?sort=rate&dir=desc")))
    low = order(soup(await client.get("/complaints/stats?sort=rate&dir=asc")))
    # 测试银行 12500.00, 别家银行 1 ÷ 2 = 5000.00, 第三银行 none.
    assert high == [world.bank_id, world.other_bank_id, ids["third"]]
    assert low == [world.other_bank_id, world.bank_id, ids["third"]]
    # Hostile or unknown values fall back to the default order (by name), never an error.
    for query in ("sort=<script>&dir=desc", "sort=rate&dir=１", "sort=" + "x" * 5000, "dir[]=1"):
        response = await client.get(f"/complaints/stats?{query}")
        assert response.status_code == 200
        assert "<script>" not in response.text.split("<main", 1)[-1]


async def test_an_empty_page_before_the_first_refresh(client):
    response = await client.get("/complaints/stats")
    assert response.status_code == 200
    page = soup(response)
    assert page.select_one("#complaint-stats-table") is None
    assert "暂无统计数据" in page.get_text()
    assert page.select_one("footer a[href='/complaints/stats']") is not None


async def test_refreshing_is_idempotent_and_safe_in_parallel(world):
    await _fixed_data_set(world)
    await asyncio.gather(*(refresh_complaint_stats(NOW) for _ in range(4)))
    await refresh_complaint_stats(NOW)
    rows = await ComplaintStatsSnapshot.select().where(
        ComplaintStatsSnapshot.institution == world.bank_id
    )
    assert len(rows) == 1
    assert (rows[0]["complaints"], rows[0]["per_10k"]) == (5, Decimal("12500.00"))
    # A later day writes a new row and keeps the earlier one.
    await refresh_complaint_stats(NOW + timedelta(days=1))
    assert (
        await ComplaintStatsSnapshot.count().where(
            ComplaintStatsSnapshot.institution == world.bank_id
        )
        == 2
    )


async def test_the_window_follows_the_parameter(world):
    await _fixed_data_set(world)
    await _params(complaint_stats_window_days=7)
    window = await refresh_complaint_stats(NOW)
    assert window.days == 7
    row = (
        await ComplaintStatsSnapshot.select()
        .where(ComplaintStatsSnapshot.institution == world.bank_id)
        .first()
    )
    # Within 7 days: complaints 5, 3 and 1 days ago; applications 1 day ago ×2.
    assert (row["complaints"], row["applications"], row["per_10k"]) == (3, 2, None)


async def test_complaints_reach_the_monitoring_board_and_open_a_case(client, staff_client, world):
    ids = await _fixed_data_set(world)
    await factories.user("operator", RISK, "risk_officer", None, "风控小周")
    await login(client, "/admin/login", RISK)
    page = soup(await client.get("/admin/monitoring?level=institution&window=90"))
    # Monitoring's 90 days run back from now, so the application and the complaint a second
    # before the published window's first (Shanghai) midnight are in: 6 of 5 applications.
    assert _complaint_cell(page, f"institution:{world.bank_id}") == "120.00% 6 件投诉"
    # 别家银行 1 of 2; 第三银行 no applications: no rate, its count still shown.
    assert _complaint_cell(page, f"institution:{world.other_bank_id}") == "50.00% 1 件投诉"
    assert _complaint_cell(page, f"institution:{ids['third']}") == "— 0 件投诉"
    assert "未接入投诉数据" not in page.get_text()
    # By product: only the complaint that names an application of the product.
    page = soup(await client.get("/admin/monitoring?level=product&window=90"))
    assert _complaint_cell(page, f"product:{ids['bank_product']}") == "20.00% 1 件投诉"

    # Sorted by complaint rate, highest first; subjects without a rate come last.
    page = soup(
        await client.get("/admin/monitoring?level=institution&window=90&sort=complaint_rate")
    )
    order = [row["data-subject"] for row in page.select("tr[data-subject]")]
    assert order[:2] == [f"institution:{world.bank_id}", f"institution:{world.other_bank_id}"]
    assert order.index(f"institution:{ids['third']}") > 1
    # The export carries the count and the rate.
    response = await client.get("/admin/monitoring/export/csv?level=institution&window=90")
    header, *rows = csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
    count, rate = header.index("投诉数"), header.index("投诉率")
    [bank] = [row for row in rows if row[0] == "测试银行"]
    assert (bank[count], bank[rate]) == ("6", "120.00%")

    await _params(monitoring_complaint_min_applications=3, monitoring_complaint_rate_max="0.5")
    await flags.evaluate()
    cases = await MonitoringCase.select(MonitoringCase.institution).where(
        (MonitoringCase.rule == "complaint_rate")
        & (MonitoringCase.subject_key.like("institution:%"))
    )
    # 测试银行: 6 of 5 applications > 0.5; 别家银行: 1 of 2 is not above 0.5.
    assert [case["institution"] for case in cases] == [world.bank_id]

    # The case says what raised it, to the operator and to the institution, which is told.
    case_id = (
        await MonitoringCase.select(MonitoringCase.id)
        .where(MonitoringCase.rule == "complaint_rate")
        .first()
    )["id"]
    summary = "近90天：5笔申请收到6件投诉，投诉率120.00%，超过阈值50.00%"
    assert summary in (await client.get(f"/admin/monitoring/cases/{case_id}")).text
    assert await InboxItem.exists().where(
        (InboxItem.recipient == world.staff.user_id) & (InboxItem.kind == "monitoring.case")
    )
    await login(staff_client, "/console/login", "staff@test-bank.example")
    listing = soup(await staff_client.get("/console/cases"))
    assert listing.select_one(f"tr[data-case='{case_id}']") is not None
    page = await staff_client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200 and summary in page.text
    client.cookies.clear()
    await login(client, "/console/login", "staff@other-bank.example")
    assert (await client.get(f"/console/cases/{case_id}")).status_code == 404
