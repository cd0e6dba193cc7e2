"""Loan verbs: an institution reports a disbursement and repayments; the daily overdue run
(jobs.py) ages loans. Each verb: permission → transaction → row lock → transition table →
write → audit row.

Which applications can be disbursed: only `accepted` ones, i.e. the borrower signed the
institution's offer (offers context). The loan's terms are the signed offer's; the
institution reports only the date, the amount (at most the signed amount) and the account.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marketplace.actors import SYSTEM, Actor
from marketplace.applications.statuses import ApplicationStatus
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.loancalc import LoanInputError, quote, today_shanghai
from marketplace.loans import ledger
from marketplace.loans.ledger import Line
from marketplace.loans.statuses import (
    LOAN_MACHINE,
    MONITOR,
    InstalmentStatus,
    LoanStatus,
    RepaymentKind,
    action_to,
    bucket_of,
    status_for,
)
from marketplace.loans.tables import Instalment, Loan, Repayment
from marketplace.money import FEN, format_cny, to_fen
from marketplace.offers.queries import signed_terms

# The daily run's actor: it may only let loans fall due.
LOAN_MONITOR = replace(SYSTEM, permissions=frozenset({MONITOR}))

IDEMPOTENCY_KEY_LENGTHS = (8, 64)


def mask_account(number: str) -> str:
    digits = "".join(ch for ch in number if not ch.isspace())
    if not (digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 30):
        raise DomainError(_("收款账号应为8至30位数字"), field="receiving_account")
    return "****" + digits[-4:]


async def report_disbursement(
    actor: Actor, application_id: int, disbursed_on: date, amount: Decimal, receiving_account: str
) -> int:
    """The institution paid out an accepted application of its own: create the loan and its
    plan from the cost engine, on the terms of the offer the borrower signed (never on terms
    typed at disbursement). Returns the loan id."""
    if not actor.can("loan.disburse"):
        raise PermissionDenied()
    principal = to_fen(amount)
    masked = mask_account(receiving_account)
    if disbursed_on > today_shanghai():
        raise DomainError(_("放款日期不能晚于今天"), field="disbursed_on")
    async with transaction():
        application = (
            await Application.select(
                Application.id,
                Application.status,
                Application.borrower,
                Application.product,
            )
            .where(
                (Application.id == application_id)
                & (Application.institution == actor.institution_id)
            )
            .lock_rows()
            .first()
        )
        if application is None:
            raise NotFound(_("找不到该申请"))
        if await Loan.exists().where(Loan.application == application_id):
            raise InvalidTransition(_("该申请已登记放款"))
        terms = await signed_terms(application_id)
        if application["status"] != ApplicationStatus.ACCEPTED or terms is None:
            raise InvalidTransition(_("借款人签约后才能登记放款"))
        if not FEN <= principal <= terms.amount:
            raise DomainError(
                _(
                    "放款金额须大于0且不超过签约金额{amount}",
                    amount=format_cny(terms.amount),
                ),
                field="amount",
            )
        try:
            plan = quote(
                principal,
                terms.term_months,
                terms.repayment_method,
                terms.rate,
                terms.rate_period,
                terms.fees,
                disbursed_on,
                day_count=terms.day_count,
            )
        except LoanInputError as exc:
            raise DomainError(exc.message, field=exc.field) from exc
        rows = await Loan.insert(
            Loan(
                application=application_id,
                institution=actor.institution_id,
                borrower=application["borrower"],
                product=application["product"],
                principal=plan.principal,
                rate=terms.rate,
                rate_period=str(terms.rate_period),
                day_count=terms.day_count,
                term_months=plan.term_months,
                repayment_method=str(plan.method),
                fees=[fee.to_dict() for fee in plan.fees],
                upfront_fees=plan.upfront_fees,
                disbursed_on=disbursed_on,
                receiving_account_masked=masked,
                status=LoanStatus.DISBURSED,
            )
        ).returning(Loan.id)
        loan_id: int = rows[0]["id"]
        await Instalment.insert(
            *(
                Instalment(
                    loan=loan_id,
                    number=row.period,
                    due_on=row.due_date,
                    principal_due=row.principal,
                    interest_due=row.interest,
                    fee_due=row.fees,
                )
                for row in plan.schedule
            )
        )
        await audit(
            actor,
            "loan.disburse",
            "loan",
            loan_id,
            application=application_id,
            principal=str(plan.principal),
            term_months=plan.term_months,
        )
    return loan_id


def _lines(rows: list[dict[str, Any]]) -> list[Line]:
    return [
        Line(
            number=row["number"],
            due_on=row["due_on"],
            principal_due=row["principal_due"],
            interest_due=row["interest_due"],
            fee_due=row["fee_due"],
            principal_paid=row["principal_paid"],
            interest_paid=row["interest_paid"],
            fee_paid=row["fee_paid"],
            paid_on=row["paid_on"],
            status=InstalmentStatus(row["status"]),
        )
        for row in rows
    ]


_LINE_FIELDS = (
    "interest_due",
    "fee_due",
    "principal_paid",
    "interest_paid",
    "fee_paid",
    "paid_on",
    "status",
)


def _check_kind(kind: RepaymentKind, amount: Decimal, lines: list[Line], on: date) -> None:
    """An amount that does not fit its kind is refused, so reports say what was paid."""
    if kind is RepaymentKind.EARLY_SETTLEMENT:
        due = ledger.settlement_amount(lines, on)
        if amount != due:
            raise DomainError(_("该日提前结清应还{amount}", amount=format_cny(due)), field="amount")
        return
    owed = ledger.outstanding(lines)
    if amount > owed:
        raise DomainError(
            _("还款金额超过剩余应还{amount}", amount=format_cny(owed)), field="amount"
        )
    current = ledger.open_lines(lines)[0].remaining
    if kind is RepaymentKind.INSTALMENT and amount < current:
        raise DomainError(_("金额不足以还清当期，请登记为部分还款"), field="kind")
    if kind is RepaymentKind.PARTIAL and amount >= current:
        raise DomainError(_("金额已足额还清当期，请登记为按期还款"), field="kind")


def move_to(current: LoanStatus, target: LoanStatus, actor: Actor) -> None:
    """Check `current` → `target` against the table; falling due is the monitor's step,
    whoever's write revealed it."""
    action = action_to(current, target)
    if action is None:
        return
    transition = LOAN_MACHINE.transitions(current)[action]
    LOAN_MACHINE.target(
        current, action, LOAN_MONITOR if transition.permission == MONITOR else actor
    )


