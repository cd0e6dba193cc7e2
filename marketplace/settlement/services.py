"""Settlement verbs: build and issue statements (operators), confirm or dispute them (the
institution), adjudicate disputes and record payment (operators), flag a fraudulent lead.
Each runs in one transaction: permission, row locks, the state machine, the write, the
audit row, the institution's notice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marketplace.actors import Actor
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import (
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from marketplace.i18n import _
from marketplace.inbox.services import notify_institution
from marketplace.loancalc import SHANGHAI
from marketplace.money import FEN, format_cny
from marketplace.parsing import (
    FieldError,
    FormReader,
    first,
    parse_choice,
    parse_date,
    parse_decimal,
    parse_text,
)
from marketplace.settlement import billing, building
from marketplace.settlement.periods import lock_institution
from marketplace.settlement.queries import institution_scope, parse_line_ref, period_label
from marketplace.settlement.statuses import (
    MANAGE,
    STATEMENT_MACHINE,
    VIEW,
    CreditReason,
    DisputeStatus,
    LineKind,
    StatementStatus,
)
from marketplace.settlement.tables import (
    BillingCredit,
    BillingEvent,
    FlaggedLead,
    Statement,
    StatementDispute,
    StatementLine,
)

REASON_MAX_LENGTH = 500
NOTE_MAX_LENGTH = 500
REFERENCE_MAX_LENGTH = 64
MAX_PAYMENT = Decimal("1000000000000")  # a trillion yuan: no overflow of Numeric(14, 2)
DOWNLOAD_FORMATS = ("xlsx", "print")


def _console_link(statement_id: int) -> str:
    return f"/console/settlement/{statement_id}"


# --- input parsing (forms) -------------------------------------------------------------


def _reason(raw: Any, label: str, *, required: bool = True) -> str:
    return parse_text(
        raw,
        label=label,
        max_length=REASON_MAX_LENGTH,
        min_length=1 if required else 0,
        multiline=True,
    )


def parse_dispute(data: Mapping[str, Any]) -> str:
    """The reason of a dispute (required, at most 500 characters)."""
    form = FormReader(data)
    reason = form.field("reason", _reason, "", label=_("异议理由"))
    form.raise_errors()
    return reason


def parse_fraud(data: Mapping[str, Any]) -> str:
    form = FormReader(data)
    reason = form.field("reason", _reason, "", label=_("欺诈说明"))
    form.raise_errors()
    return reason


@dataclass(frozen=True)
class Adjudication:
    accept: bool
    note: str
    amount: Decimal | None  # accepting: the amount to adjust (None: the whole line)


def parse_adjudication(data: Mapping[str, Any]) -> Adjudication:
    form = FormReader(data)
    decision = form.field(
        "decision", parse_choice, "", choices=("accept", "reject"), label=_("裁定结果")
    )
    note = form.field("note", _reason, "", label=_("裁定说明"), required=decision == "reject")
    amount = None
    if decision == "accept" and first(data.get("amount")).strip():
        amount = form.field(
            "amount", parse_decimal, None, label=_("调整金额"), minimum=FEN, maximum=MAX_PAYMENT
        )
    form.raise_errors()
    return Adjudication(decision == "accept", note, amount)


@dataclass(frozen=True)
class Payment:
    amount: Decimal
    paid_on: date
    reference: str


def _payment_reference(raw: Any, label: str) -> str:
    return parse_text(raw, label=label, max_length=REFERENCE_MAX_LENGTH, min_length=1)


def parse_payment(data: Mapping[str, Any]) -> Payment:
    form = FormReader(data)
    amount = form.field(
        "amount",
        parse_decimal,
        Decimal(0),
        label=_("收款金额"),
        minimum=Decimal(0),
        maximum=MAX_PAYMENT,
    )
    paid_on = form.field("paid_on", parse_date, date.min, label=_("收款日期"))
    reference = form.field("reference", _payment_reference, "", label=_("收款流水号"))
    form.raise_errors()
    return Payment(amount, paid_on, reference)


def _checked(parse: Any, raw: Any, key: str, **options: Any) -> Any:
    """A verb's own check of a value its form parser also checks (callers may skip it)."""
    try:
        return parse(raw, **options)
    except FieldError as exc:
        raise ValidationFailed({key: exc.message}) from None


# --- building ------------------------------------------------------------------------


async def build_statements(period: date) -> int:
    """Build the drafts of an ended month (the job and cron); non-drafts are left alone."""
    return await building.build(period)


def _visible(scope: int | None) -> Any:
    """Statements an actor of this scope may see (institution_scope): staff, no drafts."""
    if scope is None:
        return Statement.id > 0
    return (Statement.institution == scope) & (Statement.status != StatementStatus.DRAFT)


