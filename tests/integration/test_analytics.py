"""Analytics (issue 13, A12 + I8): every figure of the dashboard and the reports equals a
hand-computed one on a small fixed data set (previous period, Asia/Shanghai day boundary,
week and month buckets, small customer bands hidden), an incremental refresh equals a
full rebuild, behaviour events are pseudonymous, a Redis outage never breaks a page,
reports are tenant-scoped, exports are audited, hostile parameters are clear errors."""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from marketplace import cache
from marketplace.accounts.tables import BorrowerProfile
from marketplace.agreements.tables import Agreement
from marketplace.analytics import jobs, recorder
from marketplace.analytics.formatting import headline, number
from marketplace.analytics.period import Period, parse_period
from marketplace.analytics.queries import dashboard, report
from marketplace.analytics.tables import BehaviourEvent, FunnelDaily
from marketplace.applications.reporting import Channel, channel_of, income_band
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.audit.tables import AuditEntry
from marketplace.complaints.tables import Complaint
from marketplace.consents.tables import Consent
from marketplace.errors import PermissionDenied
from marketplace.loans.tables import Loan
from marketplace.parameters.tables import SystemParameter
from marketplace.security import encrypt_field
from marketplace.settlement.tables import BillingEvent
from server import behaviour
from tests import factories
from tests.fixtures import apply_form_secrets, login, soup

CURRENT = Period(date(2026, 11, 10), date(2026, 11, 16))
SUPER = "super@loanmart.example"


