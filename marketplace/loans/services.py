"""Loan verbs: an institution reports a disbursement and repayments; the daily overdue run
(jobs.py) ages loans. Each verb: permission → transaction → row lock → transition table →
write → audit row.

Which applications can be disbursed: only `accepted` ones, i.e. the borrower signed the
institution's offer (offers context). The loan's terms are the signed offer's; the
institution reports only the date, the amount (at most the signed amount) and the account.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from marketplace import outbox
from marketplace.actors import SYSTEM, Actor
from marketplace.applications.statuses import ApplicationStatus
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.i18n import N_, _
from marketplace.inbox.services import notify_borrower, notify_users
from marketplace.loancalc import MAX_PRINCIPAL, LoanInputError, quote, today_shanghai
from marketplace.loans import ledger
from marketplace.loans.ledger import Allocation, Line
from marketplace.loans.queries import kind_choices
from marketplace.loans.statuses import (
    LOAN_MACHINE,
    MONITOR,
    LoanEventKind,
    LoanStatus,
    RepaymentKind,
    action_to,
    bucket_of,
    status_for,
)
from marketplace.loans.tables import Instalment, Loan, LoanEvent, Repayment
from marketplace.money import FEN, format_cny, to_fen
from marketplace.offers.queries import signed_terms
from marketplace.parsing import FormReader, parse_choice, parse_date, parse_money, parse_text
from marketplace.webhooks.services import publish

BORROWER_LOANS = "/me/loans"

# The daily run's actor: it may only let loans fall due.
LOAN_MONITOR = replace(SYSTEM, permissions=frozenset({MONITOR}))

# A repayment's reference (the institution's bank serial, 流水号) is its idempotency key.
REFERENCE_MAX_LENGTH = 64


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
                Application.institution,
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
                principal_outstanding=plan.principal,
            )
        ).returning(Loan.id)
        loan_id: int = rows[0]["id"]
        await LoanEvent.insert(
            LoanEvent(
                loan=loan_id,
                institution=actor.institution_id,
                kind=LoanEventKind.DISBURSED,
                occurred_on=disbursed_on,
                amount=plan.principal,
            )
        )
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
        # Billed by settlement (CPS) by job name: settlement imports loans, not vice versa.
        await outbox.record("settlement.bill", kind="cps", application_id=application_id)
        await publish(application["institution"], "loan.disbursed", loan_id=loan_id)
        await notify_borrower(
            application["borrower"],
            "loan.disbursed",
            _("您的借款已放款 {amount}，请查看还款计划", amount=format_cny(plan.principal)),
            BORROWER_LOANS,
            sms=_("【LoanMart】您的借款已放款，还款计划请登录查看。"),
        )
    return loan_id


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


# The receiving account as typed; mask_account checks it is 8 to 30 digits.
ACCOUNT_MAX_LENGTH = 40


@dataclass(frozen=True)
class DisbursementForm:
    disbursed_on: date
    amount: Decimal
    receiving_account: str


def parse_disbursement(data: Mapping[str, Any]) -> DisbursementForm:
    """A disbursement as the console's form or the Open API sends it; every error at once."""
    form = FormReader(data)
    disbursed_on = form.field("disbursed_on", parse_date, date.min, label=_("放款日期"))
    amount = form.field("amount", parse_money, Decimal(0), label=_("放款金额"))
    account = form.field(
        "receiving_account",
        parse_text,
        "",
        label=_("收款账号"),
        min_length=1,
        max_length=ACCOUNT_MAX_LENGTH,
    )
    form.raise_errors()
    return DisbursementForm(disbursed_on, amount, account)


@dataclass(frozen=True)
class RepaymentForm:
    amount: Decimal
    paid_on: date
    kind: str
    reference: str