async def report_repayment(
    actor: Actor,
    loan_id: int,
    amount: Decimal,
    paid_on: date,
    kind: str,
    idempotency_key: str,
) -> int:
    """Record money the institution received for one of its loans; returns the repayment
    id. The same idempotency key again returns the first repayment and changes nothing."""
    if not actor.can("loan.record_repayment"):
        raise PermissionDenied()
    amount = to_fen(amount)
    try:
        repayment_kind = RepaymentKind(kind)
    except ValueError:
        raise DomainError(_("请选择还款类型"), field="kind") from None
    low, high = IDEMPOTENCY_KEY_LENGTHS
    if not low <= len(idempotency_key) <= high:
        raise DomainError(_("表单已过期，请刷新页面后重新提交"), field="idempotency_key")
    if amount < FEN:
        raise DomainError(_("还款金额须大于0"), field="amount")
    today = today_shanghai()
    if paid_on > today:
        raise DomainError(_("还款日期不能晚于今天"), field="paid_on")
    async with transaction():
        # The loan row lock serialises reports on one loan, duplicates included.
        loan = (
            await Loan.select(Loan.id, Loan.status, Loan.disbursed_on)
            .where((Loan.id == loan_id) & (Loan.institution == actor.institution_id))
            .lock_rows()
            .first()
        )
        if loan is None:
            raise NotFound(_("找不到该贷款"))
        earlier = (
            await Repayment.select(
                Repayment.id, Repayment.amount, Repayment.paid_on, Repayment.kind
            )
            .where((Repayment.loan == loan_id) & (Repayment.idempotency_key == idempotency_key))
            .first()
        )
        if earlier is not None:
            if (earlier["amount"], earlier["paid_on"], earlier["kind"]) != (
                amount,
                paid_on,
                repayment_kind,
            ):
                raise DomainError(_("该还款已登记过，内容不同，请刷新页面后重新登记"))
            return int(earlier["id"])
        current = LoanStatus(loan["status"])
        if current is LoanStatus.SETTLED:
            LOAN_MACHINE.target(current, "repay", actor)  # raises: the loan is closed
        if paid_on < loan["disbursed_on"]:
            raise DomainError(_("还款日期不能早于放款日期"), field="paid_on")
        rows = (
            await Instalment.select().where(Instalment.loan == loan_id).order_by(Instalment.number)
        )
        lines = _lines(rows)
        before = {line.number: [getattr(line, f) for f in _LINE_FIELDS] for line in lines}
        _check_kind(repayment_kind, amount, lines, paid_on)
        if repayment_kind is RepaymentKind.EARLY_SETTLEMENT:
            allocation = ledger.apply_settlement(lines, paid_on)
        else:
            allocation = ledger.apply_payment(lines, amount, paid_on)
        for line, row in zip(lines, rows, strict=True):
            if [getattr(line, f) for f in _LINE_FIELDS] != before[line.number]:
                await Instalment.update(
                    {getattr(Instalment, f): getattr(line, f) for f in _LINE_FIELDS}
                ).where(Instalment.id == row["id"])
        repayment = await Repayment.insert(
            Repayment(
                loan=loan_id,
                amount=amount,
                principal_part=allocation.principal,
                interest_part=allocation.interest,
                fee_part=allocation.fee,
                paid_on=paid_on,
                kind=repayment_kind,
                reported_by=actor.user_id,
                idempotency_key=idempotency_key,
            )
        ).returning(Repayment.id)
        dpd = ledger.days_past_due(lines, today)
        settled = ledger.all_paid(lines)
        target = status_for(current, all_paid=settled, dpd=dpd, any_paid=True)
        move_to(current, target, actor)
        await Loan.update(
            {
                Loan.status: target,
                Loan.dpd: 0 if settled else dpd,
                Loan.dpd_bucket: bucket_of(0 if settled else dpd),
                Loan.settled_on: paid_on if settled else None,
                Loan.version: Loan.version + 1,
                Loan.updated_at: datetime.now(UTC),
            }
        ).where(Loan.id == loan_id)
        repayment_id: int = repayment[0]["id"]
        await audit(
            actor,
            "loan.repayment",
            "loan",
            loan_id,
            repayment=repayment_id,
            kind=str(repayment_kind),
            amount=str(amount),
            status=str(target),
        )
    return repayment_id