def at(text: str) -> datetime:
    """A UTC moment: "2026-11-09T16:30" (Shanghai is UTC+8)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _profile(user_id: int, *, birth: date, employment: str, income: str) -> None:
    await BorrowerProfile.insert(
        BorrowerProfile(
            user=user_id,
            real_name_encrypted=encrypt_field("张三", context="borrower_profile.real_name"),
            real_name_masked="张*",
            id_number_encrypted=encrypt_field("x", context="borrower_profile.id_number"),
            id_number_masked="1101**********1234",
            id_number_index=secrets.token_hex(16),
            birth_date=birth,
            city="杭州市",
            monthly_income_encrypted=encrypt_field(
                income, context="borrower_profile.monthly_income"
            ),
            employment_type=employment,
        )
    )


class Data:
    """The fixed data set, written directly with chosen moments."""

    def __init__(self, world) -> None:
        self.world = world
        self.consents: dict[tuple[int, int], int] = {}

    async def consent(self, borrower: int, institution: int) -> int:
        key = (borrower, institution)
        if key not in self.consents:
            rows = await Consent.insert(
                Consent(
                    borrower=borrower,
                    institution=institution,
                    notice_version="1",
                    notice_hash="0" * 64,
                    purpose="loan",
                    data_items=["name"],
                    retention="1y",
                )
            ).returning(Consent.id)
            self.consents[key] = rows[0]["id"]
        return self.consents[key]

    async def application(
        self,
        product: int,
        institution: int,
        submitted: str,
        *,
        borrower: int | None = None,
        city: str = "杭州市",
        delivered: str | None = None,
        events: tuple[tuple[str, str], ...] = (),
        status: str = "submitted",
        channel: str = "web",
        income_band: str = "unknown",
    ) -> int:
        borrower = borrower or self.world.borrower.user_id
        rows = await Application.insert(
            Application(
                reference=f"LMT{secrets.token_hex(6).upper()}",
                borrower=borrower,
                product=product,
                product_version=1,
                institution=institution,
                consent=await self.consent(borrower, institution),
                amount=Decimal("50000"),
                term_months=12,
                repayment_method="equal_installment",
                status=status,
                shared_data_encrypted="x",
                submission_key=secrets.token_hex(16),
                submitted_at=at(submitted),
                delivered_at=at(delivered) if delivered else None,
                city=city,
                channel=channel,
                income_band=income_band,
            )
        ).returning(Application.id)
        application_id = rows[0]["id"]
        for event_status, moment in events:
            await ApplicationEvent.insert(
                ApplicationEvent(
                    application=application_id,
                    status=event_status,
                    actor_kind="staff",
                    at=at(moment),
                )
            )
        return application_id

    async def loan(
        self,
        application_id: int,
        product: int,
        institution: int,
        on: date,
        principal: str,
        status: str,
        outstanding: str,
    ) -> None:
        await Loan.insert(
            Loan(
                application=application_id,
                institution=institution,
                borrower=self.world.borrower.user_id,
                product=product,
                principal=Decimal(principal),
                rate=Decimal("0.07"),
                rate_period="year",
                term_months=12,
                repayment_method="equal_installment",
                disbursed_on=on,
                receiving_account_masked="6222 **** 6789",
                status=status,
                principal_outstanding=Decimal(outstanding),
            )
        )

    async def bill(self, application_id: int, institution: int, amount: str, moment: str) -> None:
        agreement = (
            await Agreement.select(Agreement.id).where(Agreement.institution == institution).first()
        )
        await BillingEvent.insert(
            BillingEvent(
                institution=institution,
                application=application_id,
                kind="cpl",
                agreement=agreement["id"],
                agreement_version=1,
                amount=Decimal(amount),
                occurred_at=at(moment),
                period=date(2026, 11, 1),
            )
        )


async def event(
    kind: str, moment: str, *, visitor: str = "v", product=None, query="", filters=None, result=None
) -> None:
    await BehaviourEvent.insert(
        BehaviourEvent(
            kind=kind,
            visitor=visitor,
            at=at(moment),
            product=product,
            query=query,
            filters=filters or {},
            result_count=result,
        )
    )


async def fixed(world) -> dict:
    """Bank (product P, 杭州市), other bank (product Q, 北京市).

    A1 submitted 11-09 16:30 UTC = 11-10 00:30 Shanghai (the day boundary), delivered
       11-10 02:00, approved 12:00 (10 h), signed 11-11; loan 11-12 ¥50,000, overdue.
    A2 submitted 11-10 15:59 UTC (11-10 23:59 Shanghai), delivered 15:59:30, rejected
       11-11 01:59:30 (10 h).
    A3 submitted 11-10 16:00 UTC = 11-11 00:00 Shanghai, not delivered.
    A4 (previous period) submitted 11-05, delivered, approved (2 h), signed; loan 11-06
       ¥30,000 repaying.
    A5 (other bank) submitted 11-12, delivered, approved 4 h later.
    Billing: ¥30 on A1 (11-10), ¥30 on A4 (11-05), ¥20 on A5 (11-12).
    Behaviour on 11-10 to 11-12: see the events below."""
    data = Data(world)
    p = await factories.listed_product(world.staff, world.operator)
    q = await factories.listed_product(world.other_staff, world.operator)
    bank, other = world.bank_id, world.other_bank_id
    a1 = await data.application(
        p,
        bank,
        "2026-11-09T16:30",
        delivered="2026-11-10T02:00",
        events=(("approved", "2026-11-10T12:00"), ("accepted", "2026-11-11T03:00")),
        status="accepted",
    )
    await data.loan(a1, p, bank, date(2026, 11, 12), "50000", "overdue", "40000")
    await data.application(
        p,
        bank,
        "2026-11-10T15:59",
        delivered="2026-11-10T15:59:30",
        events=(("rejected", "2026-11-11T01:59:30"),),
        status="rejected",
    )
    await data.application(p, bank, "2026-11-10T16:00")
    a4 = await data.application(
        p,
        bank,
        "2026-11-05T02:00",
        delivered="2026-11-05T03:00",
        events=(("approved", "2026-11-05T05:00"), ("accepted", "2026-11-05T06:00")),
        status="accepted",
    )
    await data.loan(a4, p, bank, date(2026, 11, 6), "30000", "repaying", "30000")
    a5 = await data.application(
        q,
        other,
        "2026-11-12T02:00",
        city="北京市",
        delivered="2026-11-12T02:00",
        events=(("approved", "2026-11-12T06:00"),),
        status="approved",
    )
    await data.bill(a1, bank, "30", "2026-11-10T02:00")
    await data.bill(a4, bank, "30", "2026-11-05T03:00")
    await data.bill(a5, other, "20", "2026-11-12T02:00")
    # Behaviour: v1 used the calculator on P and opened its apply form (converted), v2
    # used the standalone calculator only; three views; searches.
    await event("calculator_use", "2026-11-10T01:00", visitor="v1", product=p)
    await event("apply_form_opened", "2026-11-10T01:05", visitor="v1", product=p)
    await event("calculator_use", "2026-11-10T02:00", visitor="v2")
    for _ in range(3):
        await event("product_view", "2026-11-11T02:00", visitor="v3", product=p)
    await event("search", "2026-11-12T02:00", query="消费贷", result=5)
    await event("search", "2026-11-12T02:01", query=" 消费贷 ", result=5)
    await event("search", "2026-11-12T02:02", query="学生贷", result=0)
    await event("filter_use", "2026-11-12T02:03", filters={"city": "杭州市", "amount": "5"})
    return {"p": p, "q": q, "a1": a1, "a4": a4, "a5": a5, "data": data}


async def _super():
    return await factories.user("operator", SUPER, "super_admin", None, "超管老陈")


def _kpis(board) -> dict:
    return {k.key: (k.current, k.previous) for k in board.kpis}


def _table(figure) -> list[list]:
    return figure.table.rows


async def test_dashboard_figures_match_the_hand_computed_ones(world):
    fixture = await fixed(world)
    await jobs.refresh_rollups()
    boss = await _super()
    board = await dashboard(boss, CURRENT)
    kpis = _kpis(board)
    # A1 counts on 11-10 (Shanghai), not in the previous period ending 11-09.
    assert kpis["applications"] == (4, 1)
    assert kpis["delivered"] == (3, 1)
    assert kpis["approved"] == (2, 1)
    assert kpis["signed"] == (1, 1)
    assert kpis["disbursed_amount"] == (Decimal("50000"), Decimal("30000"))
    assert kpis["overdue_rate"] == (Decimal(1), Decimal(0))
    assert kpis["revenue"] == (Decimal("50"), Decimal("30"))
    applications = next(k for k in board.kpis if k.key == "applications")
    assert applications.change == Decimal(3)  # +300%
    funnel = {row[0]: row[1] for row in _table(board.figure("funnel"))}
    assert list(funnel.values()) == [3, 1, 4, 3, 2, 1, 1]
    behaviour = {row[0]: row[1] for row in _table(board.figure("behaviour"))}
    assert behaviour["使用计算器的访客"] == "2"
    assert behaviour["其中当天打开申请表"] == "1"
    assert behaviour["计算器→申请转化率"] == "50.00%"
    assert behaviour["无结果搜索占比"] == "33.33%"
    assert _table(board.figure("queries")) == [["消费贷", 2, 0], ["学生贷", 1, 1]]
    assert _table(board.figure("zero_queries")) == [["学生贷", 1, 1]]
    assert sorted(_table(board.figure("filters"))) == [["城市", 1], ["金额", 1]]
    institutions = {row[0]: row for row in _table(board.institutions)}
    bank = institutions["测试银行"]
    # applications, approved, approval rate 1 of 2 decided, mean hours (10 + 10) / 2,
    # disbursed, overdue rate 1 of 1, no complaints.
    assert bank[1:] == [3, 1, Decimal("0.5"), Decimal(10), Decimal("50000.00"), Decimal(1), 0]
    other = institutions["别家银行"]
    assert other[1:5] == [1, 1, Decimal(1), Decimal(4)]
    assert board.institutions.table.links[0].startswith("/admin/monitoring?level=institution")
    assert fixture  # used


async def test_day_week_and_month_buckets(world):
    await fixed(world)
    await jobs.refresh_rollups()
    boss = await _super()
    days = await dashboard(boss, Period(date(2026, 11, 9), date(2026, 11, 11), "day"))
    trend = {row[0]: row[1] for row in _table(days.figure("trend"))}
    assert trend == {"2026-11-09": 0, "2026-11-10": 2, "2026-11-11": 1}
    weeks = await dashboard(boss, Period(date(2026, 11, 3), date(2026, 11, 16), "week"))
    assert [row[1] for row in _table(weeks.figure("trend"))] == [1, 4, 0]
    months = await dashboard(boss, Period(date(2026, 10, 20), date(2026, 11, 30), "month"))
    assert [(row[0], row[1]) for row in _table(months.figure("trend"))] == [
        ("2026-10", 0),
        ("2026-11", 5),
    ]


async def test_incremental_refresh_equals_a_full_rebuild(world):
    fixture = await fixed(world)
    await jobs.refresh_rollups()
    # Later facts: a new application on 11-14, a decision on it, and events.
    data = fixture["data"]
    await data.application(
        fixture["p"],
        world.bank_id,
        "2026-11-14T02:00",
        delivered="2026-11-14T03:00",
        events=(("rejected", "2026-11-14T04:00"),),
        status="rejected",
    )
    await event("search", "2026-11-14T02:00", query="经营贷", result=0)
    written = await jobs.refresh_rollups(date(2026, 11, 13))
    assert written > 0

    async def snapshot() -> dict:
        out = {}
        for table in jobs._ROLLUPS:
            rows = await FunnelDaily.raw(f"SELECT * FROM {table}")  # noqa: S608
            out[table] = sorted(
                tuple(sorted((k, str(v)) for k, v in row.items() if k != "id")) for row in rows
            )
        return out

    incremental = await snapshot()
    await jobs.refresh_rollups(None)
    assert await snapshot() == incremental


_COARSE = {
    "analytics_funnel_institution_daily": (
        "analytics_funnel_daily",
        "submitted, delivered, approved, rejected, signed, disbursed, disbursed_amount,"
        " decision_hours_sum, decision_count",
    ),
    "analytics_loan_institution_daily": (
        "analytics_loan_daily",
        "loans, in_force, overdue, outstanding, overdue_balance",
    ),
}


async def _coarse_and_summed_fine() -> list[tuple[list, list]]:
    out = []
    for coarse, (fine, columns) in _COARSE.items():
        sums = ", ".join(f"sum({c}) AS {c.strip()}" for c in columns.split(","))
        mine = await FunnelDaily.raw(
            f"SELECT day, institution, {columns} FROM {coarse} ORDER BY 1, 2"  # noqa: S608
        )
        summed = await FunnelDaily.raw(
            f"SELECT day, institution, {sums} FROM {fine} GROUP BY 1, 2 ORDER BY 1, 2"  # noqa: S608
        )
        out.append(([dict(r) for r in mine], [dict(r) for r in summed]))
    return out


async def test_coarse_rollups_equal_the_sum_of_the_fine_ones(world):
    """The pages' totals read the day × institution rollups; the breakdowns the
    per-dimension rollup folded from the fine product × city ones. All must tell the same story, after a full and an incremental
    refresh, with several products and cities on one day of one institution."""
    fixture = await fixed(world)
    data, p = fixture["data"], fixture["p"]
    second = await factories.listed_product(world.staff, world.operator)
    for product, city in ((p, "上海市"), (second, "杭州市"), (second, "")):
        a = await data.application(
            product,
            world.bank_id,
            "2026-11-10T03:00",
            city=city,
            delivered="2026-11-10T04:00",
            events=(("approved", "2026-11-10T05:30"), ("accepted", "2026-11-10T06:00")),
            status="accepted",
        )
        await data.loan(a, product, world.bank_id, date(2026, 11, 10), "1234.56", "overdue", "99")
    await jobs.refresh_rollups()
    pairs = await _coarse_and_summed_fine()
    funnel_coarse, funnel_fine = pairs[0]
    # Several fine rows fold into one coarse row for the bank on 11-10.
    fine_rows = await FunnelDaily.raw(
        "SELECT count(*) AS n FROM analytics_funnel_daily WHERE day = {} AND institution = {}",
        date(2026, 11, 10),
        world.bank_id,
    )
    assert fine_rows[0]["n"] >= 3
    bank_day = [
        r
        for r in funnel_coarse
        if r["day"] == date(2026, 11, 10) and r["institution"] == world.bank_id
    ]
    assert len(bank_day) == 1
    assert bank_day[0]["submitted"] == 5  # A1, A2 and the three above
    assert bank_day[0]["disbursed_amount"] == Decimal("3703.68")
    for coarse, fine in pairs:
        assert coarse == fine
        assert coarse  # not trivially equal
    # Incremental: a later application moves both the same way; nothing stale remains.
    await data.application(second, world.bank_id, "2026-11-14T02:00", city="上海市")
    await jobs.refresh_rollups(date(2026, 11, 13))
    for coarse, fine in await _coarse_and_summed_fine():
        assert coarse == fine
    # Each breakdown dimension, folded back to day × institution, is the coarse rollup.
    columns = _COARSE["analytics_funnel_institution_daily"][1]
    sums = ", ".join(f"sum({c}) AS {c.strip()}" for c in columns.split(","))
    coarse = await FunnelDaily.raw(
        f"SELECT day, institution, {columns} FROM analytics_funnel_institution_daily"  # noqa: S608
        " ORDER BY 1, 2"
    )
    for dimension in ("product", "city", "channel"):
        folded = await FunnelDaily.raw(
            f"SELECT day, institution, {sums} FROM analytics_breakdown_daily"  # noqa: S608
            " WHERE dimension = {} GROUP BY 1, 2 ORDER BY 1, 2",
            dimension,
        )
        assert folded == coarse
    # And the report's tiles (coarse) equal its product breakdown (fine) summed.
    mine = await report(world.staff, CURRENT)
    leads = next(k for k in mine.kpis if k.key == "leads").current
    assert leads == sum(row[1] for row in mine.figure("products").table.rows)
    assert leads == sum(row[1] for row in mine.figure("cities").table.rows)


async def _borrower(mobile: str, name: str, birth: date, employment: str) -> int:
    user = await factories.user("borrower", mobile, "borrower", None, name)
    await _profile(user.user_id, birth=birth, employment=employment, income="1")
    return user.user_id


async def test_customer_bands_use_consented_data_and_hide_small_groups(world):
    """Borrower A (36, employee, 1–2 万) applies on two days, D (38, employee, 1–2 万)
    once, B (66, freelancer, < 5000) once, C (36) withdrew the consent. Threshold 2."""
    await SystemParameter.insert(SystemParameter(key="analytics_min_band_size", value=2))
    data = Data(world)
    p = await factories.listed_product(world.staff, world.operator)
    a = world.borrower.user_id
    # The profile's income is not what bands use: the application's band at submission is.
    await _profile(a, birth=date(1990, 1, 1), employment="employee", income="3000")
    b = await _borrower("13500000901", "李四", date(1960, 1, 1), "freelancer")
    c = await _borrower("13500000902", "王五", date(1990, 6, 1), "employee")
    d = await _borrower("13500000903", "赵六", date(1988, 1, 1), "employee")
    for day in ("2026-11-10T02:00", "2026-11-11T02:00"):
        await data.application(p, world.bank_id, day, status="approved", income_band="10k_20k")
    await data.application(p, world.bank_id, "2026-11-12T03:00", borrower=d, income_band="10k_20k")
    await data.application(p, world.bank_id, "2026-11-10T03:00", borrower=b, income_band="lt_5k")
    withdrawn = await data.application(
        p, world.bank_id, "2026-11-10T03:00", borrower=c, income_band="10k_20k"
    )
    consent = (
        await Application.select(Application.consent).where(Application.id == withdrawn).first()
    )["consent"]
    await Consent.update({Consent.withdrawn_at: datetime.now(UTC)}).where(Consent.id == consent)
    await jobs.refresh_rollups()
    result = await report(world.staff, CURRENT)
    age = result.figure("band_age").table
    # A counts once (two days), D once; the withdrawn C (also 36) not at all.
    assert [row[:3] for row in age.rows] == [["35–44 岁", 2, 3]]
    assert "1 个分段" in age.note  # 55+ (B alone) hidden
    employment = result.figure("band_employment").table
    assert [row[:3] for row in employment.rows] == [["企业员工", 2, 3]]
    income = result.figure("band_income").table
    assert [row[:4] for row in income.rows] == [["1 万–2 万元", 2, 3, 2]]
    tier = result.figure("band_city_tier").table
    assert tier.rows == [["新一线城市", 3, 4, 2, Decimal("0.5"), 0]]
    # Nothing personal in any band row: labels and counts only.
    assert "13500000901" not in json.dumps([age.rows, income.rows], default=str)


async def test_a_band_counts_distinct_borrowers_over_the_period(world):
    """One borrower applying on five days is one person: under a threshold of 3 with one
    other borrower, every band is hidden (summing per day would have shown 5 and 6)."""
    await SystemParameter.insert(SystemParameter(key="analytics_min_band_size", value=3))
    data = Data(world)
    p = await factories.listed_product(world.staff, world.operator)
    await _profile(
        world.borrower.user_id, birth=date(1990, 1, 1), employment="employee", income="1"
    )
    other = await _borrower("13500000904", "钱七", date(1991, 1, 1), "employee")
    for day in range(10, 15):
        await data.application(p, world.bank_id, f"2026-11-{day}T02:00", income_band="5k_10k")
    await data.application(
        p, world.bank_id, "2026-11-10T05:00", borrower=other, income_band="5k_10k"
    )
    await jobs.refresh_rollups()
    result = await report(world.staff, CURRENT)
    for dimension in ("age", "city_tier", "income", "employment"):
        table = result.figure(f"band_{dimension}").table
        assert table.rows == [], dimension
        assert "已隐藏" in table.note
    # The same borrower in two small bands (applied from two cities) is one person when
    # the small bands are pooled into "其他": 1 + 2 summed is 3, but only 2 people.
    await data.application(p, world.bank_id, "2026-11-15T02:00", city="北京市")
    await jobs.refresh_rollups()
    tier = (await report(world.staff, CURRENT)).figure("band_city_tier").table
    assert tier.rows == []
    assert "2 个分段" in tier.note
    # A third person makes the pooled group three people: shown, merged.
    third = await _borrower("13500000905", "孙八", date(1970, 1, 1), "employee")
    await data.application(p, world.bank_id, "2026-11-16T02:00", borrower=third, city="北京市")
    await jobs.refresh_rollups()
    result = await report(world.staff, CURRENT)
    tier = result.figure("band_city_tier").table
    # 新一线 {A, other} and 一线 {A, third}: each 2, pooled 3 distinct people.
    assert [row[:3] for row in tier.rows] == [["其他（2 个人数不足的分段合并）", 3, 8]]
    # Per band, over the period (A's five days, the other's one): 5k–10k is 2 people.
    income = result.figure("band_income").table
    assert income.rows[0][:3] == ["其他（2 个人数不足的分段合并）", 3, 8]


async def test_band_counts_hold_for_any_period_after_an_incremental_refresh(world):
    """A borrower counted once per band whichever days of theirs a period holds: before it
    (11-05), inside it (11-12, 11-14) — and an incremental refresh writes the same band
    rows (with their previous days) as a full rebuild."""
    await SystemParameter.insert(SystemParameter(key="analytics_min_band_size", value=1))
    data = Data(world)
    p = await factories.listed_product(world.staff, world.operator)
    await _profile(
        world.borrower.user_id, birth=date(1990, 1, 1), employment="employee", income="1"
    )
    other = await _borrower("13500000906", "周九", date(1991, 1, 1), "employee")
    for day in ("2026-11-05T02:00", "2026-11-12T02:00"):
        await data.application(p, world.bank_id, day, income_band="5k_10k")
    await jobs.refresh_rollups()
    await data.application(p, world.bank_id, "2026-11-14T02:00", income_band="5k_10k")
    await data.application(p, world.bank_id, "2026-11-14T03:00", borrower=other)
    await jobs.refresh_rollups(date(2026, 11, 13))

    async def band_rows() -> list:
        rows = await FunnelDaily.raw("SELECT * FROM analytics_band_member ORDER BY day, borrower")
        return [{k: v for k, v in row.items() if k != "id"} for row in rows]

    incremental = await band_rows()
    await jobs.refresh_rollups()
    assert await band_rows() == incremental
    for period, income_rows in (
        (CURRENT, [["5000–1 万元", 1, 2], ["未知", 1, 1]]),
        (Period(date(2026, 11, 1), date(2026, 11, 16)), [["5000–1 万元", 1, 3], ["未知", 1, 1]]),
        (Period(date(2026, 11, 13), date(2026, 11, 14)), [["5000–1 万元", 1, 1], ["未知", 1, 1]]),
    ):
        result = await report(world.staff, period)
        assert [row[:3] for row in result.figure("band_income").table.rows] == income_rows
        assert [row[:3] for row in result.figure("band_employment").table.rows] == [
            ["企业员工", 2, income_rows[0][2] + 1]
        ]


async def test_every_period_counts_newcomers_and_returning_borrowers_once(world):
    """Three borrowers moving between cities (so between city tiers) over 16 days: for
    every period inside those days, each tier's borrowers are the distinct people who
    applied in it then (hand-computed here from the applications; periods ending before
    the last day leave returns after them), whether the refresh that wrote their rows was
    incremental or full — and the band rollups an incremental refresh writes (by day, and
    by previous day through deltas) are the ones a full rebuild writes."""
    await SystemParameter.insert(SystemParameter(key="analytics_min_band_size", value=1))
    data = Data(world)
    p = await factories.listed_product(world.staff, world.operator)
    a = world.borrower.user_id
    await _profile(a, birth=date(1990, 1, 1), employment="employee", income="1")
    b = await _borrower("13500000911", "吴十", date(1985, 1, 1), "employee")
    c = await _borrower("13500000912", "郑一", date(1995, 1, 1), "freelancer")
    tiers = {"杭州市": "新一线城市", "北京市": "一线城市", "丽水市": "其他城市"}
    early = [(a, 1, "杭州市"), (a, 3, "杭州市"), (a, 8, "北京市"), (b, 2, "北京市")]
    early += [(b, 9, "北京市"), (c, 5, "杭州市")]
    late = [(a, 12, "杭州市"), (b, 15, "丽水市"), (c, 14, "杭州市"), (c, 16, "北京市")]
    for borrower, day, city in early:
        await data.application(
            p, world.bank_id, f"2026-11-{day:02}T02:00", borrower=borrower, city=city
        )
    await jobs.refresh_rollups()
    for borrower, day, city in late:
        await data.application(
            p, world.bank_id, f"2026-11-{day:02}T02:00", borrower=borrower, city=city
        )
    await jobs.refresh_rollups(date(2026, 11, 11))

    async def band_tables() -> list:
        out = []
        for table in ("analytics_band_member", "analytics_band_daily", "analytics_band_return"):
            rows = await FunnelDaily.raw(f"SELECT * FROM {table}")  # noqa: S608
            out.append(sorted(str({k: v for k, v in r.items() if k != "id"}) for r in rows))
        return out

    incremental = await band_tables()
    assert incremental[1] and incremental[2], "the band rollups were written"
    await jobs.refresh_rollups()
    assert await band_tables() == incremental
    for first in range(1, 17):
        for last in range(first, 17):
            expected: dict[str, tuple[set, int]] = {}
            for borrower, day, city in early + late:
                if first <= day <= last:
                    people, count = expected.get(tiers[city], (set(), 0))
                    expected[tiers[city]] = (people | {borrower}, count + 1)
            period = Period(date(2026, 11, first), date(2026, 11, last))
            table = (await report(world.staff, period)).figure("band_city_tier").table
            got = {row[0]: (row[1], row[2]) for row in table.rows}
            want = {tier: (len(people), n) for tier, (people, n) in expected.items()}
            assert got == want, (first, last)


async def test_reports_break_down_by_channel(world):
    """Two web applications and one from a phone (H5) of the bank, the H5 one disbursed
    and overdue; the report's channel table and the breakdown rollup agree."""
    data = Data(world)
    p = await factories.listed_product(world.staff, world.operator)
    for moment in ("2026-11-10T02:00", "2026-11-11T02:00"):
        await data.application(
            p, world.bank_id, moment, delivered=moment, events=(("rejected", moment),)
        )
    h5 = await data.application(
        p,
        world.bank_id,
        "2026-11-12T02:00",
        delivered="2026-11-12T02:10",
        events=(("approved", "2026-11-12T04:10"), ("accepted", "2026-11-12T05:00")),
        status="accepted",
        channel="h5",
    )
    await data.loan(h5, p, world.bank_id, date(2026, 11, 13), "8000", "overdue", "7000")
    await jobs.refresh_rollups()
    result = await report(world.staff, CURRENT)
    rows = {row[0]: row for row in _table(result.figure("channels"))}
    # label: leads, approved, rejected, approval rate, loans, amount, overdue rate
    assert rows["电脑网页"][1:6] == [2, 0, 2, Decimal(0), 0]
    assert rows["手机 H5"][1:] == [1, 1, 0, Decimal(1), 1, Decimal("8000.00"), Decimal(1)]
    assert len(rows) == 2