def parse_repayment(data: Mapping[str, Any]) -> RepaymentForm:
    """One repayment as the console's form or the Open API sends it; every error at once."""
    form = FormReader(data)
    amount = form.field(
        "amount", parse_money, Decimal(0), label=_("还款金额"), maximum=MAX_PRINCIPAL * 2
    )
    paid_on = form.field("paid_on", parse_date, date.min, label=_("还款日期"))
    kind = form.field("kind", parse_choice, "", choices=kind_choices(), label=_("还款类型"))
    reference = form.field(
        "reference",
        parse_text,
        "",
        label=_("流水号"),
        min_length=1,
        max_length=REFERENCE_MAX_LENGTH,
    )
    form.raise_errors()
    return RepaymentForm(amount, paid_on, kind, reference)


@dataclass(frozen=True)
class RepaymentReport:
    """One repayment as reported (form, file row): checked, not yet applied."""

    amount: Decimal
    paid_on: date
    kind: RepaymentKind
    reference: str


def repayment_report(amount: Decimal, paid_on: date, kind: str, reference: str) -> RepaymentReport:
    """The checks that need no loan: kind, reference, amount > 0, date not in the future."""
    try:
        repayment_kind = RepaymentKind(kind)
    except ValueError:
        raise DomainError(_("请选择还款类型"), field="kind") from None
    text = reference.strip()
    if not (
        1 <= len(text) <= REFERENCE_MAX_LENGTH and text.isascii() and text.isprintable()
    ) or any(ch.isspace() for ch in text):
        raise DomainError(
            _("流水号应为1至{n}位字母、数字或符号，不含空格", n=REFERENCE_MAX_LENGTH),
            field="reference",
        )
    amount = to_fen(amount)
    if amount < FEN:
        raise DomainError(_("还款金额须大于0"), field="amount")
    if paid_on > today_shanghai():
        raise DomainError(_("还款日期不能晚于今天"), field="paid_on")
    return RepaymentReport(amount, paid_on, repayment_kind, text)


@dataclass
class _OpenLoan:
    """A loan locked for repayment reports, with its plan as the ledger sees it."""

    id: int
    institution: int
    borrower: int
    status: LoanStatus
    disbursed_on: date
    dpd_bucket: str
    rows: list[dict[str, Any]]
    lines: list[Line]
    applied: list[tuple[RepaymentReport, Allocation]] = field(default_factory=list)


async def _lock_loans(actor: Actor, loan_ids: Collection[int]) -> dict[int, _OpenLoan]:
    """The actor's institution's loans among `loan_ids`, row-locked in id order (two
    reports on overlapping loans wait for each other instead of deadlocking)."""
    ids = sorted(set(loan_ids))
    if not ids:
        return {}
    loans = (
        await Loan.select(
            Loan.id,
            Loan.institution,
            Loan.borrower,
            Loan.status,
            Loan.disbursed_on,
            Loan.dpd_bucket,
        )
        .where(Loan.id.is_in(ids) & (Loan.institution == actor.institution_id))
        .order_by(Loan.id)
        .lock_rows()
    )
    if not loans:
        return {}
    plans: dict[int, list[dict[str, Any]]] = {loan["id"]: [] for loan in loans}
    for row in (
        await Instalment.select()
        .where(Instalment.loan.is_in(list(plans)))
        .order_by(Instalment.loan)
        .order_by(Instalment.number)
    ):
        plans[row["loan"]].append(row)
    return {
        loan["id"]: _OpenLoan(
            id=loan["id"],
            institution=loan["institution"],
            borrower=loan["borrower"],
            status=LoanStatus(loan["status"]),
            disbursed_on=loan["disbursed_on"],
            dpd_bucket=loan["dpd_bucket"],
            rows=plans[loan["id"]],
            lines=ledger.lines_from_rows(plans[loan["id"]]),
        )
        for loan in loans
    }