async def _locked_statement(
    actor: Actor, statement_id: int, *, exclusive_institution: bool = False
) -> Mapping[str, Any]:
    """The statement, row-locked, if the actor may see it (another institution's: 404)."""
    scope = institution_scope(actor)
    where = (Statement.id == statement_id) & _visible(scope)
    if exclusive_institution:
        found = await Statement.select(Statement.institution).where(where).first()
        if found is None:
            raise NotFound(_("找不到该结算单"))
        await lock_institution(found["institution"], exclusive=True)
    row = (
        await Statement.select(
            Statement.id,
            Statement.institution,
            Statement.period,
            Statement.status,
            Statement.total_due,
            Statement.issued_at,
        )
        .where(where)
        .lock_rows()
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该结算单"))
    return row


async def rebuild_statement(actor: Actor, statement_id: int) -> None:
    """Recompute a draft from the month's events and credits (idempotent)."""
    async with transaction():
        row = await _locked_statement(actor, statement_id)
        STATEMENT_MACHINE.target(row["status"], "rebuild", actor)
        await building.build(row["period"], row["institution"])
        await audit(actor, "settlement.statement_rebuilt", "statement", statement_id)


async def issue_statement(actor: Actor, statement_id: int) -> None:
    """Rebuild the draft one last time and issue it, under the institution's exclusive
    settlement lock: an event billed meanwhile waits and then goes to the next month."""
    async with transaction():
        row = await _locked_statement(actor, statement_id, exclusive_institution=True)
        target = STATEMENT_MACHINE.target(row["status"], "issue", actor)
        await building.build(row["period"], row["institution"])
        updated = (
            await Statement.update(
                {
                    Statement.status: target,
                    Statement.issued_at: datetime.now(UTC),
                    Statement.issued_by: actor.user_id,
                }
            )
            .where(Statement.id == statement_id)
            .returning(Statement.total_due)
        )
        await audit(
            actor,
            "settlement.statement_issued",
            "statement",
            statement_id,
            total_due=str(updated[0]["total_due"]),
        )
        await notify_institution(
            row["institution"],
            "statement.issued",
            _(
                "平台已出具{period}结算单，应付 {amount}，请核对后确认或对明细提出异议",
                period=period_label(row["period"]),
                amount=format_cny(updated[0]["total_due"]),
            ),
            _console_link(statement_id),
            permission=VIEW,
        )


async def confirm_statement(actor: Actor, statement_id: int) -> None:
    """The institution accepts an issued (or adjusted) statement as it stands."""
    async with transaction():
        row = await _locked_statement(actor, statement_id)
        target = STATEMENT_MACHINE.target(row["status"], "confirm", actor)
        await Statement.update(
            {
                Statement.status: target,
                Statement.confirmed_at: datetime.now(UTC),
                Statement.confirmed_by: actor.user_id,
            }
        ).where(Statement.id == statement_id)
        await audit(actor, "settlement.statement_confirmed", "statement", statement_id)


async def _line_net(
    statement: Mapping[str, Any], line_ref: str
) -> tuple[int | None, int | None, Decimal]:
    """(event id, statement line id, what the line still charges) of a line of this
    statement; a line of another statement or institution is NotFound."""
    kind, number = parse_line_ref(line_ref)
    if kind == "e":
        event = (
            await BillingEvent.select(BillingEvent.id)
            .where(
                (BillingEvent.id == number)
                & (BillingEvent.institution == statement["institution"])
                & (BillingEvent.period == statement["period"])
            )
            .lock_rows()
            .first()
        )
        if event is None:
            raise NotFound(_("找不到该明细"))
        return number, None, await billing.event_net(number)
    if kind == "c":
        if not await BillingCredit.exists().where(
            (BillingCredit.id == number)
            & (BillingCredit.institution == statement["institution"])
            & (BillingCredit.period == statement["period"])
        ):
            raise NotFound(_("找不到该明细"))
        return None, None, Decimal("0.00")  # a credit only ever lowers the bill
    line = (
        await StatementLine.select(StatementLine.id, StatementLine.amount)
        .where((StatementLine.id == number) & (StatementLine.statement == statement["id"]))
        .first()
    )
    if line is None:
        raise NotFound(_("找不到该明细"))
    return None, number, max(line["amount"], Decimal("0.00"))


async def dispute_line(actor: Actor, statement_id: int, line_ref: str, reason: str) -> int:
    """The institution contests one line of an issued or adjusted statement."""
    reason = _checked(_reason, reason, "reason", label=_("异议理由"))
    async with transaction():
        row = await _locked_statement(actor, statement_id)
        target = STATEMENT_MACHINE.target(row["status"], "dispute", actor)
        ref = line_ref.strip()
        event_id, line_id, net = await _line_net(row, ref)
        if net <= 0:
            raise DomainError(_("该明细没有可调整的金额，无需提出异议"), field="line_ref")
        if await StatementDispute.exists().where(
            (StatementDispute.statement == statement_id)
            & (StatementDispute.line_ref == ref)
            & (StatementDispute.status == DisputeStatus.OPEN)
        ):
            raise DomainError(_("该明细已有待裁定的异议"), field="line_ref")
        rows = await StatementDispute.insert(
            StatementDispute(
                statement=statement_id,
                institution=row["institution"],
                line_ref=ref,
                event=event_id,
                line=line_id,
                line_amount=net,
                reason=reason,
                status=DisputeStatus.OPEN,
                raised_by=actor.user_id,
            )
        ).returning(StatementDispute.id)
        dispute_id: int = rows[0]["id"]
        await Statement.update({Statement.status: target}).where(Statement.id == statement_id)
        await audit(
            actor,
            "settlement.line_disputed",
            "statement",
            statement_id,
            dispute=dispute_id,
            line_ref=ref,
        )
    return dispute_id


async def adjudicate_dispute(
    actor: Actor, dispute_id: int, accept: bool, note: str, amount: Decimal | None
) -> None:
    """Accept a dispute (an adjustment line of `amount`, by default all the line still
    charges) or reject it with a note; the last decision makes the statement adjusted."""
    if not actor.can(MANAGE):
        raise PermissionDenied()
    note = _checked(_reason, note, "note", label=_("裁定说明"), required=not accept)
    if amount is not None and not (amount.is_finite() and amount == amount.quantize(FEN)):
        raise ValidationFailed({"amount": _("调整金额最多保留2位小数")})
    async with transaction():
        dispute = (
            await StatementDispute.select(
                StatementDispute.id,
                StatementDispute.statement,
                StatementDispute.status,
                StatementDispute.line_ref,
                StatementDispute.event,
            )
            .where(StatementDispute.id == dispute_id)
            .first()
        )
        if dispute is None:
            raise NotFound(_("找不到该异议"))
        statement = await _locked_statement(actor, dispute["statement"])
        dispute = (
            await StatementDispute.select(
                StatementDispute.id,
                StatementDispute.status,
                StatementDispute.line_ref,
                StatementDispute.event,
            )
            .where(StatementDispute.id == dispute_id)
            .lock_rows()
            .first()
        )
        if dispute is None or dispute["status"] != DisputeStatus.OPEN:
            raise InvalidTransition(_("该异议已裁定，请刷新页面查看结果"))
        now = datetime.now(UTC)
        changes: dict[Any, Any] = {
            StatementDispute.resolution_note: note,
            StatementDispute.resolved_by: actor.user_id,
            StatementDispute.resolved_at: now,
        }
        if accept:
            _event_id, _line_id, net = await _line_net(statement, dispute["line_ref"])
            granted = net if amount is None else amount
            if net <= 0:
                raise DomainError(_("该明细已没有可调整的金额，只能驳回"), field="amount")
            if not Decimal("0.00") < granted <= net:
                raise ValidationFailed(
                    {"amount": _("调整金额应大于0且不超过 {net}", net=format_cny(net))}
                )
            event = (
                await BillingEvent.select(
                    BillingEvent.kind, BillingEvent.agreement, BillingEvent.agreement_version
                )
                .where(BillingEvent.id == dispute["event"])
                .first()
            )
            assert event is not None  # only a charge has an amount left to adjust
            line = await StatementLine.insert(
                StatementLine(
                    statement=statement["id"],
                    kind=LineKind.ADJUSTMENT,
                    pricing_model=event["kind"],
                    agreement=event["agreement"],
                    agreement_version=event["agreement_version"],
                    event=dispute["event"],
                    target_ref=dispute["line_ref"],
                    amount=-granted,
                    note=note,
                    occurred_at=now,
                    created_by=actor.user_id,
                )
            ).returning(StatementLine.id)
            changes.update(
                {
                    StatementDispute.status: DisputeStatus.ACCEPTED,
                    StatementDispute.accepted_amount: granted,
                    StatementDispute.adjustment: line[0]["id"],
                }
            )
        else:
            changes[StatementDispute.status] = DisputeStatus.REJECTED
        await StatementDispute.update(changes).where(StatementDispute.id == dispute_id)
        totals = await building.refresh_totals(statement["id"])
        still_open = await StatementDispute.exists().where(
            (StatementDispute.statement == statement["id"])
            & (StatementDispute.status == DisputeStatus.OPEN)
        )
        if not still_open:
            target = STATEMENT_MACHINE.target(statement["status"], "resolve", actor)
            await Statement.update({Statement.status: target}).where(
                Statement.id == statement["id"]
            )
        await audit(
            actor,
            "settlement.dispute_accepted" if accept else "settlement.dispute_rejected",
            "statement",
            statement["id"],
            dispute=dispute_id,
            amount=str(changes.get(StatementDispute.accepted_amount, "")),
        )
        await notify_institution(
            statement["institution"],
            "statement.dispute_decided",
            _(
                "您对{period}结算单的异议已裁定：{outcome}；当前应付 {amount}",
                period=period_label(statement["period"]),
                outcome=_("已采纳") if accept else _("已驳回"),
                amount=format_cny(totals.total_due),
            ),
            _console_link(statement["id"]),
            permission=VIEW,
        )


async def record_payment(
    actor: Actor, statement_id: int, amount: Decimal, paid_on: date, reference: str
) -> None:
    """The institution paid a confirmed statement: the amount must be what it owes."""
    if not actor.can(MANAGE):
        raise PermissionDenied()
    reference = _checked(_payment_reference, reference, "reference", label=_("收款流水号"))
    errors: dict[str, str] = {}
    if not (amount.is_finite() and amount == amount.quantize(FEN) and 0 <= amount <= MAX_PAYMENT):
        errors["amount"] = _("请填写正确的收款金额")
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    if paid_on > today:
        errors["paid_on"] = _("收款日期不能晚于今天")
    async with transaction():
        row = await _locked_statement(actor, statement_id)
        target = STATEMENT_MACHINE.target(row["status"], "settle", actor)
        if row["issued_at"] and paid_on < row["issued_at"].astimezone(SHANGHAI).date():
            errors.setdefault("paid_on", _("收款日期不能早于结算单出具日期"))
        due = max(row["total_due"], Decimal("0.00"))
        if "amount" not in errors and amount != due:
            errors["amount"] = _("收款金额应等于应付总额 {due}", due=format_cny(due))
        if errors:
            raise ValidationFailed(errors)
        await Statement.update(
            {
                Statement.status: target,
                Statement.settled_at: datetime.now(UTC),
                Statement.paid_amount: amount,
                Statement.paid_on: paid_on,
                Statement.payment_reference: reference,
            }
        ).where(Statement.id == statement_id)
        await audit(
            actor,
            "settlement.payment_recorded",
            "statement",
            statement_id,
            amount=str(amount),
            paid_on=paid_on.isoformat(),
        )
        await notify_institution(
            row["institution"],
            "statement.settled",
            _(
                "平台已确认收到{period}结算单款项 {amount}",
                period=period_label(row["period"]),
                amount=format_cny(amount),
            ),
            _console_link(statement_id),
            permission=VIEW,
        )


async def flag_fraudulent_lead(actor: Actor, application_id: int, reason: str) -> int:
    """An operator finds a lead fraudulent: every billing event of it — billed already or
    later — is credited. Returns how many credits were made now."""
    if not actor.can(MANAGE):
        raise PermissionDenied()
    reason = _checked(_reason, reason, "reason", label=_("欺诈说明"))
    async with transaction():
        app = (
            await Application.select(Application.id, Application.institution)
            .where(Application.id == application_id)
            .lock_rows()
            .first()
        )
        if app is None:
            raise NotFound(_("找不到该申请"))
        inserted = (
            await FlaggedLead.insert(
                FlaggedLead(
                    application=application_id,
                    institution=app["institution"],
                    reason=reason,
                    flagged_by=actor.user_id,
                )
            )
            .on_conflict(target=FlaggedLead.application, action="DO NOTHING")
            .returning(FlaggedLead.id)
        )
        if not inserted:
            raise DomainError(_("该线索已标记为欺诈线索"), field="reason")
        events = (
            await BillingEvent.select(BillingEvent.id)
            .where(BillingEvent.application == application_id)
            .order_by(BillingEvent.id)
        )
        credited = 0
        for event in events:
            if await billing.credit_event(event["id"], CreditReason.FRAUD, reason, actor.user_id):
                credited += 1
        await audit(
            actor,
            "settlement.lead_flagged",
            "application",
            application_id,
            credits=credited,
        )
    return credited


async def record_statement_download(actor: Actor, statement_id: int, fmt: str) -> None:
    """Every download of a statement (xlsx, printable page) is audited."""
    if fmt not in DOWNLOAD_FORMATS:
        raise DomainError(_("不支持的下载格式"), field="format")
    scope = institution_scope(actor)
    async with transaction():
        exists = await Statement.exists().where((Statement.id == statement_id) & _visible(scope))
        if not exists:
            raise NotFound(_("找不到该结算单"))
        await audit(actor, "settlement.statement_downloaded", "statement", statement_id, format=fmt)
