"""Settlement read models: statements (operators see every institution's, institution staff
their own), their lines — billing events and statement lines, with a running total per
pricing model — disputes and the operators' queue of open disputes.

A line is addressed by its `line_ref`: "e:<billing event id>" for a charge, "c:<billing
credit id>" for a credit, "l:<statement line id>" for a cap or an adjustment."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marketplace.actors import Actor
from marketplace.agreements.terms import PricingModel
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import N_, _
from marketplace.institutions.tables import Institution
from marketplace.settlement.statuses import (
    MANAGE,
    RESPOND,
    STATEMENT_MACHINE,
    VIEW,
    CreditReason,
    DisputeStatus,
    LineKind,
    StatementStatus,
)
from marketplace.settlement.tables import Statement, StatementDispute
from marketplace.statemachine import Action, Actions

MAX_PER_PAGE = 500
# The machine's `resolve` happens by itself when the last dispute is decided: no button.
_AUTOMATIC_ACTIONS = frozenset({"resolve"})
_LINE_REF = re.compile(r"([elc]):([1-9][0-9]{0,17})")

_CHARGE_LABELS = {
    PricingModel.CPL: N_("线索送达"),
    PricingModel.CPA: N_("审批通过"),
    PricingModel.CPS: N_("放款"),
}


def period_label(period: date) -> str:
    return _("{year}年{month}月", year=period.year, month=f"{period.month:02d}")


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal("0.00")


def institution_scope(actor: Actor) -> int | None:
    """Whose statements the actor may read: None for every institution (operators), or
    the actor's own institution (institution staff, who never see a draft: it is the
    operators' working copy until issued)."""
    if actor.kind == "operator" and (actor.can(MANAGE) or actor.can(VIEW)):
        return None
    if actor.kind == "staff" and actor.institution_id and actor.can(VIEW):
        return actor.institution_id
    raise PermissionDenied()


def parse_line_ref(line_ref: str) -> tuple[str, int]:
    """("e" | "c" | "l", id) of a line reference; anything else is a clear error."""
    match = _LINE_REF.fullmatch(line_ref.strip()) if len(line_ref) <= 24 else None
    if match is None:
        raise DomainError(_("无法识别所选的结算单明细，请刷新页面后重试"), field="line_ref")
    return match.group(1), int(match.group(2))


_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")


def parse_period(raw: Any) -> date | None:
    """A month typed as YYYY-MM (a month input), leniently: anything else is None."""
    text = str(raw or "").strip()
    match = _PERIOD.fullmatch(text) if len(text) == 7 else None
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (2000 <= year <= 2999 and 1 <= month <= 12):
        return None
    return date(year, month, 1)


@dataclass(frozen=True)
class StatementFilters:
    institution_id: int | None = None
    period: date | None = None  # the first day of the month
    state: str = ""


@dataclass(frozen=True)
class StatementRow:
    id: int
    institution_id: int
    institution_name: str
    period: date
    period_label: str
    state: str
    state_label: str
    event_count: int
    charges_total: Decimal
    credits_total: Decimal  # ≤ 0
    caps_total: Decimal  # ≤ 0
    adjustments_total: Decimal  # ≤ 0
    net: Decimal  # fee excluding VAT
    vat_rate: Decimal
    vat: Decimal
    total_due: Decimal
    built_at: datetime
    issued_at: datetime | None
    open_disputes: int
    actions: Actions


@dataclass(frozen=True)
class StatementList:
    rows: tuple[StatementRow, ...]
    total: int
    institution_options: tuple[tuple[int, str], ...]  # empty for institution staff


@dataclass(frozen=True)
class ModelSubtotal:
    pricing_model: PricingModel
    label: str
    count: int
    charges: Decimal
    credits: Decimal
    caps: Decimal
    adjustments: Decimal
    net: Decimal


@dataclass(frozen=True)
class DisputeRow:
    id: int
    statement_id: int
    institution_id: int
    institution_name: str
    period: date
    period_label: str
    line_ref: str
    line_label: str
    line_amount: Decimal  # what the line still charged when disputed
    reason: str
    state: str
    state_label: str
    created_at: datetime
    raised_by_name: str
    accepted_amount: Decimal | None
    decision_note: str
    decided_at: datetime | None
    decided_by_name: str
    actions: Actions  # "accept" / "reject" while open, for operators who adjudicate


@dataclass(frozen=True)
class StatementDetail:
    row: StatementRow
    vat_rate: Decimal
    subtotals: tuple[ModelSubtotal, ...]
    disputes: tuple[DisputeRow, ...]
    actions: Actions
    confirmed_at: datetime | None
    settled_at: datetime | None
    paid_amount: Decimal | None
    paid_on: date | None
    payment_reference: str
    can_dispute_lines: bool  # the actor may dispute lines of this statement now


