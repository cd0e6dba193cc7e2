"""Statements (PRODUCT.md A11, I10, §5): built set-based for ended months only, idempotent
drafts, caps and credits as lines, VAT apart; the lifecycle draft → issued → confirmed |
disputed → adjusted → settled with every verb; tenancy and hostile input."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from marketplace.audit.tables import AuditEntry
from marketplace.errors import (
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from marketplace.inbox.tables import InboxItem
from marketplace.loancalc import SHANGHAI, today_shanghai
from marketplace.parameters.services import change_parameter
from marketplace.settlement import billing, queries, services
from marketplace.settlement.periods import current_month, next_month, previous_month
from marketplace.settlement.queries import LineFilters, StatementFilters
from marketplace.settlement.tables import BillingEvent, Statement, StatementLine
from tests import factories
from tests.settlement_factories import billed_lead, borrower, lead, terms

LAST_MONTH = previous_month(current_month())


def in_month(month: date, day: int = 10, hour: int = 12) -> datetime:
    return datetime.combine(month.replace(day=day), time(hour), tzinfo=SHANGHAI).astimezone(UTC)


async def finance_operator():
    return await factories.user("operator", "finance@loanmart.example", "finance", None, "财务")


async def _statement(institution_id: int, period: date = LAST_MONTH) -> dict:
    row = (
        await Statement.select()
        .where((Statement.institution == institution_id) & (Statement.period == period))
        .first()
    )
    assert row is not None
    return row


async def _built(world, leads: int = 3, **caps: object) -> dict:
    await terms(world.bank_id, "cpl", "30", **caps)
    for day in range(leads):
        await billed_lead(world, in_month(LAST_MONTH, 3 + day))
    assert await services.build_statements(LAST_MONTH) == 1
    return await _statement(world.bank_id)


async def _lines(statement_id: int) -> list[dict]:
    return (
        await StatementLine.select(
            StatementLine.id,
            StatementLine.kind,
            StatementLine.amount,
            StatementLine.event,
            StatementLine.agreement,
        )
        .order_by(StatementLine.id)
        .where(StatementLine.statement == statement_id)
    )


async def test_only_ended_months_can_be_built(world):
    with pytest.raises(DomainError):
        await services.build_statements(current_month())
    with pytest.raises(DomainError):
        await services.build_statements(next_month(current_month()))
    with pytest.raises(DomainError):
        await services.build_statements(LAST_MONTH.replace(day=2))


async def test_a_month_is_charged_credited_and_taxed_apart(world):
    await terms(world.bank_id, "cpl", "30")
    same = await borrower(11)
    await billed_lead(world, in_month(LAST_MONTH, 2))
    await billed_lead(world, in_month(LAST_MONTH, 3), borrower_actor=same)
    await billed_lead(world, in_month(LAST_MONTH, 4), borrower_actor=same)  # a duplicate
    await services.build_statements(LAST_MONTH)
    statement = await _statement(world.bank_id)
    assert statement["status"] == "draft"
    assert statement["event_count"] == 3
    assert statement["charges_total"] == Decimal("90.00")
    assert statement["credits_total"] == Decimal("-30.00")
    assert statement["net"] == Decimal("60.00")
    assert statement["vat_rate"] == Decimal("0.0600")
    assert statement["vat"] == Decimal("3.60")
    assert statement["total_due"] == Decimal("63.60")
    assert await _lines(statement["id"]) == [], "credits are not copied into lines"
    operator = await finance_operator()
    [credit] = await queries.lines_for_export(operator, statement["id"], LineFilters(kind="credit"))
    assert (credit.amount, credit.reason, credit.line_ref[:2]) == (
        Decimal("-30.00"),
        "duplicate",
        "c:",
    )
    assert not credit.disputable


async def test_the_monthly_unit_cap_becomes_a_cap_line(world):
    statement = await _built(world, leads=3, monthly_unit_cap=2)
    assert statement["charges_total"] == Decimal("90.00")
    assert statement["caps_total"] == Decimal("-30.00")
    assert statement["net"] == Decimal("60.00")
    [cap] = await _lines(statement["id"])
    assert (cap["kind"], cap["amount"]) == ("cap", Decimal("-30.00"))


async def test_the_monthly_fee_cap_counts_only_events_not_credited(world):
    await terms(world.bank_id, "cpl", "30", monthly_fee_cap=Decimal("50"))
    operator = await finance_operator()
    events = []
    for day in range(3):
        events.append(await billed_lead(world, in_month(LAST_MONTH, 3 + day)))
    row = (
        await BillingEvent.select(BillingEvent.application)
        .where(BillingEvent.id == events[0])
        .first()
    )
    # Flagged while last month's statement is still a draft: credited on it.
    await billing.credit_event(events[0], billing.CreditReason.FRAUD, at=in_month(LAST_MONTH, 20))
    assert row is not None and operator is not None
    await services.build_statements(LAST_MONTH)
    statement = await _statement(world.bank_id)
    # 90 charged − 30 credited = 60 net charges, capped at 50: a cap line of −10.
    assert statement["credits_total"] == Decimal("-30.00")
    assert statement["caps_total"] == Decimal("-10.00")
    assert statement["net"] == Decimal("50.00")


async def test_rebuilding_a_draft_changes_nothing(world):
    same = await borrower(12)
    await terms(world.bank_id, "cpl", "30", monthly_unit_cap=2)
    for day in range(4):
        await billed_lead(world, in_month(LAST_MONTH, 3 + day), borrower_actor=same)
    await services.build_statements(LAST_MONTH)
    first = await _statement(world.bank_id)
    first_lines = await _lines(first["id"])
    assert await services.build_statements(LAST_MONTH) == 1
    operator = await finance_operator()
    await services.rebuild_statement(operator, first["id"])
    again = await _statement(world.bank_id)
    ignore = {"built_at"}
    assert {k: v for k, v in again.items() if k not in ignore} == {
        k: v for k, v in first.items() if k not in ignore
    }
    assert await _lines(first["id"]) == first_lines


async def test_a_new_event_in_a_draft_month_is_picked_up_by_a_rebuild(world):
    statement = await _built(world, leads=2)
    await billed_lead(world, in_month(LAST_MONTH, 25))
    await services.build_statements(LAST_MONTH)
    again = await _statement(world.bank_id)
    assert again["id"] == statement["id"]
    assert again["charges_total"] == Decimal("90.00")


async def test_issuing_notifies_and_later_events_go_to_the_next_open_month(world):
    statement = await _built(world, leads=2)
    operator = await finance_operator()
    await services.issue_statement(operator, statement["id"])
    issued = await _statement(world.bank_id)
    assert issued["status"] == "issued" and issued["issued_at"] is not None
    notices = await InboxItem.select(InboxItem.title, InboxItem.link).where(
        InboxItem.recipient == world.staff.user_id
    )
    assert any(
        "结算单" in n["title"] and n["link"] == f"/console/settlement/{statement['id']}"
        for n in notices
    )
    # A lead delivered last month but billed only now lands on this month's statement.
    late = await lead(world, in_month(LAST_MONTH, 28))
    event_id = await billing.bill("cpl", late)
    event = (
        await BillingEvent.select(BillingEvent.period).where(BillingEvent.id == event_id).first()
    )
    assert event["period"] == current_month()
    await services.build_statements(LAST_MONTH)
    assert (await _statement(world.bank_id))["charges_total"] == Decimal("60.00")
    with pytest.raises(InvalidTransition):
        await services.issue_statement(operator, statement["id"])
    with pytest.raises(InvalidTransition):
        await services.rebuild_statement(operator, statement["id"])


async def test_the_whole_lifecycle_with_a_partly_accepted_dispute(world):
    statement = await _built(world, leads=3)
    operator = await finance_operator()
    staff = world.staff
    # A draft is the operators' working copy: the institution does not see it at all.
    with pytest.raises(NotFound):
        await services.confirm_statement(staff, statement["id"])
    with pytest.raises(NotFound):
        await queries.statement_detail(staff, statement["id"])
    assert (await queries.statement_list(staff, StatementFilters(), page=1, per_page=10)).total == 0
    await services.issue_statement(operator, statement["id"])
    detail = await queries.statement_detail(staff, statement["id"])
    assert {a.name for a in detail.actions} == {"confirm", "dispute"}
    page = await queries.statement_lines(staff, statement["id"], LineFilters(), page=1, per_page=50)
    assert page.total == 3
    assert [line.running_total for line in page.rows] == [
        Decimal("30.00"),
        Decimal("60.00"),
        Decimal("90.00"),
    ]
    first_two = await queries.lines_for_export(staff, statement["id"], LineFilters(), limit=2)
    assert [line.line_ref for line in first_two] == [line.line_ref for line in page.rows[:2]]
    target = page.rows[1]
    assert target.disputable and not target.fraud_flaggable
    dispute_id = await services.dispute_line(
        staff, statement["id"], target.line_ref, "借款人未接通"
    )
    assert (await _statement(world.bank_id))["status"] == "disputed"
    with pytest.raises(DomainError):
        await services.dispute_line(staff, statement["id"], target.line_ref, "再次提出")
    queue = await queries.open_disputes(operator)
    assert [d.id for d in queue.rows] == [dispute_id]
    assert {a.name for a in queue.rows[0].actions} == {"accept", "reject"}
    with pytest.raises(PermissionDenied):
        await queries.open_disputes(staff)
    with pytest.raises(ValidationFailed):
        await services.adjudicate_dispute(operator, dispute_id, True, "", Decimal("30.01"))
    await services.adjudicate_dispute(operator, dispute_id, True, "部分采纳", Decimal("12.50"))
    adjusted = await _statement(world.bank_id)
    assert adjusted["status"] == "adjusted"
    assert adjusted["adjustments_total"] == Decimal("-12.50")
    assert adjusted["net"] == Decimal("77.50")
    assert adjusted["vat"] == Decimal("4.65")
    assert adjusted["total_due"] == Decimal("82.15")
    with pytest.raises(InvalidTransition):
        await services.adjudicate_dispute(operator, dispute_id, False, "改判", None)
    # The rest of the line can be disputed again; a rejection needs a note.
    second = await services.dispute_line(staff, statement["id"], target.line_ref, "全部不认")
    with pytest.raises(ValidationFailed):
        await services.adjudicate_dispute(operator, second, False, "  ", None)
    await services.adjudicate_dispute(operator, second, False, "通话记录显示已接通", None)
    assert (await _statement(world.bank_id))["status"] == "adjusted"
    with pytest.raises(InvalidTransition):
        await services.record_payment(
            operator, statement["id"], Decimal("82.15"), today_shanghai(), "BANK-1"
        )
    await services.confirm_statement(staff, statement["id"])
    with pytest.raises(ValidationFailed):
        await services.record_payment(
            operator, statement["id"], Decimal("82.14"), today_shanghai(), "BANK-1"
        )
    await services.record_payment(
        operator, statement["id"], Decimal("82.15"), today_shanghai(), "BANK-1"
    )
    settled = await _statement(world.bank_id)
    assert settled["status"] == "settled"
    assert (settled["paid_amount"], settled["payment_reference"]) == (Decimal("82.15"), "BANK-1")
    actions = (
        await AuditEntry.select(AuditEntry.action)
        .where(AuditEntry.object_type == "statement")
        .order_by(AuditEntry.id)
    )
    assert [a["action"] for a in actions] == [
        "settlement.statement_issued",
        "settlement.line_disputed",
        "settlement.dispute_accepted",
        "settlement.line_disputed",
        "settlement.dispute_rejected",
        "settlement.statement_confirmed",
        "settlement.payment_recorded",
    ]
    decided = await InboxItem.count().where(InboxItem.title.like("%异议已裁定%"))
    assert decided == 2


async def test_another_institutions_statement_and_lines_are_not_found(world):
    statement = await _built(world, leads=1)
    operator = await finance_operator()
    await services.issue_statement(operator, statement["id"])
    with pytest.raises(NotFound):
        await queries.statement_detail(world.other_staff, statement["id"])
    with pytest.raises(NotFound):
        await queries.statement_lines(
            world.other_staff, statement["id"], LineFilters(), page=1, per_page=10
        )
    with pytest.raises(NotFound):
        await services.confirm_statement(world.other_staff, statement["id"])
    with pytest.raises(NotFound):
        await services.record_statement_download(world.other_staff, statement["id"], "xlsx")
    mine = await queries.statement_list(world.other_staff, StatementFilters(), page=1, per_page=10)
    assert mine.total == 0 and mine.institution_options == ()
    everyone = await queries.statement_list(operator, StatementFilters(), page=1, per_page=10)
    assert everyone.total == 1
    # The other institution's own event, offered as a line of this statement: not found.
    await terms(world.other_bank_id, "cpl", "30")
    other_world = factories.World(
        bank_id=world.other_bank_id,
        other_bank_id=world.bank_id,
        staff=world.other_staff,
        other_staff=world.staff,
        operator=world.operator,
        auditor=world.auditor,
        borrower=world.borrower,
    )
    foreign_event = await billed_lead(other_world, in_month(LAST_MONTH, 5))
    with pytest.raises(NotFound):
        await services.dispute_line(
            world.staff, statement["id"], f"e:{foreign_event}", "不是我们的"
        )
    with pytest.raises(NotFound):
        await services.dispute_line(world.staff, statement["id"], "l:999999", "不存在")


@pytest.mark.parametrize(
    "line_ref",
    ["", "e:", "e:0", "e:-1", "x:1", "e:1.5", "e:١٢", "e:1\x00", "e:" + "9" * 40, "💥", "l:e:1"],
)
async def test_garbage_line_refs_are_a_clear_error(world, line_ref):
    statement = await _built(world, leads=1)
    await services.issue_statement(await finance_operator(), statement["id"])
    with pytest.raises(DomainError) as caught:
        await services.dispute_line(world.staff, statement["id"], line_ref, "理由")
    assert "明细" in caught.value.message


@pytest.mark.parametrize(
    ("reason", "accepted"),
    [
        ("", False),
        ("   ", False),
        ("含有\x00空字符", False),
        ("x" * 501, False),
        ("长" * 20_000, False),
        ("😀 借款人表示从未申请", True),
        ("多行\n说明", True),
        ("x" * 500, True),
    ],
)
async def test_hostile_dispute_reasons(world, reason, accepted):
    statement = await _built(world, leads=1)
    await services.issue_statement(await finance_operator(), statement["id"])
    page = await queries.statement_lines(
        world.staff, statement["id"], LineFilters(), page=1, per_page=10
    )
    ref = page.rows[0].line_ref
    if accepted:
        assert await services.dispute_line(world.staff, statement["id"], ref, reason)
    else:
        with pytest.raises(ValidationFailed) as caught:
            await services.dispute_line(world.staff, statement["id"], ref, reason)
        assert "reason" in caught.value.errors


async def _confirmed(world) -> tuple[dict, object]:
    statement = await _built(world, leads=2)
    operator = await finance_operator()
    await services.issue_statement(operator, statement["id"])
    await services.confirm_statement(world.staff, statement["id"])
    return await _statement(world.bank_id), operator


@pytest.mark.parametrize(
    "form",
    [
        {"amount": "-63.60"},
        {"amount": "1e9"},
        {"amount": "NaN"},
        {"amount": "63.601"},
        {"amount": "９９"},
        {"amount": "99999999999999999999"},
        {"amount": ""},
        {"paid_on": "2026-02-30"},
        {"paid_on": "2999-01-01"},
        {"paid_on": "二〇二六年"},
        {"reference": ""},
        {"reference": "REF\x00"},
        {"reference": "R" * 65},
    ],
)
async def test_hostile_payment_forms_are_refused_with_field_errors(world, form):
    statement, operator = await _confirmed(world)
    data = {
        "amount": str(statement["total_due"]),
        "paid_on": today_shanghai().isoformat(),
        "reference": "BANK-20261201",
        **form,
    }
    with pytest.raises(ValidationFailed) as caught:
        payment = services.parse_payment(data)
        await services.record_payment(
            operator, statement["id"], payment.amount, payment.paid_on, payment.reference
        )
    assert set(caught.value.errors) <= {"amount", "paid_on", "reference"}
    assert (await _statement(world.bank_id))["status"] == "confirmed"


async def test_the_payment_verb_checks_values_its_form_did_not(world):
    statement, operator = await _confirmed(world)
    due = statement["total_due"]
    for amount in (Decimal("-1"), Decimal("NaN"), Decimal("Infinity"), due + Decimal("0.001")):
        with pytest.raises(ValidationFailed):
            await services.record_payment(operator, statement["id"], amount, today_shanghai(), "R1")
    with pytest.raises(ValidationFailed):
        await services.record_payment(
            operator, statement["id"], due, today_shanghai() + timedelta(days=2), "R1"
        )
    with pytest.raises(ValidationFailed):
        await services.record_payment(operator, statement["id"], due, date(2020, 1, 1), "R1")
    with pytest.raises(ValidationFailed):
        await services.record_payment(operator, statement["id"], due, today_shanghai(), "\x00")
    with pytest.raises(PermissionDenied):
        await services.record_payment(world.staff, statement["id"], due, today_shanghai(), "R1")


async def test_the_vat_rate_is_a_parameter_captured_when_built(world):
    super_admin = await factories.user("operator", "root@loanmart.example", "super_admin")
    await change_parameter(super_admin, "vat_rate", "0.03")
    statement = await _built(world, leads=1)
    assert (statement["vat_rate"], statement["vat"]) == (Decimal("0.0300"), Decimal("0.90"))
    with pytest.raises(DomainError):
        await change_parameter(super_admin, "vat_rate", "1.5")
    with pytest.raises(DomainError):
        await change_parameter(super_admin, "vat_rate", "abc")


async def test_downloads_are_audited_and_formats_checked(world):
    statement = await _built(world, leads=1)
    operator = await finance_operator()
    with pytest.raises(NotFound):
        await services.record_statement_download(world.staff, statement["id"], "print")
    await services.issue_statement(operator, statement["id"])
    await services.record_statement_download(operator, statement["id"], "xlsx")
    await services.record_statement_download(world.staff, statement["id"], "print")
    with pytest.raises(DomainError):
        await services.record_statement_download(operator, statement["id"], "pdf")
    assert (
        await AuditEntry.count().where(AuditEntry.action == "settlement.statement_downloaded") == 2
    )
    rows = await queries.lines_for_export(operator, statement["id"], LineFilters())
    assert [r.amount for r in rows] == [Decimal("30.00")]


async def test_roles_without_the_permission_see_nothing(world):
    officer = await factories.user(
        "staff", "officer@test-bank.example", "loan_officer", world.bank_id
    )
    reviewer = world.operator  # a product reviewer
    for actor in (officer, reviewer, world.borrower):
        with pytest.raises(PermissionDenied):
            await queries.statement_list(actor, StatementFilters(), page=1, per_page=10)
    auditor = world.auditor
    statement = await _built(world, leads=1)
    detail = await queries.statement_detail(auditor, statement["id"])
    assert len(detail.actions) == 0, "read-only"
    with pytest.raises(PermissionDenied):
        await services.issue_statement(auditor, statement["id"])


async def test_the_cron_builds_last_month_once_from_two_oclock_on_the_first(world):
    from marketplace import jobs
    from marketplace.outbox.tables import OutboxMessage
    from marketplace.settlement.building import schedule_last_month

    await terms(world.bank_id, "cpl", "30")
    await billed_lead(world, in_month(LAST_MONTH, 12))
    first_day = datetime.combine(current_month(), time(1, 30), tzinfo=SHANGHAI)
    assert not await schedule_last_month(first_day), "before 02:00 on the 1st"
    assert await schedule_last_month(first_day + timedelta(hours=1))
    payloads = [
        row["payload"]
        for row in await OutboxMessage.select(OutboxMessage.payload)
        .where(OutboxMessage.job == "settlement.build_statements")
        .output(load_json=True)
    ]
    assert {"period": LAST_MONTH.isoformat(), "institution_id": 0} in payloads
    await jobs.run_until_idle()
    statement = await _statement(world.bank_id)
    assert (statement["status"], statement["charges_total"]) == ("draft", Decimal("30.00"))
    assert not await schedule_last_month(first_day + timedelta(hours=2)), "built already"


async def test_a_charge_landing_in_an_ended_draft_month_rebuilds_it(world):
    from marketplace import jobs

    statement = await _built(world, leads=1)
    await billed_lead(world, in_month(LAST_MONTH, 27))  # its job records the rebuild
    await jobs.run_until_idle()
    again = await _statement(world.bank_id)
    assert again["id"] == statement["id"]
    assert again["charges_total"] == Decimal("60.00")


@pytest.mark.parametrize(
    "form",
    [
        {"decision": ""},
        {"decision": "maybe"},
        {"decision": "reject", "note": ""},
        {"decision": "reject", "note": "x\x00"},
        {"decision": "accept", "amount": "-1"},
        {"decision": "accept", "amount": "0"},
        {"decision": "accept", "amount": "1.001"},
        {"decision": "accept", "amount": "1e3"},
        {"decision": "accept", "amount": "١٢"},
        {"decision": "accept", "amount": "9" * 40},
        {"decision": "accept", "note": "长" * 20_000},
    ],
)
def test_hostile_adjudication_forms_are_field_errors(form):
    with pytest.raises(ValidationFailed) as caught:
        services.parse_adjudication(form)
    assert set(caught.value.errors) <= {"decision", "note", "amount"}


def test_adjudication_and_dispute_forms_read_good_values():
    accepted = services.parse_adjudication({"decision": "accept", "amount": "12.50"})
    assert (accepted.accept, accepted.amount, accepted.note) == (True, Decimal("12.50"), "")
    whole = services.parse_adjudication({"decision": "accept", "amount": " "})
    assert whole.amount is None
    rejected = services.parse_adjudication({"decision": "reject", "note": "已接通"})
    assert (rejected.accept, rejected.note) == (False, "已接通")
    assert services.parse_dispute({"reason": " 未接通 "}) == "未接通"
    with pytest.raises(ValidationFailed):
        services.parse_dispute({})
    with pytest.raises(ValidationFailed):
        services.parse_fraud({"reason": "\x00"})
    assert queries.parse_period("2026-11") == date(2026, 11, 1)
    for raw in ("", "2026-13", "2026-1", "２０２６-11", "1999-12", "2026-11-05x", None):
        assert queries.parse_period(raw) is None


async def test_parallel_disputes_and_payments_take_effect_once(world):
    import asyncio

    statement = await _built(world, leads=1)
    operator = await finance_operator()
    await services.issue_statement(operator, statement["id"])
    [line] = (
        await queries.statement_lines(
            world.staff, statement["id"], LineFilters(), page=1, per_page=10
        )
    ).rows
    raised = await asyncio.gather(
        *(
            services.dispute_line(world.staff, statement["id"], line.line_ref, f"理由{i}")
            for i in range(5)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, int) for r in raised) == 1
    assert all(isinstance(r, int | DomainError) for r in raised), raised
    [dispute_id] = [r for r in raised if isinstance(r, int)]
    decided = await asyncio.gather(
        services.adjudicate_dispute(operator, dispute_id, False, "已核实", None),
        services.adjudicate_dispute(operator, dispute_id, True, "", None),
        return_exceptions=True,
    )
    assert sum(r is None for r in decided) == 1
    await services.confirm_statement(world.staff, statement["id"])
    due = (await _statement(world.bank_id))["total_due"]
    paid = await asyncio.gather(
        *(
            services.record_payment(operator, statement["id"], due, today_shanghai(), f"R{i}")
            for i in range(3)
        ),
        return_exceptions=True,
    )
    assert sum(r is None for r in paid) == 1
    assert all(r is None or isinstance(r, InvalidTransition) for r in paid), paid