def _apply(loan: _OpenLoan, report: RepaymentReport) -> None:
    """Apply one report to the loan's plan in memory, or raise the rule it breaks."""
    if loan.status is LoanStatus.SETTLED or ledger.all_paid(loan.lines):
        raise InvalidTransition(_("该贷款已结清，不能再登记还款"))
    if report.paid_on < loan.disbursed_on:
        raise DomainError(_("还款日期不能早于放款日期"), field="paid_on")
    _check_kind(report.kind, report.amount, loan.lines, report.paid_on)
    if report.kind is RepaymentKind.EARLY_SETTLEMENT:
        allocation = ledger.apply_settlement(loan.lines, report.paid_on)
    else:
        allocation = ledger.apply_payment(loan.lines, report.amount, report.paid_on)
    loan.applied.append((report, allocation))


# The timeline entry of a status change a repayment caused.
_STATUS_EVENTS = {
    LoanStatus.SETTLED: LoanEventKind.SETTLED,
    LoanStatus.REPAYING: LoanEventKind.CURED,
    LoanStatus.OVERDUE: LoanEventKind.OVERDUE,
}


# Rows per INSERT: far below PostgreSQL's 32,767 bind parameters per statement.
_INSERT_CHUNK = 1000

_INSTALMENTS_SQL = """
UPDATE loan_instalment AS i
SET interest_due = v.interest_due, fee_due = v.fee_due, principal_paid = v.principal_paid,
    interest_paid = v.interest_paid, fee_paid = v.fee_paid, paid_on = v.paid_on,
    status = v.status
FROM unnest({}::int[], {}::numeric[], {}::numeric[], {}::numeric[], {}::numeric[],
            {}::numeric[], {}::date[], {}::text[])
    AS v(id, interest_due, fee_due, principal_paid, interest_paid, fee_paid, paid_on, status)
WHERE i.id = v.id
"""
_LOANS_SQL = """
UPDATE loan AS l
SET status = v.status, dpd = v.dpd, dpd_bucket = v.dpd_bucket,
    principal_outstanding = v.principal_outstanding, settled_on = v.settled_on,
    version = l.version + 1, updated_at = now()
FROM unnest({}::int[], {}::text[], {}::int[], {}::text[], {}::numeric[], {}::date[])
    AS v(id, status, dpd, dpd_bucket, principal_outstanding, settled_on)
WHERE l.id = v.id
"""


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Row tuples as one array per column, for `unnest`."""
    return [list(column) for column in zip(*rows, strict=True)]


async def _save(actor: Actor, loans: Sequence[_OpenLoan], today: date) -> list[int]:
    """Write what `_apply` did to these loans — instalments, repayments, status, events —
    in a handful of set-based statements however many loans and rows (a file's 5,000)."""
    instalments: list[tuple[Any, ...]] = []
    repayments: list[Repayment] = []
    loan_rows: list[tuple[Any, ...]] = []
    events: list[LoanEvent] = []
    for loan in (loan for loan in loans if loan.applied):
        for before, line, row in zip(
            ledger.lines_from_rows(loan.rows), loan.lines, loan.rows, strict=True
        ):
            values = [getattr(line, f) for f in _LINE_FIELDS]
            if values != [getattr(before, f) for f in _LINE_FIELDS]:
                instalments.append((row["id"], *values))
        settled = ledger.all_paid(loan.lines)
        dpd = 0 if settled else ledger.days_past_due(loan.lines, today)
        target = status_for(loan.status, all_paid=settled, dpd=dpd, any_paid=True)
        move_to(loan.status, target, actor)
        last_paid_on = max(report.paid_on for report, _ in loan.applied)
        loan_rows.append(
            (
                loan.id,
                str(target),
                dpd,
                str(bucket_of(dpd)),
                ledger.principal_outstanding(loan.lines),
                last_paid_on if settled else None,
            )
        )
        for report, allocation in loan.applied:
            repayments.append(
                Repayment(
                    loan=loan.id,
                    amount=report.amount,
                    principal_part=allocation.principal,
                    interest_part=allocation.interest,
                    fee_part=allocation.fee,
                    paid_on=report.paid_on,
                    kind=report.kind,
                    reported_by=actor.user_id,
                    idempotency_key=report.reference,
                )
            )
            events.append(
                LoanEvent(
                    loan=loan.id,
                    institution=loan.institution,
                    kind=LoanEventKind.REPAYMENT,
                    occurred_on=report.paid_on,
                    amount=report.amount,
                )
            )
        if target != loan.status and target in _STATUS_EVENTS:
            events.append(
                LoanEvent(
                    loan=loan.id,
                    institution=loan.institution,
                    kind=_STATUS_EVENTS[target],
                    occurred_on=last_paid_on if settled else today,
                    dpd=dpd,
                    dpd_bucket=bucket_of(dpd),
                )
            )
    if instalments:
        await Instalment.raw(_INSTALMENTS_SQL, *_columns(instalments))
    if loan_rows:
        await Loan.raw(_LOANS_SQL, *_columns(loan_rows))
    ids: list[int] = []
    for start in range(0, len(repayments), _INSERT_CHUNK):
        chunk = repayments[start : start + _INSERT_CHUNK]
        ids += [row["id"] for row in await Repayment.insert(*chunk).returning(Repayment.id)]
    for start in range(0, len(events), _INSERT_CHUNK):
        await LoanEvent.insert(*events[start : start + _INSERT_CHUNK])
    await _tell_borrowers(loans, loan_rows)
    return ids


async def _tell_borrowers(loans: Sequence[_OpenLoan], loan_rows: list[tuple[Any, ...]]) -> None:
    """One in-site notice per borrower and report (a file of many rows is one notice each):
    that a repayment was recorded, or that a loan is now settled."""
    settled = {row[0] for row in loan_rows if row[1] == LoanStatus.SETTLED}
    borrowers = {loan.id: loan.borrower for loan in loans if loan.applied}
    await notify_users(
        {b for loan_id, b in borrowers.items() if loan_id not in settled},
        "loan.repayment",
        _("机构已登记您的还款，请查看最新还款计划"),
        BORROWER_LOANS,
    )
    await notify_users(
        {b for loan_id, b in borrowers.items() if loan_id in settled},
        "loan.settled",
        _("您的一笔借款已全部结清"),
        BORROWER_LOANS,
    )


async def _recorded(loan_ids: Collection[int]) -> dict[tuple[int, str], dict[str, Any]]:
    """Repayments already recorded on these loans, by (loan, reference)."""
    if not loan_ids:
        return {}
    rows = await Repayment.select(
        Repayment.id,
        Repayment.loan,
        Repayment.amount,
        Repayment.paid_on,
        Repayment.kind,
        Repayment.idempotency_key,
    ).where(Repayment.loan.is_in(list(loan_ids)))
    return {(row["loan"], row["idempotency_key"]): row for row in rows}


def _same(earlier: dict[str, Any], report: RepaymentReport) -> bool:
    return (earlier["amount"], earlier["paid_on"], earlier["kind"]) == (
        report.amount,
        report.paid_on,
        report.kind,
    )


_REPORTED_DIFFERENTLY = N_("该流水号已登记过，内容不同，请核对后重新登记")


async def report_repayment(
    actor: Actor,
    loan_id: int,
    amount: Decimal,
    paid_on: date,
    kind: str,
    reference: str,
) -> int:
    """Record money the institution received for one of its loans; returns the repayment
    id. The same reference (流水号) again returns the first repayment and changes nothing."""
    if not actor.can("loan.record_repayment"):
        raise PermissionDenied()
    report = repayment_report(amount, paid_on, kind, reference)
    async with transaction():
        # The loan row lock serialises reports on one loan, duplicates included.
        loans = await _lock_loans(actor, [loan_id])
        if loan_id not in loans:
            raise NotFound(_("找不到该贷款"))
        earlier = (await _recorded([loan_id])).get((loan_id, report.reference))
        if earlier is not None:
            if not _same(earlier, report):
                raise DomainError(_(_REPORTED_DIFFERENTLY), field="reference")
            return int(earlier["id"])
        loan = loans[loan_id]
        _apply(loan, report)
        (repayment_id,) = await _save(actor, [loan], today_shanghai())
        await audit(
            actor,
            "loan.repayment",
            "loan",
            loan_id,
            repayment=repayment_id,
            kind=str(report.kind),
            amount=str(report.amount),
        )
    return repayment_id


@dataclass(frozen=True)
class FileRow:
    """One parsed row of a repayment file: its row number and its loan's reference
    (借款编号, the application reference)."""

    number: int
    loan_reference: str
    report: RepaymentReport


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class FileOutcome:
    """A repayment file's fate: applied whole (recorded + already recorded = rows), or
    refused whole with every row error."""

    rows: int
    recorded: int
    already_recorded: int
    errors: tuple[RowError, ...]

    @property
    def applied(self) -> bool:
        return not self.errors


# The file's column a verb's field error points at (labels: repayment_file.COLUMNS).
_FIELD_COLUMNS = {
    "amount": N_("金额"),
    "paid_on": N_("还款日期"),
    "kind": N_("类型"),
    "reference": N_("流水号"),
}


async def record_repayment_file(
    actor: Actor,
    rows: Sequence[FileRow],
    row_errors: Sequence[RowError] = (),
    filename: str = "",
) -> FileOutcome:
    """Apply every row of a repayment file in one transaction, or none: each row is first
    checked against the loan as the rows before it leave it; one bad row refuses the
    file. A row whose reference is already recorded (the same file again) is skipped."""
    if not actor.can("loan.record_repayment"):
        raise PermissionDenied()
    errors = list(row_errors)
    async with transaction():
        loan_ids = {
            row["reference"]: row["id"]
            for row in await Loan.select(
                Loan.id, Loan.application.reference.as_alias("reference")
            ).where(
                (Loan.institution == actor.institution_id)
                & Loan.application.reference.is_in(list({r.loan_reference for r in rows}) or [""])
            )
        }
        loans = await _lock_loans(actor, loan_ids.values())
        recorded = await _recorded(loans)
        # A dry run on fresh copies of the plans; the rows stay as read.
        trial = {
            loan_id: replace(loan, lines=ledger.lines_from_rows(loan.rows), applied=[])
            for loan_id, loan in loans.items()
        }
        seen: dict[tuple[int, str], int] = {}
        fresh: list[tuple[int, RepaymentReport]] = []
        for row in rows:
            loan_id = loan_ids.get(row.loan_reference)
            if loan_id is None or loan_id not in loans:
                errors.append(RowError(row.number, _("借款编号"), _("找不到该借款编号")))
                continue
            key = (loan_id, row.report.reference)
            if key in seen:
                errors.append(
                    RowError(row.number, _("流水号"), _("与第 {n} 行流水号重复", n=seen[key]))
                )
                continue
            seen[key] = row.number
            if key in recorded:
                if not _same(recorded[key], row.report):
                    errors.append(RowError(row.number, _("流水号"), _(_REPORTED_DIFFERENTLY)))
                continue
            try:
                _apply(trial[loan_id], row.report)
            except DomainError as exc:
                column = _(_FIELD_COLUMNS.get(exc.field or "", N_("金额")))
                errors.append(RowError(row.number, column, exc.message))
                continue
            fresh.append((loan_id, row.report))
        outcome = FileOutcome(
            rows=len(rows) + len({e.row for e in row_errors}),
            recorded=0 if errors else len(fresh),
            already_recorded=0 if errors else len(rows) - len(fresh),
            errors=tuple(sorted(errors, key=lambda e: e.row)),
        )
        if not errors:
            for loan_id, report in fresh:
                _apply(loans[loan_id], report)
            await _save(actor, list(loans.values()), today_shanghai())
        await audit(
            actor,
            "loan.repayment_file",
            "loan_file",
            filename[:100] or "-",
            rows=outcome.rows,
            recorded=outcome.recorded,
            already_recorded=outcome.already_recorded,
            errors=len(outcome.errors),
        )
    return outcome


async def record_loan_export(actor: Actor, filters: dict[str, str], rows: int, fmt: str) -> None:
    async with transaction():
        await audit(actor, "loan.export", "loan", "-", filters=filters, rows=rows, format=fmt)