async def test_the_portal_records_the_channel_and_income_band_at_submission(client, world):
    product_id = await factories.listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"
    response = await client.submit(
        f"/products/{product_id}/apply",
        factories.application_form(monthly_income="25000", **hidden),
        headers={"User-Agent": phone},
    )
    assert response.status_code == 303
    row = await Application.select(Application.channel, Application.income_band).first()
    assert row == {"channel": "h5", "income_band": "20k_plus"}


def test_channel_and_income_band_rules():
    assert channel_of(None) == Channel.WEB
    assert channel_of("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0") == Channel.WEB
    assert channel_of("Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36") == Channel.H5
    assert channel_of("x" * 10_000 + "iPhone") == Channel.WEB  # only the first 500 read
    assert income_band(Decimal("4999.99")) == "lt_5k"
    assert income_band(Decimal(5000)) == "5k_10k"
    assert income_band(Decimal(20000)) == "20k_plus"
    assert income_band(Decimal(-1)) == income_band(Decimal("NaN")) == "unknown"


async def test_reports_are_tenant_scoped_and_hand_computed(world):
    await fixed(world)
    await jobs.refresh_rollups()
    mine = await report(world.staff, CURRENT)
    kpis = _kpis(mine)
    assert kpis["leads"] == (2, 1)
    assert kpis["approved"] == (1, 1)
    assert kpis["approval_rate"] == (Decimal("0.5"), Decimal(1))
    assert kpis["disbursed_amount"] == (Decimal("50000"), Decimal("30000"))
    assert [row[1] for row in _table(mine.figure("funnel"))] == [2, 1, 1, 1]
    cities = {row[0]: row for row in _table(mine.figure("cities"))}
    assert set(cities) == {"杭州市"}  # the other bank's 北京市 application is not here
    theirs = await report(world.other_staff, CURRENT)
    assert _kpis(theirs)["leads"] == (1, 0)
    assert {row[0] for row in _table(theirs.figure("cities"))} == {"北京市"}
    with pytest.raises(PermissionDenied):
        await report(world.operator, CURRENT)
    loan_officer = await factories.user(
        "staff", "officer@test-bank.example", "loan_officer", world.bank_id, "小刘"
    )
    with pytest.raises(PermissionDenied):
        await report(loan_officer, CURRENT)


