"""Building statements, set-based: one aggregate of the month's billing events per
(institution, agreement, kind), the month's credits, and per agreement a cap line computed
from the agreement's terms. Charges and credits are never copied: a statement's charge and
credit lines are the billing events and credits of its month; only cap lines (and, after
issue, adjustments) are statement_line rows. Only drafts are (re)built, and rebuilding one
changes nothing."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marketplace import outbox
from marketplace.agreements.queries import terms_by_id
from marketplace.agreements.terms import AgreementTerms
from marketplace.db import transaction
from marketplace.errors import DomainError
from marketplace.i18n import _
from marketplace.loancalc import SHANGHAI
from marketplace.money import to_fen
from marketplace.parameters.services import get_parameters
from marketplace.settlement.periods import current_month, month_end, previous_month
from marketplace.settlement.statuses import LineKind, StatementStatus
from marketplace.settlement.tables import BillingCredit, BillingEvent, Statement

ZERO = Decimal("0.00")


@dataclass
class ModelSums:
    """One pricing model's share of a statement; credits, caps, adjustments ≤ 0."""

    count: int = 0
    charges: Decimal = ZERO
    credits: Decimal = ZERO
    caps: Decimal = ZERO
    adjustments: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.charges + self.credits + self.caps + self.adjustments

    def as_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "charges": str(self.charges),
            "credits": str(self.credits),
            "caps": str(self.caps),
            "adjustments": str(self.adjustments),
            "net": str(self.net),
        }


@dataclass(frozen=True)
class Totals:
    event_count: int
    charges: Decimal
    credits: Decimal
    caps: Decimal
    adjustments: Decimal
    net: Decimal
    vat_rate: Decimal
    vat: Decimal
    total_due: Decimal
    subtotals: dict[str, dict[str, Any]]


def totals_of(per_model: Mapping[str, ModelSums], vat_rate: Decimal) -> Totals:
    """A statement's totals from its per-model sums; VAT on the net, to the fen."""
    models = [per_model[m] for m in sorted(per_model)]
    net = sum((m.net for m in models), ZERO)
    vat = to_fen(net * vat_rate)
    return Totals(
        event_count=sum(m.count for m in models),
        charges=sum((m.charges for m in models), ZERO),
        credits=sum((m.credits for m in models), ZERO),
        caps=sum((m.caps for m in models), ZERO),
        adjustments=sum((m.adjustments for m in models), ZERO),
        net=net,
        vat_rate=vat_rate,
        vat=vat,
        total_due=net + vat,
        subtotals={model: per_model[model].as_json() for model in sorted(per_model)},
    )


@dataclass(frozen=True)
class CapLine:
    """A monthly cap of one agreement on one statement (≤ 0)."""

    pricing_model: str
    agreement: int
    agreement_version: int
    amount: Decimal
    occurred_at: datetime


@dataclass
class _Draft:
    id: int
    institution: int
    sums: dict[str, ModelSums] = field(default_factory=dict)
    caps: list[CapLine] = field(default_factory=list)

    def model(self, name: str) -> ModelSums:
        if name not in self.sums:
            self.sums[name] = ModelSums()
        return self.sums[name]


async def vat_rate() -> Decimal:
    return Decimal(str((await get_parameters("vat_rate"))["vat_rate"]))


def check_period(period: date, now: datetime | None = None) -> None:
    if period.day != 1 or period >= current_month(now):
        raise DomainError(_("只能生成已结束月份的结算单"), field="period")