@dataclass(frozen=True)
class LineFilters:
    kind: str = ""  # charge | credit | cap | adjustment
    pricing_model: str = ""  # cpl | cpa | cps
    dispute: str = ""  # "" | open | accepted | rejected | none (never disputed)
    reference: str = ""  # an application reference


@dataclass(frozen=True)
class StatementLine:
    line_ref: str
    kind: str
    kind_label: str
    label: str
    occurred_at: datetime
    application_id: int | None
    application_reference: str
    loan_id: int | None
    pricing_model: str
    pricing_model_label: str
    amount: Decimal  # signed: charges > 0, credits / caps / adjustments < 0
    base_amount: Decimal | None  # CPS: the amount disbursed
    agreement_version: int | None
    reason: str  # a credit's reason code
    reason_label: str
    note: str
    target_ref: str  # an adjustment: the line it corrects
    running_total: Decimal  # of this pricing model, in statement order
    dispute_id: int | None
    dispute_state: str
    dispute_state_label: str
    disputable: bool  # this actor may dispute this line now
    fraud_flaggable: bool  # a charge of a lead not flagged yet, for operators who manage


@dataclass(frozen=True)
class LinePage:
    rows: tuple[StatementLine, ...]
    total: int
    page: int
    per_page: int


@dataclass(frozen=True)
class DisputeList:
    rows: tuple[DisputeRow, ...]
    total: int


def state_choices() -> tuple[tuple[str, str], ...]:
    return tuple((str(s), STATEMENT_MACHINE.label(s)) for s in StatementStatus)


_NEVER_DISPUTED = "none"


def dispute_filter_choices() -> tuple[tuple[str, str], ...]:
    return (
        *((str(s), s.label) for s in DisputeStatus),
        (_NEVER_DISPUTED, _("无异议")),
    )


def line_kind_choices() -> tuple[tuple[str, str], ...]:
    return tuple((str(k), k.label) for k in LineKind)


def pricing_choices() -> tuple[tuple[str, str], ...]:
    return tuple((str(m), m.label) for m in PricingModel)


def _actions(status: str, actor: Actor) -> Actions:
    actions = STATEMENT_MACHINE.actions(status, actor)
    return Actions(tuple(a for a in actions if a.name not in _AUTOMATIC_ACTIONS))


_ROW_SQL = (
    "SELECT s.id, s.institution, i.short_name AS institution_name, s.period, s.status, "
    "s.event_count, s.charges_total, s.credits_total, s.caps_total, s.adjustments_total, "
    "s.net, s.vat_rate, s.vat, s.total_due, s.built_at, s.issued_at, s.confirmed_at, "
    "s.settled_at, s.paid_amount, s.paid_on, s.payment_reference, s.subtotals, "
    "(SELECT count(*) FROM statement_dispute d WHERE d.statement = s.id AND d.status = 'open') "
    "AS open_disputes FROM statement s JOIN institution i ON i.id = s.institution "
)


def _statement_row(row: Mapping[str, Any], actor: Actor) -> StatementRow:
    return StatementRow(
        id=row["id"],
        institution_id=row["institution"],
        institution_name=row["institution_name"],
        period=row["period"],
        period_label=period_label(row["period"]),
        state=row["status"],
        state_label=STATEMENT_MACHINE.label(row["status"]),
        event_count=row["event_count"],
        charges_total=row["charges_total"],
        credits_total=row["credits_total"],
        caps_total=row["caps_total"],
        adjustments_total=row["adjustments_total"],
        net=row["net"],
        vat_rate=row["vat_rate"],
        vat=row["vat"],
        total_due=row["total_due"],
        built_at=row["built_at"],
        issued_at=row["issued_at"],
        open_disputes=row["open_disputes"],
        actions=_actions(row["status"], actor),
    )


async def _institution_options() -> tuple[tuple[int, str], ...]:
    rows = await Institution.select(Institution.id, Institution.short_name).order_by(
        Institution.short_name
    )
    return tuple((r["id"], r["short_name"]) for r in rows)