async def test_report_pages_render_for_staff_and_refuse_others(client, staff_client, world):
    await fixed(world)
    await jobs.refresh_rollups()
    await login(staff_client, "/console/login", "staff@test-bank.example")
    page = await staff_client.get("/console/reports?start=2026-11-10&end=2026-11-16")
    assert page.status_code == 200
    html = soup(page)
    assert html.select_one("#table-funnel") is not None
    assert html.select_one("[data-chart]") is not None
    assert "北京市" not in page.text
    assert "<script>" not in page.text.split("</header>")[-1].split("<script src")[0]
    # Operators have no console.
    await login(client, "/admin/login", "reviewer@loanmart.example")
    assert (await client.get("/console/reports")).status_code in (302, 303, 401, 403)


async def test_dashboard_page_renders_with_tiles_charts_and_tables(client, world):
    await fixed(world)
    await jobs.refresh_rollups()
    await login(client, "/admin/login", "reviewer@loanmart.example")  # dashboard.view
    page = await client.get("/admin/dashboard?start=2026-11-10&end=2026-11-16&grain=day")
    assert page.status_code == 200
    html = soup(page)
    assert html.select_one('[data-kpi="applications"] .stat__value').text.strip() == "4"
    assert html.select_one('[data-kpi="disbursed_amount"] .stat__value').text.strip() == "¥5.00万"
    # Tables keep full digits.
    bank_row = next(
        tr for tr in html.select("#table-institutions tbody tr") if "测试银行" in tr.text
    )
    assert "50,000.00" in bank_row.text
    assert bank_row.select_one("a")["href"].startswith("/admin/monitoring?level=institution")
    assert len(html.select("[data-chart]")) >= 5
    # Sorting by approval rate ascending puts the bank (50%) before the other bank (100%).
    page = await client.get(
        "/admin/dashboard?start=2026-11-10&end=2026-11-16&sort=approval_rate&dir=asc"
    )
    names = [
        tr.select_one("td").text.strip() for tr in soup(page).select("#table-institutions tbody tr")
    ]
    assert names == ["测试银行", "别家银行"]
    # Empty parameters are dropped from the shareable URL.
    page = await client.get("/admin/dashboard?start=&end=2026-11-16&grain=")
    assert page.status_code == 303
    assert page.headers["location"] == "/admin/dashboard?end=2026-11-16"


