"""Properties of settlement, over generated months (hypothesis): a statement's total is the
sum of its lines; credits and adjustments never take a line below zero; rebuilding a draft
is idempotent; every billing event is on exactly one statement, also when events arrive
while a statement is being issued (late events go to the next open month)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, time
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.applications.tables import Application
from marketplace.loancalc import SHANGHAI
from marketplace.settlement import billing, queries, services
from marketplace.settlement.periods import current_month, previous_month
from marketplace.settlement.queries import LineFilters
from marketplace.settlement.statuses import CreditReason
from marketplace.settlement.tables import BillingEvent, Statement
from tests import factories
from tests.settlement_factories import lead, terms

LAST_MONTH = previous_month(current_month())
_codes = itertools.count(1)
_templates: dict[int, int] = {}

PROPERTY_SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def in_month(month: date, day: int, hour: int = 12) -> datetime:
    return datetime.combine(month.replace(day=day), time(hour), tzinfo=SHANGHAI).astimezone(UTC)


async def _institution() -> int:
    number = next(_codes)
    return await factories.institution(f"prop-{number}", f"属性测试{number}")


async def _applications(world, institution_id: int, count: int) -> list[int]:
    """`count` applications of the institution, copied from one real one by SQL."""
    template = _templates.get(world.bank_id)
    if template is None or not await Application.exists().where(Application.id == template):
        _templates[world.bank_id] = await factories.application_in(world, "delivered")
    rows = await Application.raw(
        "INSERT INTO application (reference, borrower, product, product_version, institution, "
        "consent, amount, term_months, repayment_method, status, shared_data_encrypted, "
        "submission_key, submitted_at, updated_at, city, delivered_at, rejection_reason, "
        "rejection_note) SELECT 'P' || {} || '-' || g, borrower, product, product_version, {}, "
        "consent, amount, term_months, repayment_method, 'delivered', shared_data_encrypted, "
        "md5(random()::text), now(), now(), city, now(), '', '' "
        "FROM application, generate_series(1, {}) AS g WHERE id = {} RETURNING id",
        f"{institution_id}-{next(_codes)}",
        institution_id,
        count,
        _templates[world.bank_id],
    )
    return [r["id"] for r in rows]


charges = st.lists(
    st.tuples(
        st.sampled_from(["cpl", "cpa", "cps"]),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
        st.integers(min_value=1, max_value=28),  # day of the month
        st.sampled_from([None, *CreditReason]),  # credited, and why
    ),
    min_size=1,
    max_size=25,
)
caps = st.tuples(
    st.one_of(st.none(), st.integers(min_value=1, max_value=10)),
    st.one_of(st.none(), st.decimals(min_value=Decimal("1"), max_value=Decimal("50000"), places=2)),
)


async def _month(world, rows, cap) -> int:
    """One institution's month of events written straight into billing_event (three
    agreements, one per model, each with the drawn caps) and the drawn credits."""
    institution_id = await _institution()
    agreements = {}
    for model in ("cpl", "cpa", "cps"):
        agreements[model] = await terms(
            institution_id,
            model,
            "0.01" if model == "cps" else "30",
            replace=model == "cpl",
            monthly_unit_cap=cap[0],
            monthly_fee_cap=cap[1],
        )
    applications = await _applications(world, institution_id, len(rows))
    for application_id, (model, amount, day, reason) in zip(applications, rows, strict=True):
        inserted = await BillingEvent.raw(
            "INSERT INTO billing_event (institution, application, kind, agreement, "
            "agreement_version, amount, base_amount, occurred_at, period, borrower_key, "
            "created_at) VALUES ({}, {}, {}, {}, 1, {}, {}, {}, {}, '', now()) RETURNING id",
            institution_id,
            application_id,
            model,
            agreements[model],
            amount,
            amount * 100 if model == "cps" else None,
            in_month(LAST_MONTH, day),
            LAST_MONTH,
        )
        if reason is not None:
            await billing.credit_event(
                inserted[0]["id"], reason, at=in_month(LAST_MONTH, min(day + 1, 28))
            )
    await services.build_statements(LAST_MONTH)
    return institution_id


async def _statement(institution_id: int, period: date = LAST_MONTH) -> dict:
    row = (
        await Statement.select()
        .where((Statement.institution == institution_id) & (Statement.period == period))
        .first()
    )
    assert row is not None
    return row


@PROPERTY_SETTINGS
@given(rows=charges, cap=caps)
async def test_a_statements_total_is_the_sum_of_its_lines(world, rows, cap):
    operator = await factories.user(
        "operator", f"fin{next(_codes)}@loanmart.example", "finance", None, "财务"
    )
    institution_id = await _month(world, rows, cap)
    statement = await _statement(institution_id)
    lines = await queries.lines_for_export(operator, statement["id"], LineFilters())
    assert sum((line.amount for line in lines), Decimal(0)) == statement["net"]
    assert statement["total_due"] == statement["net"] + statement["vat"]
    assert statement["charges_total"] == sum(
        (line.amount for line in lines if line.kind == "charge"), Decimal(0)
    )
    assert statement["event_count"] == sum(1 for line in lines if line.kind == "charge")
    # The last running total of each model is that model's net on the statement.
    detail = await queries.statement_detail(operator, statement["id"])
    last = {line.pricing_model: line.running_total for line in lines}
    assert last == {str(s.pricing_model): s.net for s in detail.subtotals}
    # Caps only ever lower a bill, and no model's net goes below zero.
    assert statement["caps_total"] <= 0
    assert all(s.net >= 0 for s in detail.subtotals)


@PROPERTY_SETTINGS
@given(rows=charges, cap=caps)
async def test_rebuilding_a_draft_is_idempotent(world, rows, cap):
    institution_id = await _month(world, rows, cap)
    before = await _statement(institution_id)
    lines_before = await Statement.raw(
        "SELECT id, kind, amount, event, agreement, occurred_at FROM statement_line "
        "WHERE statement = {} ORDER BY id",
        before["id"],
    )
    await services.build_statements(LAST_MONTH)
    await services.build_statements(LAST_MONTH)
    after = await _statement(institution_id)
    assert {k: v for k, v in after.items() if k != "built_at"} == {
        k: v for k, v in before.items() if k != "built_at"
    }
    lines_after = await Statement.raw(
        "SELECT id, kind, amount, event, agreement, occurred_at FROM statement_line "
        "WHERE statement = {} ORDER BY id",
        before["id"],
    )
    assert lines_after == lines_before


@PROPERTY_SETTINGS
@given(
    rows=charges,
    disputes=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=24),
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal("200000"), places=2),
        ),
        max_size=6,
    ),
)
async def test_credits_and_adjustments_never_take_a_line_below_zero(world, rows, disputes):
    operator = await factories.user(
        "operator", f"fin{next(_codes)}@loanmart.example", "finance", None, "财务"
    )
    institution_id = await _month(world, rows, (None, None))
    staff = await factories.user(
        "staff", f"admin{next(_codes)}@bank.example", "institution_admin", institution_id
    )
    statement = await _statement(institution_id)
    await services.issue_statement(operator, statement["id"])
    charges_on = [
        line
        for line in await queries.lines_for_export(staff, statement["id"], LineFilters())
        if line.kind == "charge"
    ]
    for index, amount in disputes:
        line = charges_on[index % len(charges_on)]
        try:
            dispute_id = await services.dispute_line(staff, statement["id"], line.line_ref, "不认")
        except services.DomainError:
            continue  # nothing left to adjust on it, or already disputed
        try:
            await services.adjudicate_dispute(operator, dispute_id, True, "", amount)
        except services.ValidationFailed:
            await services.adjudicate_dispute(operator, dispute_id, True, "", None)
    # And a late credit of every event: what remains, never more.
    for line in charges_on:
        await billing.credit_event(int(line.line_ref[2:]), CreditReason.FRAUD)
    nets = await BillingEvent.raw(
        "SELECT e.id, e.amount - coalesce((SELECT sum(c.amount) FROM billing_credit c "
        "WHERE c.event = e.id), 0) + coalesce((SELECT sum(l.amount) FROM statement_line l "
        "WHERE l.event = e.id AND l.kind = 'adjustment'), 0) AS net "
        "FROM billing_event e WHERE e.institution = {}",
        institution_id,
    )
    assert all(row["net"] >= 0 for row in nets)
    assert all(row["net"] == 0 for row in nets), "the fraud credits took what was left"
    after = await _statement(institution_id)
    assert after["net"] >= 0


steps = st.lists(
    st.one_of(
        st.tuples(st.just("bill"), st.integers(min_value=0, max_value=1), st.integers(1, 28)),
        st.tuples(st.just("issue"), st.just(0), st.just(0)),
        st.tuples(st.just("build"), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=15,
)


@PROPERTY_SETTINGS
@given(plan=steps)
async def test_every_event_is_on_exactly_one_statement_whatever_the_order(world, plan):
    """Leads of the last two months billed, built and issued in any order: each event's
    month is one whose statement was open when it was billed, and an issued statement's
    totals are exactly its events'."""
    operator = await factories.user(
        "operator", f"fin{next(_codes)}@loanmart.example", "finance", None, "财务"
    )
    institution_id = await _institution()
    await terms(institution_id, "cpl", "30")
    two_months_ago = previous_month(LAST_MONTH)
    issued_before: dict[date, int] = {}
    for action, back, day in plan:
        if action == "bill":
            month = LAST_MONTH if back == 0 else two_months_ago
            [application_id] = await _applications(world, institution_id, 1)
            await Application.update({Application.delivered_at: in_month(month, day)}).where(
                Application.id == application_id
            )
            await billing.bill("cpl", application_id)
        elif action == "build":
            for month in (two_months_ago, LAST_MONTH):
                await services.build_statements(month)
        else:
            drafts = await Statement.select(Statement.id, Statement.period).where(
                (Statement.institution == institution_id) & (Statement.status == "draft")
            )
            for draft in drafts:
                await services.issue_statement(operator, draft["id"])
                issued_before[draft["period"]] = (
                    await _statement(institution_id, draft["period"])
                )["event_count"]
    for month in (two_months_ago, LAST_MONTH):
        await services.build_statements(month)
    statements = {
        row["period"]: row
        for row in await Statement.select().where(Statement.institution == institution_id)
    }
    events = await BillingEvent.select(BillingEvent.period, BillingEvent.amount).where(
        BillingEvent.institution == institution_id
    )
    for period, statement in statements.items():
        mine = [e for e in events if e["period"] == period]
        assert statement["event_count"] == len(mine)
        assert statement["charges_total"] == sum((e["amount"] for e in mine), Decimal(0))
        if period in issued_before:
            assert statement["event_count"] == issued_before[period], "issued gained a line"
    # Every event is on one statement: its month's, or this month's (not built until it ends).
    assert all(e["period"] in statements or e["period"] == current_month() for e in events)