async def statement_list(
    actor: Actor, filters: StatementFilters, *, page: int, per_page: int
) -> StatementList:
    """Statements, newest month first (operators: all; institution staff: their own)."""
    scope = institution_scope(actor)
    institution = scope if scope is not None else filters.institution_id
    where = (
        "WHERE ({} OR s.institution = {}) AND ({} OR s.status <> 'draft') "
        "AND ({} = '' OR s.status = {}) AND ({}::date IS NULL OR s.period = {}::date) "
    )
    args = [
        institution is None,
        institution or 0,
        scope is None,
        filters.state,
        filters.state,
        filters.period,
        filters.period,
    ]
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    rows = await Statement.raw(
        _ROW_SQL + where + "ORDER BY s.period DESC, i.short_name, s.id LIMIT {} OFFSET {}",
        *args,
        per_page,
        (max(page, 1) - 1) * per_page,
    )
    count = await Statement.raw(
        "SELECT count(*) AS n FROM statement s " + where,  # noqa: S608 - constants only
        *args,
    )
    return StatementList(
        rows=tuple(_statement_row(r, actor) for r in rows),
        total=count[0]["n"],
        institution_options=await _institution_options() if scope is None else (),
    )


async def _statement(actor: Actor, statement_id: int) -> Mapping[str, Any]:
    scope = institution_scope(actor)
    rows = await Statement.raw(
        _ROW_SQL + "WHERE s.id = {} AND ({} OR (s.institution = {} AND s.status <> 'draft'))",
        statement_id,
        scope is None,
        scope or 0,
    )
    if not rows:
        raise NotFound(_("找不到该结算单"))
    return rows[0]


def _subtotals(raw: Any) -> tuple[ModelSubtotal, ...]:
    data = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    return tuple(
        ModelSubtotal(
            pricing_model=PricingModel(model),
            label=PricingModel(model).label,
            count=int(values["count"]),
            charges=_money(values["charges"]),
            credits=_money(values["credits"]),
            caps=_money(values["caps"]),
            adjustments=_money(values["adjustments"]),
            net=_money(values["net"]),
        )
        for model, values in sorted(data.items())
    )


_DISPUTE_SQL = (
    "SELECT d.id, d.statement, d.institution, i.short_name AS institution_name, s.period, "
    "d.line_ref, d.event, d.line, d.line_amount, d.reason, d.status, d.raised_at, "
    "coalesce(rb.display_name, '') AS raised_by_name, d.accepted_amount, d.resolution_note, "
    "d.resolved_at, coalesce(vb.display_name, '') AS resolved_by_name, "
    "e.kind AS event_kind, a.reference AS event_reference, l.kind AS line_kind, "
    "l.pricing_model AS line_model, l.agreement_version, "
    "l.target_ref FROM statement_dispute d JOIN statement s ON s.id = d.statement "
    "JOIN institution i ON i.id = d.institution "
    "LEFT JOIN billing_event e ON e.id = d.event "
    "LEFT JOIN application a ON a.id = e.application "
    "LEFT JOIN statement_line l ON l.id = d.line "
    "LEFT JOIN app_user rb ON rb.id = d.raised_by LEFT JOIN app_user vb ON vb.id = d.resolved_by "
)

_ADJUDICATE = (
    Action("accept", N_("采纳异议"), "accepted", N_("已采纳"), "primary"),
    Action("reject", N_("驳回异议"), "rejected", N_("已驳回"), "danger"),
)


def _disputed_line_label(row: Mapping[str, Any]) -> str:
    if row["event"] is not None:
        label = _(_CHARGE_LABELS[PricingModel(row["event_kind"])])
        return f"{label} {row['event_reference'] or ''}".strip()
    return _line_label(
        {
            "kind": row["line_kind"],
            "pricing_model": row["line_model"],
            "reason": "",
            "agreement_version": row["agreement_version"],
            "target_ref": row["target_ref"],
        }
    )


def _dispute_row(row: Mapping[str, Any], actor: Actor) -> DisputeRow:
    status = DisputeStatus(row["status"])
    can_adjudicate = status is DisputeStatus.OPEN and actor.can(MANAGE)
    return DisputeRow(
        id=row["id"],
        statement_id=row["statement"],
        institution_id=row["institution"],
        institution_name=row["institution_name"],
        period=row["period"],
        period_label=period_label(row["period"]),
        line_ref=row["line_ref"],
        line_label=_disputed_line_label(row),
        line_amount=row["line_amount"],
        reason=row["reason"],
        state=str(status),
        state_label=status.label,
        created_at=row["raised_at"],
        raised_by_name=row["raised_by_name"],
        accepted_amount=row["accepted_amount"],
        decision_note=row["resolution_note"],
        decided_at=row["resolved_at"],
        decided_by_name=row["resolved_by_name"],
        actions=Actions(
            tuple(
                Action(a.name, _(a.label), a.target, _(a.target_label), a.style)
                for a in _ADJUDICATE
            )
            if can_adjudicate
            else ()
        ),
    )