async def test_complaints_column_counts_the_complaints_filed_in_the_period(client, world):
    await fixed(world)
    await jobs.refresh_rollups()
    boss = await _super()
    board = await dashboard(boss, CURRENT)
    assert all(row[7] == 0 for row in _table(board.institutions))
    # Two complaints against the bank inside the period (Asia/Shanghai days), one the
    # minute after it ends, and feedback: only the two count.
    for at, kind in (
        (datetime(2026, 11, 9, 16, 0, tzinfo=UTC), "complaint"),  # 11-10 00:00 Shanghai
        (datetime(2026, 11, 16, 15, 59, tzinfo=UTC), "complaint"),  # 11-16 23:59 Shanghai
        (datetime(2026, 11, 16, 16, 0, tzinfo=UTC), "complaint"),  # 11-17 00:00 Shanghai
        (datetime(2026, 11, 12, 2, 0, tzinfo=UTC), "feedback"),
    ):
        await Complaint.insert(
            Complaint(
                reference=f"TS{secrets.token_hex(8).upper()}",
                kind=kind,
                borrower=world.borrower.user_id,
                institution=world.bank_id,
                category="opaque_fees" if kind == "complaint" else "suggestion",
                description_encrypted="x",
                status="open",
                created_at=at,
                resolve_due_at=at + timedelta(hours=120),
            )
        )
    board = await dashboard(boss, CURRENT, sort="complaints")
    assert _table(board.institutions)[0][0] == "测试银行"
    assert _table(board.institutions)[0][7] == 2


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-11-20&end=2026-11-10", "start", "开始日期不能晚于结束日期"),
        ("start=99999-01-01", "start", "请填写正确的开始日期"),
        ("end=2026-13-45", "end", "请填写正确的结束日期"),
        ("grain=xx", "grain", "统计粒度只能是按日、按周或按月"),
        ("end=2999-01-01", "end", "结束日期不能晚于今天"),
        ("start=１９９０-01-01", "start", "请填写正确的开始日期"),
        ("start=<script>alert(1)</script>", "start", "请填写正确的开始日期"),
        ("start=1900-01-01", "start", "不能早于"),
    ],
)
async def test_hostile_parameters_are_clear_errors(
    client, staff_client, world, query, field, message
):
    await login(client, "/admin/login", "reviewer@loanmart.example")
    page = await client.get(f"/admin/dashboard?{query}")
    assert page.status_code == 400
    assert message in page.text
    assert "<script>alert(1)</script>" not in page.text
    await login(staff_client, "/console/login", "staff@test-bank.example")
    page = await staff_client.get(f"/console/reports?{query}")
    assert page.status_code == 400
    assert message in page.text
    export = await client.get(f"/admin/dashboard/export/kpis/csv?{query}")
    assert export.status_code == 200  # the default range, exported