async def test_events_billed_while_a_statement_is_issued_go_to_the_next_open_month(world):
    operator = await factories.user("operator", "fin@loanmart.example", "finance", None, "财务")
    await terms(world.bank_id, "cpl", "30")
    first = await lead(world, in_month(LAST_MONTH, 5))
    await billing.bill("cpl", first)
    await services.build_statements(LAST_MONTH)
    statement = await _statement(world.bank_id)
    late = await _applications(world, world.bank_id, 12)
    for application_id in late:
        await Application.update({Application.delivered_at: in_month(LAST_MONTH, 20)}).where(
            Application.id == application_id
        )
    # Concurrent: the issue and twelve bill jobs, each in its own transaction.
    await asyncio.gather(
        *(billing.bill("cpl", application_id) for application_id in late[:6]),
        services.issue_statement(operator, statement["id"]),
        *(billing.bill("cpl", application_id) for application_id in late[6:]),
    )
    issued = await _statement(world.bank_id)
    on_it = await BillingEvent.select(BillingEvent.amount).where(
        (BillingEvent.institution == world.bank_id) & (BillingEvent.period == LAST_MONTH)
    )
    assert issued["status"] == "issued"
    assert issued["event_count"] == len(on_it)
    assert issued["charges_total"] == sum((e["amount"] for e in on_it), Decimal(0))
    later = await BillingEvent.count().where(
        (BillingEvent.institution == world.bank_id) & (BillingEvent.period == current_month())
    )
    assert len(on_it) + later == 13