async def statement_detail(actor: Actor, statement_id: int) -> StatementDetail:
    """One statement: header, totals, per-model subtotals, disputes, allowed actions.
    Another institution's statement is NotFound."""
    row = await _statement(actor, statement_id)
    disputes = await StatementDispute.raw(
        _DISPUTE_SQL + "WHERE d.statement = {} ORDER BY d.id", statement_id
    )
    header = _statement_row(row, actor)
    return StatementDetail(
        row=header,
        vat_rate=row["vat_rate"],
        subtotals=_subtotals(row["subtotals"]),
        disputes=tuple(_dispute_row(d, actor) for d in disputes),
        actions=header.actions,
        confirmed_at=row["confirmed_at"],
        settled_at=row["settled_at"],
        paid_amount=row["paid_amount"],
        paid_on=row["paid_on"],
        payment_reference=row["payment_reference"],
        can_dispute_lines="dispute" in header.actions,
    )


_LINES_SQL = """
WITH lines AS (
    SELECT 'e:' || e.id AS line_ref, 'charge' AS kind, e.kind AS pricing_model, e.occurred_at,
        e.application, e.loan, e.amount, e.base_amount, e.agreement_version, '' AS reason,
        '' AS note, '' AS target_ref, e.id AS event, 0 AS ord, e.id AS seq
    FROM billing_event e WHERE e.institution = {} AND e.period = {}
    UNION ALL
    SELECT 'c:' || c.id, 'credit', ev.kind, c.created_at, ev.application, ev.loan,
        -c.amount, NULL, ev.agreement_version, c.reason, c.note, '', c.event, 1, c.id
    FROM billing_credit c JOIN billing_event ev ON ev.id = c.event
    WHERE c.institution = {} AND c.period = {}
    UNION ALL
    SELECT 'l:' || l.id, l.kind, l.pricing_model, l.occurred_at, ev.application, ev.loan,
        l.amount, NULL, l.agreement_version, '', l.note, l.target_ref, l.event, 2, l.id
    FROM statement_line l LEFT JOIN billing_event ev ON ev.id = l.event
    WHERE l.statement = {}
), ranked AS (
    SELECT lines.*, sum(lines.amount) OVER (
        PARTITION BY lines.pricing_model ORDER BY lines.occurred_at, lines.ord, lines.seq
    ) AS running_total FROM lines
), disputed AS (
    SELECT r.*, coalesce(a.reference, '') AS reference, d.id AS dispute_id,
        coalesce(d.status, '') AS dispute_status
    FROM ranked r
    LEFT JOIN application a ON a.id = r.application
    LEFT JOIN LATERAL (
        SELECT sd.id, sd.status FROM statement_dispute sd
        WHERE sd.statement = {} AND sd.line_ref = r.line_ref ORDER BY sd.id DESC LIMIT 1
    ) d ON true
), filtered AS (
    SELECT * FROM disputed
    WHERE ({} = '' OR kind = {}) AND ({} = '' OR pricing_model = {})
        AND ({} = '' OR reference = {})
        AND ({} = '' OR dispute_status = {} OR ({} = 'none' AND dispute_status = ''))
)
"""

_PAGE_SQL = """
SELECT f.*,
    CASE WHEN f.kind = 'charge' THEN f.amount
        - coalesce((SELECT sum(c.amount) FROM billing_credit c WHERE c.event = f.event), 0)
        + coalesce((SELECT sum(x.amount) FROM statement_line x
                    WHERE x.event = f.event AND x.kind = 'adjustment'), 0)
    ELSE 0 END AS net,
    EXISTS (SELECT 1 FROM flagged_lead fl WHERE fl.application = f.application) AS flagged
FROM filtered f
ORDER BY f.occurred_at, f.ord, f.seq
"""


def _line_label(row: Mapping[str, Any]) -> str:
    kind = LineKind(row["kind"])
    if kind is LineKind.CHARGE:
        return _(_CHARGE_LABELS[PricingModel(row["pricing_model"])])
    if kind is LineKind.CREDIT:
        return _("冲减：{reason}", reason=CreditReason(row["reason"]).label)
    if kind is LineKind.CAP:
        return _("第 {version} 版协议月度计费上限", version=row["agreement_version"])
    return _("异议调整（{ref}）", ref=row["target_ref"])