async def build(period: date, institution_id: int | None = None) -> int:
    """Build (or rebuild) the draft statements of `period`, for every institution with
    charges or credits in it, or for one. Returns how many drafts were built."""
    check_period(period)
    rate = await vat_rate()
    everyone = institution_id is None
    async with transaction():
        aggregates = await BillingEvent.raw(
            "SELECT institution, agreement, kind, count(*) AS n, sum(amount) AS charges, "
            "coalesce(sum(base_amount), 0) AS base FROM billing_event "
            "WHERE period = {} AND ({} OR institution = {}) GROUP BY institution, agreement, kind",
            period,
            everyone,
            institution_id or 0,
        )
        credits = await BillingCredit.raw(
            "SELECT c.institution, c.amount, e.kind, e.agreement, "
            "e.period = c.period AS same_period, "
            "e.amount AS event_amount, coalesce(e.base_amount, 0) AS event_base "
            # OFFSET 0 keeps the lateral subquery apart, so each credit looks its event up
            # by primary key instead of the planner hashing the whole month of events.
            "FROM billing_credit c CROSS JOIN LATERAL (SELECT x.kind, x.agreement, "
            "x.period, x.amount, x.base_amount FROM billing_event x "
            "WHERE x.id = c.event OFFSET 0) e "
            "WHERE c.period = {} AND ({} OR c.institution = {})",
            period,
            everyone,
            institution_id or 0,
        )
        active = sorted(
            {r["institution"] for r in aggregates} | {r["institution"] for r in credits}
        )
        if active:
            await Statement.raw(
                "INSERT INTO statement (institution, period, status, vat_rate, subtotals, "
                "built_at, created_at) SELECT i, {}, {}, {}, {}::jsonb, now(), now() "
                "FROM unnest({}::integer[]) AS i ON CONFLICT (institution, period) DO NOTHING",
                period,
                StatementStatus.DRAFT.value,
                rate,
                "{}",
                active,
            )
        drafts = {
            row["institution"]: _Draft(row["id"], row["institution"])
            for row in await Statement.raw(
                "SELECT id, institution FROM statement WHERE period = {} AND status = {} "
                "AND ({} OR institution = {}) ORDER BY id FOR UPDATE",
                period,
                StatementStatus.DRAFT.value,
                everyone,
                institution_id or 0,
            )
        }
        terms = await terms_by_id(r["agreement"] for r in aggregates)
        end = month_end(period)
        # Events of this month credited on this same statement leave the caps' base.
        credited: dict[tuple[int, int, str], _Credited] = defaultdict(_Credited)
        for row in credits:
            if row["same_period"]:
                share = credited[(row["institution"], row["agreement"], row["kind"])]
                share.count += 1
                share.charges += row["event_amount"]
                share.base += row["event_base"]
        for row in aggregates:
            draft = drafts.get(row["institution"])
            if draft is None:
                continue
            sums = draft.model(row["kind"])
            sums.count += row["n"]
            sums.charges += row["charges"]
            cap = _cap(
                terms[row["agreement"]],
                row,
                credited[(row["institution"], row["agreement"], row["kind"])],
            )
            if cap < 0:
                sums.caps += cap
                draft.caps.append(
                    CapLine(
                        row["kind"], row["agreement"], terms[row["agreement"]].version, cap, end
                    )
                )
        for row in credits:
            draft = drafts.get(row["institution"])
            if draft is None:
                continue
            draft.model(row["kind"]).credits -= row["amount"]
        await _sync_lines(list(drafts.values()))
        await write_totals({d.id: totals_of(d.sums, rate) for d in drafts.values()})
    return len(drafts)


@dataclass
class _Credited:
    count: int = 0
    charges: Decimal = ZERO
    base: Decimal = ZERO


def _cap(terms: AgreementTerms, row: Mapping[str, Any], credited: _Credited) -> Decimal:
    """min(0, the month's fee under the caps − what the events charge), both counting only
    events not credited on this statement. Zero for an agreement without caps."""
    if terms.monthly_unit_cap is None and terms.monthly_fee_cap is None:
        return ZERO
    charges = row["charges"] - credited.charges
    fee = terms.month_fee(row["n"] - credited.count, row["base"] - credited.base)
    return min(ZERO, fee - charges)


async def _sync_lines(drafts: list[_Draft]) -> None:
    """Make the drafts' cap lines exactly the built ones, touching only rows that differ:
    a rebuild that finds nothing new writes nothing."""
    if not drafts:
        return
    existing = await Statement.raw(
        "SELECT id, statement, agreement, amount, occurred_at FROM statement_line "
        "WHERE statement = ANY({}::integer[]) AND kind = {}",
        [d.id for d in drafts],
        LineKind.CAP.value,
    )
    current = {(r["statement"], r["agreement"]): r for r in existing}
    wanted = {(d.id, cap.agreement): cap for d in drafts for cap in d.caps}
    stale = [r["id"] for key, r in current.items() if key not in wanted]
    changed = [
        (current[key]["id"], cap)
        for key, cap in wanted.items()
        if key in current
        and (current[key]["amount"], current[key]["occurred_at"]) != (cap.amount, cap.occurred_at)
    ]
    new = [(key[0], cap) for key, cap in wanted.items() if key not in current]
    if stale:
        await Statement.raw("DELETE FROM statement_line WHERE id = ANY({}::integer[])", stale)
    if changed:
        await Statement.raw(
            "UPDATE statement_line l SET amount = v.amount, occurred_at = v.occurred_at "
            "FROM unnest({}::integer[], {}::numeric[], {}::timestamptz[]) "
            "AS v(id, amount, occurred_at) WHERE l.id = v.id",
            [i for i, _cap in changed],
            [cap.amount for _i, cap in changed],
            [cap.occurred_at for _i, cap in changed],
        )
    if new:
        await Statement.raw(
            "INSERT INTO statement_line (statement, kind, pricing_model, agreement, "
            "agreement_version, target_ref, amount, note, occurred_at, created_at) "
            "SELECT v.statement, {}, v.model, v.agreement, v.version, '', v.amount, '', "
            "v.occurred_at, now() FROM unnest({}::integer[], {}::text[], {}::integer[], "
            "{}::integer[], {}::numeric[], {}::timestamptz[]) "
            "AS v(statement, model, agreement, version, amount, occurred_at)",
            LineKind.CAP.value,
            [s for s, _cap in new],
            [cap.pricing_model for _s, cap in new],
            [cap.agreement for _s, cap in new],
            [cap.agreement_version for _s, cap in new],
            [cap.amount for _s, cap in new],
            [cap.occurred_at for _s, cap in new],
        )


