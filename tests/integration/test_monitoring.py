"""Monitoring (issue 11, A7): figures per product and institution against hand-computed
ones, the automatic flag rules at their edges, idempotent evaluation under parallel runs,
cases (suspend → delisted everywhere, the institution's response, resume), tenant
isolation, hostile values, exports and audit rows."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from marketplace import freshness, jobs
from marketplace.applications.services import parse_application_input, submit_application
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.complaints.stats import complaints_since
from marketplace.consents.tables import Consent
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.inbox.tables import InboxItem
from marketplace.institutions.tables import Institution
from marketplace.loans.tables import Loan
from marketplace.monitoring import flags
from marketplace.monitoring.figures import figures, register_complaint_counter
from marketplace.monitoring.queries import BoardFilters, board, disclosed_actual_apr
from marketplace.monitoring.services import decide, respond, suspend_product
from marketplace.monitoring.statuses import Rule, Subject
from marketplace.monitoring.tables import CaseEvent, MonitoringCase
from marketplace.offers.tables import Offer
from marketplace.outbox.tables import OutboxMessage
from marketplace.parameters.tables import SystemParameter
from marketplace.products.queries import listed_product as portal_product
from marketplace.products.search_port import SearchQuery, backend
from marketplace.products.services import change_listing
from marketplace.products.tables import Product
from tests import factories
from tests.fixtures import login, soup

TOL = Decimal("0.001")
RISK = "risk@loanmart.example"
SUPER = "super@loanmart.example"


async def _operators(world):
    risk = await factories.user("operator", RISK, "risk_officer", None, "风控小周")
    boss = await factories.user("operator", SUPER, "super_admin", None, "超管老陈")
    return risk, boss


async def _consent(world, institution_id: int) -> int:
    rows = await Consent.insert(
        Consent(
            borrower=world.borrower.user_id,
            institution=institution_id,
            notice_version="1",
            notice_hash="0" * 64,
            purpose="loan",
            data_items=["name"],
            retention="1y",
        )
    ).returning(Consent.id)
    return rows[0]["id"]


class Book:
    """A small fixed dataset for one product, written directly with chosen dates."""

    def __init__(self, world, product_id: int, institution_id: int) -> None:
        self.world = world
        self.product_id = product_id
        self.institution_id = institution_id
        self.consent = 0

    async def application(self, status: str, days_ago: float = 1) -> int:
        if not self.consent:
            self.consent = await _consent(self.world, self.institution_id)
        rows = await Application.insert(
            Application(
                reference=f"LMT{secrets.token_hex(6).upper()}",
                borrower=self.world.borrower.user_id,
                product=self.product_id,
                product_version=1,
                institution=self.institution_id,
                consent=self.consent,
                amount=Decimal("50000"),
                term_months=12,
                repayment_method="equal_installment",
                status=status,
                shared_data_encrypted="x",
                submission_key=secrets.token_hex(16),
                submitted_at=datetime.now(UTC) - timedelta(days=days_ago),
            )
        ).returning(Application.id)
        return rows[0]["id"]

    async def offer(self, application_id: int, apr: str, days_ago: float = 1) -> None:
        await Offer.insert(
            Offer(
                application=application_id,
                institution=self.institution_id,
                borrower=self.world.borrower.user_id,
                amount=Decimal("50000"),
                term_months=12,
                repayment_method="equal_installment",
                rate=Decimal("0.07"),
                rate_period="year",
                apr=Decimal(apr),
                first_payment=Decimal("4300"),
                largest_payment=Decimal("4300"),
                total_cost=Decimal("2000"),
                expires_at=datetime.now(UTC) + timedelta(days=7),
                status="signed",
                created_at=datetime.now(UTC) - timedelta(days=days_ago),
            )
        )
        await freshness.changed()  # as the offer verb's audit row does: product pages change

    async def loan(self, application_id: int, status: str) -> None:
        await Loan.insert(
            Loan(
                application=application_id,
                institution=self.institution_id,
                borrower=self.world.borrower.user_id,
                product=self.product_id,
                principal=Decimal("50000"),
                rate=Decimal("0.07"),
                rate_period="year",
                term_months=12,
                repayment_method="equal_installment",
                disbursed_on=date.today() - timedelta(days=60),
                receiving_account_masked="6222 **** 6789",
                status=status,
            )
        )


async def _product(world, apr_min="0.08", apr_max="0.11") -> int:
    product_id = await factories.listed_product(world.staff, world.operator)
    await Product.update(
        {Product.apr_min: Decimal(apr_min), Product.apr_max: Decimal(apr_max)}
    ).where(Product.id == product_id)
    return product_id


async def _fixed_dataset(world) -> int:
    """In the last day: approved ×2, accepted ×2 (loans: overdue, repaying; offers at
    10% and 12%), rejected ×3, submitted ×1. Forty days ago: accepted ×2 (loans: overdue,
    settled; an offer at 8%)."""
    product_id = await _product(world)
    book = Book(world, product_id, world.bank_id)
    for status in ("approved", "approved", "rejected", "rejected", "rejected", "submitted"):
        await book.application(status)
    for loan_status, apr in (("overdue", "0.10"), ("repaying", "0.12")):
        app = await book.application("accepted")
        await book.offer(app, apr)
        await book.loan(app, loan_status)
    old = await book.application("accepted", days_ago=40)
    await book.offer(old, "0.08", days_ago=40)
    await book.loan(old, "overdue")
    old = await book.application("accepted", days_ago=40)
    await book.loan(old, "settled")
    return product_id


async def test_figures_match_the_hand_computed_ones_in_both_windows(world):
    product_id = await _fixed_dataset(world)
    [month] = [
        f
        for f in await figures(Subject.PRODUCT, 30, apr_tolerance=TOL)
        if f.subject_id == product_id
    ]
    assert (month.applications, month.decided, month.approved, month.disbursed) == (8, 7, 4, 2)
    assert month.approval_rate == Decimal(4) / Decimal(7)
    assert month.disbursement_rate == Decimal("0.5")
    # The overdue rate is of the book now, whatever the window: 2 overdue of 3 in force.
    assert (month.in_force, month.overdue) == (3, 2)
    assert month.overdue_rate == Decimal(2) / Decimal(3)
    assert (month.offers, month.actual_apr_min, month.actual_apr_max) == (
        2,
        Decimal("0.10"),
        Decimal("0.12"),
    )
    assert month.offers_above == 1  # 12% > 11% + 0.1pt; 10% is inside
    assert month.complaints == 0 and month.complaint_rate == 0  # counted, none filed

    [quarter] = [
        f
        for f in await figures(Subject.PRODUCT, 90, apr_tolerance=TOL)
        if f.subject_id == product_id
    ]
    assert (quarter.applications, quarter.decided, quarter.approved, quarter.disbursed) == (
        10,
        9,
        6,
        4,
    )
    assert quarter.disbursement_rate == Decimal(4) / Decimal(6)
    assert (quarter.offers, quarter.actual_apr_min) == (3, Decimal("0.08"))

    institutions = {
        f.subject_id: f for f in await figures(Subject.INSTITUTION, 30, apr_tolerance=TOL)
    }
    bank = institutions[world.bank_id]
    assert (bank.applications, bank.approved, bank.in_force, bank.overdue, bank.offers_above) == (
        8,
        4,
        3,
        2,
        1,
    )
    other = institutions[world.other_bank_id]
    assert (other.applications, other.approval_rate, other.overdue_rate) == (0, None, None)


def _row(**overrides):
    from marketplace.monitoring.figures import Figures

    values = dict(
        subject=Subject.PRODUCT,
        subject_id=1,
        name="p",
        institution_id=1,
        institution_name="i",
        status="listed",
        applications=100,
        decided=0,
        approved=0,
        disbursed=0,
        in_force=20,
        overdue=2,
        offers=0,
        offers_above=0,
        actual_apr_min=None,
        actual_apr_max=None,
        listed_apr_min=None,
        listed_apr_max=None,
        unresolved_cases=0,
        complaints=None,
    )
    return Figures(**{**values, **overrides})


LIMITS = flags.Thresholds(
    window_days=90,
    overdue_rate_max=Decimal("0.10"),
    overdue_min_loans=20,
    complaint_rate_max=Decimal("0.02"),
    complaint_min_applications=50,
    apr_tolerance=TOL,
)


@pytest.mark.parametrize(
    ("in_force", "overdue", "flagged"),
    [
        (20, 2, False),  # exactly at the line: not above it
        (20, 3, True),  # above the line with the minimum of loans
        (19, 19, False),  # everything overdue but too few loans to judge
        (0, 0, False),
        (1000, 101, True),
    ],
)
def test_the_overdue_rule_at_its_edges(in_force, overdue, flagged):
    found = flags.hits(_row(in_force=in_force, overdue=overdue), LIMITS)
    assert (Rule.OVERDUE_RATE in found) is flagged


@pytest.mark.parametrize(
    ("applications", "complaints", "flagged"),
    [(50, 1, False), (50, 2, True), (49, 49, False), (100, None, False)],
)
def test_the_complaint_rule_only_with_counts_and_enough_applications(
    applications, complaints, flagged
):
    found = flags.hits(_row(applications=applications, complaints=complaints), LIMITS)
    assert (Rule.COMPLAINT_RATE in found) is flagged


def test_the_apr_rule_needs_an_offer_above_the_listing_and_is_for_products_only():
    assert Rule.APR_ABOVE_LISTING in flags.hits(_row(offers=3, offers_above=1), LIMITS)
    assert Rule.APR_ABOVE_LISTING not in flags.hits(_row(offers=3, offers_above=0), LIMITS)
    institution = _row(subject=Subject.INSTITUTION, offers=3, offers_above=2)
    assert Rule.APR_ABOVE_LISTING not in flags.hits(institution, LIMITS)


async def _params(**values):
    import json

    for key, value in values.items():
        await SystemParameter.insert(
            SystemParameter(key=key, value=json.dumps(value), updated_by="test")
        ).on_conflict(
            target=SystemParameter.key, action="DO UPDATE", values=[SystemParameter.value]
        )


async def test_evaluation_opens_each_case_once_even_when_run_in_parallel(world):
    product_id = await _fixed_dataset(world)
    await _params(monitoring_overdue_min_loans=3, monitoring_overdue_rate_max="0.5")
    opened = await asyncio.gather(*(flags.evaluate() for _ in range(4)))
    # product: overdue 2/3 > 50% and an offer above its listing; institution: overdue.
    assert sum(opened) == 3
    cases = await MonitoringCase.select(MonitoringCase.subject_key, MonitoringCase.rule)
    assert sorted((c["subject_key"], c["rule"]) for c in cases) == sorted(
        [
            (f"product:{product_id}", "overdue_rate"),
            (f"product:{product_id}", "apr_above_listing"),
            (f"institution:{world.bank_id}", "overdue_rate"),
        ]
    )
    assert await flags.evaluate() == 0
    assert await AuditEntry.count().where(AuditEntry.action == "monitoring.case_open") == 3
    # The institution was told, with a link to the case in its console.
    notices = await InboxItem.select(InboxItem.link).where(InboxItem.kind == "monitoring.case")
    assert notices and all(n["link"].startswith("/console/cases/") for n in notices)


async def test_a_dismissed_case_lets_the_rule_open_a_new_one(world):
    await _fixed_dataset(world)
    risk, _boss = await _operators(world)
    await _params(monitoring_overdue_min_loans=100)
    assert await flags.evaluate() == 1  # the APR rule only
    case = await MonitoringCase.objects().first()
    await decide(risk, case.id, "dismiss", "已核实为合同录入错误")
    assert await flags.evaluate() == 1
    assert await MonitoringCase.count() == 2


async def test_the_cron_records_one_pending_evaluation_and_the_job_does_the_work(world):
    await _fixed_dataset(world)
    assert await flags.schedule_evaluation() is True
    assert await flags.schedule_evaluation() is False
    assert await OutboxMessage.count().where(OutboxMessage.job == "monitoring.evaluate") == 1
    await jobs.run_until_idle()
    assert await MonitoringCase.count().where(MonitoringCase.rule == "apr_above_listing") == 1


async def test_complaints_are_a_hook_that_flags_once_counted(world):
    product_id = await _fixed_dataset(world)

    async def counter(subject, since):
        return {product_id: 5} if subject is Subject.PRODUCT else {}

    register_complaint_counter(counter)
    try:
        await _params(monitoring_complaint_min_applications=5)
        await flags.evaluate()
    finally:
        register_complaint_counter(complaints_since)
    assert await MonitoringCase.exists().where(
        (MonitoringCase.rule == "complaint_rate") & (MonitoringCase.product == product_id)
    )


async def test_the_board_says_so_only_where_complaints_are_not_counted(client, world):
    await login(client, "/admin/login", "auditor@loanmart.example")
    note = "本进程未接入投诉数据"
    empty = soup(await client.get("/admin/monitoring"))
    assert empty.select("tr[data-subject]") == []  # no product is listed yet
    assert note not in empty.get_text(), "an empty board is not a missing counter"
    product_id = await _fixed_dataset(world)
    register_complaint_counter(None)
    try:
        page = soup(await client.get("/admin/monitoring?window=90"))
    finally:
        register_complaint_counter(complaints_since)
    assert note in page.get_text()
    row = page.select_one(f"tr[data-subject='product:{product_id}']")
    assert row.select_one("td[data-label='投诉率']").get_text(strip=True) == "—"


async def _case_on(world, product_id: int) -> int:
    await flags.evaluate()
    case = (
        await MonitoringCase.objects()
        .where(
            (MonitoringCase.product == product_id) & (MonitoringCase.rule == "apr_above_listing")
        )
        .first()
    )
    return case.id


async def test_suspending_delists_everywhere_and_only_an_operator_resumes(world):
    product_id = await _fixed_dataset(world)
    risk, _boss = await _operators(world)
    case_id = await _case_on(world, product_id)
    await jobs.run_until_idle()
    assert product_id in [hit.id for hit in (await backend().search(SearchQuery())).hits]

    await decide(risk, case_id, "suspend", "实际年化超出标示区间，暂停待整改")
    assert (await Product.select(Product.status).where(Product.id == product_id).first())[
        "status"
    ] == "suspended"
    with pytest.raises(NotFound):
        await portal_product(product_id)
    await jobs.run_until_idle()
    assert product_id not in [hit.id for hit in (await backend().search(SearchQuery())).hits]
    # Applying is refused with a clear message.
    cmd = parse_application_input(product_id, factories.application_form())
    with pytest.raises(NotFound, match="已下架"):
        await submit_application(world.borrower, cmd)
    # The institution cannot re-list it.
    for action in ("resume", "pause"):
        with pytest.raises(InvalidTransition):
            await change_listing(world.staff, product_id, action)

    assert await decide(risk, case_id, "resume", "机构已整改并提交说明") is True
    assert (await Product.select(Product.status).where(Product.id == product_id).first())[
        "status"
    ] == "listed"
    await jobs.run_until_idle()
    assert product_id in [hit.id for hit in (await backend().search(SearchQuery())).hits]
    actions = [
        row["action"] for row in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)
    ]
    for action in (
        "monitoring.case_suspend",
        "product.suspend",
        "monitoring.case_resume",
        "product.reinstate",
    ):
        assert action in actions
    kinds = [
        e["kind"] for e in await CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case_id)
    ]
    assert kinds == ["opened", "suspended", "resumed"]


async def test_a_product_stays_suspended_while_another_case_holds_it(world):
    product_id = await _fixed_dataset(world)
    risk, _boss = await _operators(world)
    await _params(monitoring_overdue_min_loans=3, monitoring_overdue_rate_max="0.5")
    await flags.evaluate()
    cases = await MonitoringCase.objects().where(MonitoringCase.product == product_id)
    assert len(cases) == 2
    for case in cases:
        await decide(risk, case.id, "suspend", "两项指标超标")
    assert await decide(risk, cases[0].id, "resume", "一项已整改") is False
    status = (await Product.select(Product.status).where(Product.id == product_id).first())[
        "status"
    ]
    assert status == "suspended"
    assert await decide(risk, cases[1].id, "resume", "全部整改") is True


async def test_parallel_decisions_on_one_case_take_effect_once(world):
    product_id = await _fixed_dataset(world)
    risk, _boss = await _operators(world)
    case_id = await _case_on(world, product_id)
    results = await asyncio.gather(
        *(decide(risk, case_id, "suspend", "并发暂停") for _ in range(4)), return_exceptions=True
    )
    assert sum(1 for r in results if r is True) == 1
    assert all(isinstance(r, InvalidTransition) for r in results if r is not True)
    assert await AuditEntry.count().where(AuditEntry.action == "product.suspend") == 1


async def test_operators_suspend_a_listed_product_directly(client, world):
    product_id = await _product(world)
    await _operators(world)
    await login(client, "/admin/login", RISK)
    page = soup(await client.get(f"/admin/monitoring/products/{product_id}"))
    assert page.select_one("form textarea[name=reason]") is not None
    response = await client.submit(
        f"/admin/monitoring/products/{product_id}/suspend", {"reason": "   "}
    )
    assert response.status_code == 400
    assert "请填写原因" in response.text
    hostile = "<script>alert(1)</script>" + "长" * 600
    response = await client.submit(
        f"/admin/monitoring/products/{product_id}/suspend", {"reason": hostile}
    )
    assert response.status_code == 400
    assert "原因应为1到500个字" in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text  # kept, escaped
    response = await client.submit(
        f"/admin/monitoring/products/{product_id}/suspend", {"reason": "<b>虚假宣传</b>"}
    )
    assert response.status_code == 303
    case = await MonitoringCase.objects().first()
    assert (case.rule, case.status, case.product) == ("manual", "suspended", product_id)
    assert response.headers["location"] == f"/admin/monitoring/cases/{case.id}"
    page = await client.get(response.headers["location"])
    assert "&lt;b&gt;虚假宣传&lt;/b&gt;" in page.text
    assert (await client.get(f"/products/{product_id}")).status_code == 404
    # Suspending again is a wrong state, said so.
    response = await client.submit(
        f"/admin/monitoring/products/{product_id}/suspend", {"reason": "再次"}
    )
    assert response.status_code == 409


async def test_the_review_page_offers_suspension_only_to_those_who_decide(client, world):
    product_id = await _product(world)
    await _operators(world)
    await login(client, "/admin/login", SUPER)
    page = soup(await client.get(f"/admin/reviews/products/{product_id}"))
    form = page.select_one(f"form[action='/admin/monitoring/products/{product_id}/suspend']")
    assert form is not None
    # The review decisions stay approve / reject only.
    assert not page.select("button[name=decision][value=suspend]")
    await client.post("/admin/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/admin/login", "reviewer@loanmart.example")
    page = soup(await client.get(f"/admin/reviews/products/{product_id}"))
    assert (
        page.select_one(f"form[action='/admin/monitoring/products/{product_id}/suspend']") is None
    )
    response = await client.submit(
        f"/admin/monitoring/products/{product_id}/suspend", {"reason": "x"}
    )
    assert response.status_code == 403


async def test_the_institution_responds_in_its_console_and_others_see_nothing(
    client, staff_client, world
):
    product_id = await _fixed_dataset(world)
    case_id = await _case_on(world, product_id)
    risk, _boss = await _operators(world)
    from marketplace.monitoring.services import add_note, assign

    await assign(risk, case_id, risk.user_id)
    await add_note(risk, case_id, "内部：先电话核实")

    await login(staff_client, "/console/login", "staff@test-bank.example")
    listing = soup(await staff_client.get("/console/cases"))
    assert listing.select_one(f"tr[data-case='{case_id}']") is not None
    page = await staff_client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    assert "先电话核实" not in page.text  # operators' notes stay inside
    response = await staff_client.submit(f"/console/cases/{case_id}", {"response": ""})
    assert response.status_code == 400
    response = await staff_client.submit(f"/console/cases/{case_id}", {"response": "x" * 1001})
    assert response.status_code == 400 and 'maxlength="1000"' in response.text
    assert "x" * 1001 in response.text
    response = await staff_client.submit(
        f"/console/cases/{case_id}", {"response": "该笔为客户选择加购保险，已下架该附加项"}
    )
    assert response.status_code == 303
    case = await MonitoringCase.objects().get(MonitoringCase.id == case_id)
    assert case.responded_at is not None
    assert await AuditEntry.exists().where(AuditEntry.action == "monitoring.case_respond")
    assert await InboxItem.exists().where(
        (InboxItem.recipient == risk.user_id) & (InboxItem.kind == "monitoring.response")
    )

    await login(client, "/console/login", "staff@other-bank.example")
    assert (await client.get(f"/console/cases/{case_id}")).status_code == 404
    response = await client.submit(f"/console/cases/{case_id}", {"response": "越权"})
    assert response.status_code == 404
    assert soup(await client.get("/console/cases")).select("tr[data-case]") == []
    with pytest.raises(NotFound):
        await respond(world.other_staff, case_id, "越权")


async def test_institution_suspension_goes_through_the_institution_lifecycle(world):
    await _fixed_dataset(world)
    risk, boss = await _operators(world)
    await _params(monitoring_overdue_min_loans=3, monitoring_overdue_rate_max="0.5")
    await flags.evaluate()
    case = await MonitoringCase.objects().get(
        MonitoringCase.subject_key == f"institution:{world.bank_id}"
    )
    with pytest.raises(PermissionDenied):
        await decide(risk, case.id, "suspend", "逾期率过高")  # needs institution.manage too
    await decide(boss, case.id, "suspend", "逾期率过高，暂停合作")
    bank = (
        await Institution.select(Institution.status, Institution.status_reason)
        .where(Institution.id == world.bank_id)
        .first()
    )
    assert bank == {"status": "suspended", "status_reason": "逾期率过高，暂停合作"}
    assert await AuditEntry.exists().where(AuditEntry.action == "institution.suspend")
    await decide(boss, case.id, "resume", "整改完成")
    assert (
        await Institution.select(Institution.status).where(Institution.id == world.bank_id).first()
    )["status"] == "active"


async def test_board_page_filters_sorts_and_exports_audited(client, world):
    product_id = await _fixed_dataset(world)
    await login(client, "/admin/login", "auditor@loanmart.example")
    page = soup(await client.get("/admin/monitoring?window=90&sort=overdue_rate&dir=desc"))
    row = page.select_one(f"tr[data-subject='product:{product_id}']")
    assert row is not None and "66.67%" in row.text and "10" in row.text
    th = page.select_one("th[aria-sort]")
    assert th is not None and th["aria-sort"] == "descending"
    assert page.select_one("h1").get_text(strip=True) == "产品监控"
    page = soup(await client.get("/admin/monitoring?level=institution"))
    assert page.select_one(f"tr[data-subject='institution:{world.bank_id}']") is not None
    assert page.select_one("h1").get_text(strip=True) == "机构监控"
    page = soup(await client.get("/admin/monitoring?q=不存在的名字"))
    assert page.select("tr[data-subject]") == []

    response = await client.get("/admin/monitoring/export/csv?window=30")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "产品" and any(r[0] == "安居装修贷" and r[3] == "8" for r in rows[1:])
    response = await client.get("/admin/monitoring/export/xlsx?level=institution")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet.cell(1, 1).value == "机构"
    assert (await client.get("/admin/monitoring/export/pdf")).status_code == 404
    assert await AuditEntry.count().where(AuditEntry.action == "monitoring.export") == 2

    # The auditor reads everything and decides nothing.
    case_id = await _case_on(world, product_id)
    page = await client.get(f"/admin/monitoring/cases/{case_id}")
    assert page.status_code == 200 and "不能作出决定" in page.text
    response = await client.submit(
        f"/admin/monitoring/cases/{case_id}/decide", {"decision": "suspend", "reason": "x"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "window=abc&level=%27%3BDROP&institution=-1&sort=1%3Bselect&dir=sideways",
        "window=99999999999999999999&institution=99999999999999999999&q=" + "长" * 500,
        "q=%00%01&flagged=yes&page=-3",
    ],
)
async def test_hostile_board_queries_answer_calmly(client, world, query):
    await login(client, "/admin/login", "reviewer@loanmart.example")
    response = await client.get(f"/admin/monitoring?{query}")
    assert response.status_code == 200
    assert (
        await client.get("/admin/monitoring/cases?status=x&rule=%27&page=abc")
    ).status_code == 200


async def test_hostile_case_decisions_get_clear_errors(client, world):
    product_id = await _fixed_dataset(world)
    case_id = await _case_on(world, product_id)
    await _operators(world)
    await login(client, "/admin/login", RISK)
    url = f"/admin/monitoring/cases/{case_id}/decide"
    assert (await client.submit(url, {"decision": "explode", "reason": "x"})).status_code == 404
    response = await client.submit(url, {"decision": "suspend", "reason": "坏\x07字符"})
    assert response.status_code == 400 and "无法识别的字符" in response.text
    response = await client.submit(url, {"decision": "resume", "reason": "还没暂停"})
    assert response.status_code == 409
    response = await client.submit(
        f"/admin/monitoring/cases/{case_id}/assign", {"assignee": str(world.staff.user_id)}
    )
    assert response.status_code == 400 and "请选择可以处理案件的运营人员" in response.text
    response = await client.submit(
        f"/admin/monitoring/cases/{case_id}/assign", {"assignee": "-1' OR 1=1"}
    )
    assert response.status_code == 303  # unparseable: nobody assigned
    response = await client.submit(f"/admin/monitoring/cases/{case_id}/note", {"note": ["a", "b"]})
    assert response.status_code == 303
    assert (await client.get("/admin/monitoring/cases/99999999999")).status_code == 404
    assert (await client.get("/admin/monitoring/cases/abc")).status_code == 404
    with pytest.raises(DomainError):
        await suspend_product(await _risk_actor(), product_id, "")


async def _risk_actor():
    from marketplace.accounts.roles import permissions_of
    from marketplace.accounts.tables import User
    from marketplace.actors import Actor

    row = await User.select(User.id).where(User.login_key == RISK).first()
    return Actor(
        user_id=row["id"],
        kind="operator",
        label="风控小周",
        role="risk_officer",
        permissions=permissions_of("operator", "risk_officer"),
    )


async def _watched_products(world, count: int) -> list[int]:
    """`count` listed products of the bank named 监控产品01…, and one of the other bank's
    (listed products are watched even without applications)."""
    ids = []
    for n in range(1, count + 1):
        product_id = await factories.listed_product(
            world.staff, world.operator, name=f"监控产品{n:02d}"
        )
        ids.append(product_id)
    await factories.listed_product(world.other_staff, world.operator, name="别家监控产品")
    return ids


async def test_the_board_pages_fifty_rows_keeping_filters_and_sort(client, world):
    ids = await _watched_products(world, 53)
    await login(client, "/admin/login", "auditor@loanmart.example")
    query = f"q=监控产品&institution={world.bank_id}&sort=name&dir=desc&window=90"
    first = soup(await client.get(f"/admin/monitoring?{query}"))
    names = [row.select_one(".table__primary").text for row in first.select("tr[data-subject]")]
    assert names == [f"监控产品{n:02d}" for n in range(53, 3, -1)], "50 rows, by name, newest"
    assert "共 53 项" in first.get_text()
    pager = first.select_one("nav.pagination a[rel=next]")
    assert pager is not None
    for kept in ("q=%E7%9B%91", f"institution={world.bank_id}", "sort=name", "dir=desc"):
        assert kept in pager["href"], f"the pager keeps {kept}"
    assert "window=90" in pager["href"] and "page=2" in pager["href"]

    second = soup(await client.get(pager["href"]))
    rows = second.select("tr[data-subject]")
    assert [row.select_one(".table__primary").text for row in rows] == [
        "监控产品03",
        "监控产品02",
        "监控产品01",
    ], "page 2 holds the rest in the same order"
    assert {row["data-subject"] for row in rows} == {f"product:{i}" for i in ids[:3]}
    assert second.select_one("th[aria-sort]")["aria-sort"] == "descending"

    past = await client.get(f"/admin/monitoring?{query}&page=3")
    assert past.status_code == 200
    state = soup(past).select_one(".empty-state")
    assert state is not None and "没有更多结果了" in state.get_text()
    assert "没有符合条件的对象" not in past.text
    assert (
        "page=1" in state.select_one("a")["href"] and "sort=name" in state.select_one("a")["href"]
    )

    # The export still holds every filtered row, whatever page the operator is on.
    response = await client.get(f"/admin/monitoring/export/csv?{query}&page=2")
    exported = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]
    assert [r[0] for r in exported] == [f"监控产品{n:02d}" for n in range(53, 0, -1)]


async def test_the_board_shows_a_fixed_rate_once_and_a_range_as_a_range(client, world):
    fixed = await _product(world, apr_min="0.052", apr_max="0.052")
    ranged = await _product(world)
    book = Book(world, ranged, world.bank_id)
    await book.offer(await book.application("accepted"), "0.09")
    await login(client, "/admin/login", "auditor@loanmart.example")
    page = soup(await client.get("/admin/monitoring"))

    def cell(product_id: int, label: str) -> str:
        row = page.select_one(f"tr[data-subject='product:{product_id}']")
        return row.select_one(f"td[data-label='{label}']").get_text(" ", strip=True)

    assert cell(fixed, "标示年化") == "5.20%"
    assert cell(ranged, "标示年化") == "8.00% – 11.00%"
    assert cell(ranged, "实际批复年化").startswith("9.00% 1 笔批复")


@pytest.mark.parametrize("page", ["0", "-1", "1" + "0" * 30, "abc", "２", "1.5", "%00"])
async def test_hostile_board_page_numbers_show_the_first_page(client, world, page):
    await _watched_products(world, 2)
    await login(client, "/admin/login", "auditor@loanmart.example")
    response = await client.get(f"/admin/monitoring?sort=name&dir=asc&page={page}")
    assert response.status_code == 200
    rows = soup(response).select("tr[data-subject]")
    assert [row.select_one(".table__primary").text for row in rows] == [
        "别家监控产品",
        "监控产品01",
        "监控产品02",
    ], "a malformed page number is page 1"


async def test_the_product_page_shows_actual_aprs_only_from_enough_offers(client, world):
    product_id = await _product(world)
    book = Book(world, product_id, world.bank_id)
    for apr in ("0.081", "0.085", "0.09", "0.095"):
        await book.offer(await book.application("accepted"), apr)
    await book.offer(await book.application("accepted", days_ago=120), "0.20", days_ago=120)
    assert await disclosed_actual_apr(product_id) is None
    assert soup(await client.get(f"/products/{product_id}")).select_one("#actual-apr") is None
    await book.offer(await book.application("accepted"), "0.10")
    line = soup(await client.get(f"/products/{product_id}")).select_one("#actual-apr")
    assert line is not None
    assert line.text.strip() == "近90天实际批复年化 8.10%–10.00%，基于 5 笔批复"
    await _params(actual_apr_min_offers=6)
    assert await disclosed_actual_apr(product_id) is None


async def test_board_read_model_is_permission_checked(world):
    with pytest.raises(PermissionDenied):
        await board(world.staff, BoardFilters())