def test_huge_ranges_are_capped():
    period = parse_period({"start": "2001-01-01", "end": "2026-11-30"}, date(2026, 12, 1))
    assert period.days == 366 and period.end == date(2026, 11, 30)
    assert period.notices and not period.errors
    assert len(period.buckets()) == 366


async def test_exports_are_audited_in_full_digits(client, staff_client, world):
    await fixed(world)
    await jobs.refresh_rollups()
    await login(client, "/admin/login", "reviewer@loanmart.example")
    response = await client.get(
        "/admin/dashboard/export/institutions/csv?start=2026-11-10&end=2026-11-16"
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "机构"
    bank = next(row for row in rows if row[0] == "测试银行")
    assert bank[5] == "50000.00" and bank[3] == "50.00%"
    response = await client.get(
        "/admin/dashboard/export/trend/xlsx?start=2026-11-10&end=2026-11-16"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet.cell(1, 1).value == "期间"
    assert (await client.get("/admin/dashboard/export/nope/csv")).status_code == 404
    assert (await client.get("/admin/dashboard/export/kpis/pdf")).status_code == 404
    await login(staff_client, "/console/login", "staff@test-bank.example")
    response = await staff_client.get(
        "/console/reports/export/products/xlsx?start=2026-11-10&end=2026-11-16"
    )
    assert response.status_code == 200
    audits = await AuditEntry.select().where(AuditEntry.action == "analytics.export")
    assert {(a["object_type"], a["object_id"]) for a in audits} == {
        ("dashboard", "institutions"),
        ("dashboard", "trend"),
        ("report", "products"),
    }


async def test_events_are_pseudonymous_and_stored_as_typed(client, world):
    product = await factories.listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    personal = "张伟 13912345678 身份证110105199003071234"
    await client.get("/products", params={"q": personal, "city": "杭州市"})
    await client.get(f"/products/{product}")
    await client.get(f"/products/{product}/quote", params={"amount": "10000", "term": "12"})
    await client.get("/calculator", params={"amount": "10000"})
    await client.get(f"/products/{product}/apply")
    await behaviour.flush()  # events are pushed in batches, off the request's path
    assert await recorder.buffered() == 6  # search, filter_use, view, 2 calculator, apply
    assert await jobs.flush_events() == 6
    rows = await BehaviourEvent.select().order_by(BehaviourEvent.id)
    assert [r["kind"] for r in rows] == [
        "search",
        "filter_use",
        "product_view",
        "calculator_use",
        "calculator_use",
        "apply_form_opened",
    ]
    search = rows[0]
    assert search["query"] == personal  # as typed
    assert search["result_count"] == 0
    visitors = {r["visitor"] for r in rows}
    assert len(visitors) == 1
    [visitor] = visitors
    assert len(visitor) == 32
    device = client.cookies.get("lm_device")
    assert visitor != device and str(world.borrower.user_id) != visitor
    # No column could hold a user id or an address.
    columns = set(rows[0])
    assert not columns & {"user", "user_id", "borrower", "ip", "address", "client_address"}


async def test_redis_down_the_pages_still_render_and_the_loss_is_counted(
    client, world, monkeypatch
):
    product = await factories.listed_product(world.staff, world.operator)

    async def broken(*payloads: str) -> None:
        raise ConnectionError("redis down")

    monkeypatch.setattr(behaviour, "buffer", broken)
    before = behaviour.LOST.labels("product_view")._value.get()
    assert (await client.get(f"/products/{product}")).status_code == 200
    assert (await client.get("/products?q=消费贷")).status_code == 200
    await behaviour.flush()
    assert behaviour.LOST.labels("product_view")._value.get() == before + 1


async def test_flush_ignores_garbage_and_purge_keeps_the_retention(world):
    await cache.redis().lpush(recorder.KEY, "not json", json.dumps({"kind": "evil"}))
    await cache.redis().lpush(
        recorder.KEY,
        recorder.encode(recorder.EventKind.SEARCH, "v", query="x" * 500, result_count=-3),
    )
    assert await jobs.flush_events() == 1
    row = await BehaviourEvent.select().first()
    assert len(row["query"]) == 100 and row["result_count"] is None
    old = datetime.now(UTC) - timedelta(days=181)
    await BehaviourEvent.insert(BehaviourEvent(kind="search", visitor="v", at=old))
    assert await jobs.purge_events() == 1
    assert await BehaviourEvent.count() == 1


def test_one_formatting_filter_for_tiles_and_tables():
    assert headline(Decimal("123456789")) == "1.23亿"
    assert headline(Decimal("50000"), money=True) == "¥5.00万"
    assert headline(9999) == "9,999"
    assert number(Decimal("123456789.5"), "money") == "123,456,789.50"
    assert number(Decimal("123456789"), "money", True) == "¥1.23亿"
    assert number(None, "rate") == "—"
    assert number(Decimal("0.5"), "rate", True) == "50.00%"