async def write_totals(totals: Mapping[int, Totals]) -> None:
    if not totals:
        return
    ids = sorted(totals)
    rows = [totals[i] for i in ids]
    await Statement.raw(
        "UPDATE statement s SET event_count = v.n, charges_total = v.charges, "
        "credits_total = v.credits, caps_total = v.caps, adjustments_total = v.adjustments, "
        "net = v.net, vat_rate = v.vat_rate, vat = v.vat, total_due = v.due, "
        "subtotals = v.subtotals::jsonb, built_at = now() FROM unnest({}::integer[], "
        "{}::integer[], {}::numeric[], {}::numeric[], {}::numeric[], {}::numeric[], "
        "{}::numeric[], {}::numeric[], {}::numeric[], {}::numeric[], {}::text[]) "
        "AS v(id, n, charges, credits, caps, adjustments, net, vat_rate, vat, due, subtotals) "
        "WHERE s.id = v.id",
        ids,
        [t.event_count for t in rows],
        [t.charges for t in rows],
        [t.credits for t in rows],
        [t.caps for t in rows],
        [t.adjustments for t in rows],
        [t.net for t in rows],
        [t.vat_rate for t in rows],
        [t.vat for t in rows],
        [t.total_due for t in rows],
        [json.dumps(t.subtotals, sort_keys=True) for t in rows],
    )


async def refresh_totals(statement_id: int) -> Totals:
    """Recompute one statement's totals from its events and lines (after an adjustment),
    keeping the VAT rate captured when it was built."""
    statement = (
        await Statement.select(Statement.institution, Statement.period, Statement.vat_rate)
        .where(Statement.id == statement_id)
        .first()
    )
    assert statement is not None
    sums: dict[str, ModelSums] = defaultdict(ModelSums)
    for row in await BillingEvent.raw(
        "SELECT kind, count(*) AS n, sum(amount) AS charges FROM billing_event "
        "WHERE institution = {} AND period = {} GROUP BY kind",
        statement["institution"],
        statement["period"],
    ):
        sums[row["kind"]].count = row["n"]
        sums[row["kind"]].charges = row["charges"]
    for row in await BillingCredit.raw(
        "SELECT e.kind, sum(c.amount) AS amount FROM billing_credit c "
        "JOIN billing_event e ON e.id = c.event WHERE c.institution = {} AND c.period = {} "
        "GROUP BY e.kind",
        statement["institution"],
        statement["period"],
    ):
        sums[row["kind"]].credits -= row["amount"]
    for row in await Statement.raw(
        "SELECT pricing_model, kind, sum(amount) AS amount FROM statement_line "
        "WHERE statement = {} GROUP BY pricing_model, kind",
        statement_id,
    ):
        target = sums[row["pricing_model"]]
        if row["kind"] == LineKind.CAP:
            target.caps += row["amount"]
        else:
            target.adjustments += row["amount"]
    totals = totals_of(sums, statement["vat_rate"])
    await write_totals({statement_id: totals})
    return totals


async def schedule_last_month(now: datetime | None = None) -> bool:
    """The hourly cron: from 02:00 (Asia/Shanghai) on the 1st, once the previous month has
    charges or credits and no statement yet, record the job that builds it."""
    now = now or datetime.now(UTC)
    local = now.astimezone(SHANGHAI)
    if local.day == 1 and local.hour < 2:
        return False
    period = previous_month(current_month(now))
    async with transaction():
        if await Statement.exists().where(Statement.period == period):
            return False
        if not (
            await BillingEvent.exists().where(BillingEvent.period == period)
            or await BillingCredit.exists().where(BillingCredit.period == period)
        ):
            return False
        await outbox.record(
            "settlement.build_statements", period=period.isoformat(), institution_id=0
        )
    return True