def _line_row(row: Mapping[str, Any], can_dispute: bool, can_flag: bool) -> StatementLine:
    status = DisputeStatus(row["dispute_status"]) if row["dispute_status"] else None
    charge = row["kind"] == LineKind.CHARGE
    return StatementLine(
        line_ref=row["line_ref"],
        kind=row["kind"],
        kind_label=LineKind(row["kind"]).label,
        label=_line_label(row),
        occurred_at=row["occurred_at"],
        application_id=row["application"],
        application_reference=row["reference"],
        loan_id=row["loan"],
        pricing_model=row["pricing_model"],
        pricing_model_label=PricingModel(row["pricing_model"]).label,
        amount=row["amount"],
        base_amount=row["base_amount"],
        agreement_version=row["agreement_version"],
        reason=row["reason"],
        reason_label=CreditReason(row["reason"]).label if row["reason"] else "",
        note=row["note"],
        target_ref=row["target_ref"],
        running_total=row["running_total"],
        dispute_id=row["dispute_id"],
        dispute_state=str(status) if status else "",
        dispute_state_label=status.label if status else "",
        disputable=can_dispute and row["net"] > 0 and status is not DisputeStatus.OPEN,
        fraud_flaggable=can_flag and charge and not row["flagged"],
    )


async def _lines(
    actor: Actor,
    statement_id: int,
    filters: LineFilters,
    limit: int | None,
    offset: int,
    *,
    counted: bool,
) -> tuple[list[StatementLine], int]:
    statement = await _statement(actor, statement_id)
    can_dispute = "dispute" in _actions(statement["status"], actor) and actor.can(RESPOND)
    reference = filters.reference.strip()[:24]
    args = [
        statement["institution"],
        statement["period"],
        statement["institution"],
        statement["period"],
        statement_id,
        statement_id,
        filters.kind,
        filters.kind,
        filters.pricing_model,
        filters.pricing_model,
        reference,
        reference,
        filters.dispute,
        filters.dispute,
        filters.dispute,
    ]
    paging = " LIMIT {} OFFSET {}" if limit is not None else ""
    rows = await Statement.raw(
        _LINES_SQL + _PAGE_SQL + paging, *args, *((limit, offset) if limit is not None else ())
    )
    total = len(rows)
    if counted:
        count_sql = _LINES_SQL + "SELECT count(*) AS n FROM filtered"  # noqa: S608 - constants
        total = (await Statement.raw(count_sql, *args))[0]["n"]
    can_flag = actor.can(MANAGE)
    return [_line_row(r, can_dispute, can_flag) for r in rows], total


async def statement_lines(
    actor: Actor, statement_id: int, filters: LineFilters, *, page: int, per_page: int
) -> LinePage:
    """A page of a statement's lines in order, each with the running total of its model."""
    page = max(page, 1)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    rows, total = await _lines(
        actor, statement_id, filters, per_page, (page - 1) * per_page, counted=True
    )
    return LinePage(rows=tuple(rows), total=total, page=page, per_page=per_page)


async def lines_for_export(
    actor: Actor, statement_id: int, filters: LineFilters, *, limit: int | None = None
) -> list[StatementLine]:
    """The lines of a statement in order (the downloads): all, or the first `limit`."""
    rows, _total = await _lines(actor, statement_id, filters, limit, 0, counted=False)
    return rows


async def open_disputes(
    actor: Actor, *, institution_id: int | None = None, page: int = 1, per_page: int = 50
) -> DisputeList:
    """The operators' queue: open disputes, oldest first."""
    if not (actor.kind == "operator" and (actor.can(MANAGE) or actor.can(VIEW))):
        raise PermissionDenied()
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    where = "WHERE d.status = 'open' AND ({} OR d.institution = {}) "
    rows = await StatementDispute.raw(
        _DISPUTE_SQL + where + "ORDER BY d.raised_at, d.id LIMIT {} OFFSET {}",
        institution_id is None,
        institution_id or 0,
        per_page,
        (max(page, 1) - 1) * per_page,
    )
    count = await StatementDispute.raw(
        "SELECT count(*) AS n FROM statement_dispute d " + where,  # noqa: S608 - constants only
        institution_id is None,
        institution_id or 0,
    )
    return DisputeList(tuple(_dispute_row(r, actor) for r in rows), count[0]["n"])


async def dispute_detail(actor: Actor, dispute_id: int) -> DisputeRow:
    """One dispute (the adjudication form); another institution's is NotFound."""
    scope = institution_scope(actor)
    rows = await StatementDispute.raw(
        _DISPUTE_SQL + "WHERE d.id = {} AND ({} OR d.institution = {})",
        dispute_id,
        scope is None,
        scope or 0,
    )
    if not rows:
        raise NotFound(_("找不到该异议"))
    return _dispute_row(rows[0], actor)
