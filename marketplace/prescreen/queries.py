"""Read models of the pre-screen pages: rule-set versions, the preview of a draft over
recent leads, and the explanation of one lead's screening."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marketplace.actors import Actor
from marketplace.applications.decisions import rejection_reasons
from marketplace.applications.queries import recent_screenable_leads
from marketplace.applications.statuses import ApplicationStatus
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.prescreen.rules import (
    FIELD_LABELS,
    MAX_FILTERS,
    MAX_SCORE_RULES,
    OPERATOR_LABELS,
    OUTCOME_LABELS,
    Line,
    Outcome,
    Rules,
    evaluate,
    lines_from_json,
)
from marketplace.prescreen.services import PERMISSION, lead_facts
from marketplace.prescreen.statuses import RULE_SET_MACHINE, RuleSetStatus
from marketplace.prescreen.tables import RuleSet, Screening
from marketplace.statemachine import Actions

# The preview replays a draft over this many of the institution's latest leads.
PREVIEW_LEADS = 100


@dataclass(frozen=True, kw_only=True)
class RuleRow:
    index: int  # its place in the list (removing a rule names it)
    text: str  # the condition, e.g. "月收入 8,000–15,000"
    outcome: str  # "拒绝（原因：收入不足）" or "+20 分"


@dataclass(frozen=True, kw_only=True)
class RuleSetView:
    id: int
    version: int
    status: RuleSetStatus
    status_label: str
    filters: tuple[RuleRow, ...]
    scores: tuple[RuleRow, ...]
    threshold: int | None
    threshold_text: str  # "" without a threshold
    threshold_reason: str  # its code, to preselect in the form
    created_at: datetime
    published_at: datetime | None
    editable: bool
    can_add_filter: bool
    can_add_score: bool
    actions: Actions


@dataclass(frozen=True, kw_only=True)
class VersionRow:
    id: int
    version: int
    status: RuleSetStatus
    status_label: str
    rules: int
    created_at: datetime
    published_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class PrescreenPage:
    draft: RuleSetView | None
    in_force: RuleSetView | None
    versions: tuple[VersionRow, ...]
    fields: dict[str, str]
    operators: dict[str, str]
    reasons: dict[str, str]


def _check(actor: Actor) -> None:
    if not actor.can(PERMISSION):
        raise PermissionDenied()


def _reason_label(code: str, reasons: Mapping[str, str]) -> str:
    """A code an operator has since retired still reads as itself."""
    return reasons.get(code) or code


def _reason_text(code: str, reasons: Mapping[str, str]) -> str:
    return _("拒绝（原因：{reason}）", reason=_reason_label(code, reasons))


def _points(points: int) -> str:
    return _("{points} 分", points=f"{points:+d}")


def _view(row: Mapping[str, Any], reasons: Mapping[str, str], actor: Actor) -> RuleSetView:
    rules = Rules.from_json(row["rules"])
    status = RULE_SET_MACHINE.state(row["status"])
    editable = status is RuleSetStatus.DRAFT
    return RuleSetView(
        id=row["id"],
        version=row["version"],
        status=status,
        status_label=RULE_SET_MACHINE.label(status),
        filters=tuple(
            RuleRow(index=i, text=f.condition.describe(), outcome=_reason_text(f.reason, reasons))
            for i, f in enumerate(rules.filters)
        ),
        scores=tuple(
            RuleRow(index=i, text=s.condition.describe(), outcome=_points(s.points))
            for i, s in enumerate(rules.scores)
        ),
        threshold=rules.threshold,
        threshold_text=""
        if rules.threshold is None
        else _(
            "总分低于 {threshold} 分：{outcome}",
            threshold=rules.threshold,
            outcome=_reason_text(rules.threshold_reason, reasons),
        ),
        threshold_reason=rules.threshold_reason,
        created_at=row["created_at"],
        published_at=row["published_at"],
        editable=editable,
        can_add_filter=editable and len(rules.filters) < MAX_FILTERS,
        can_add_score=editable and len(rules.scores) < MAX_SCORE_RULES,
        actions=RULE_SET_MACHINE.actions(status, actor),
    )


_COLUMNS = (
    RuleSet.id,
    RuleSet.version,
    RuleSet.status,
    RuleSet.rules,
    RuleSet.created_at,
    RuleSet.published_at,
)


async def prescreen_page(actor: Actor) -> PrescreenPage:
    _check(actor)
    rows = (
        await RuleSet.select(*_COLUMNS)
        .where(RuleSet.institution == actor.institution_id)
        .order_by(RuleSet.version, ascending=False)
    )
    reasons = await rejection_reasons()
    by_status = {row["status"]: row for row in rows if row["status"] != RuleSetStatus.RETIRED}
    draft = by_status.get(RuleSetStatus.DRAFT)
    in_force = by_status.get(RuleSetStatus.PUBLISHED)
    versions = []
    for row in rows:
        rules = Rules.from_json(row["rules"])
        status = RULE_SET_MACHINE.state(row["status"])
        versions.append(
            VersionRow(
                id=row["id"],
                version=row["version"],
                status=status,
                status_label=RULE_SET_MACHINE.label(status),
                rules=len(rules.filters) + len(rules.scores) + (rules.threshold is not None),
                created_at=row["created_at"],
                published_at=row["published_at"],
            )
        )
    return PrescreenPage(
        draft=None if draft is None else _view(draft, reasons, actor),
        in_force=None if in_force is None else _view(in_force, reasons, actor),
        versions=tuple(versions),
        fields={str(k): _(v) for k, v in FIELD_LABELS.items()},
        operators={str(k): _(v) for k, v in OPERATOR_LABELS.items()},
        reasons=reasons,
    )


async def _row(actor: Actor, rule_set_id: int) -> Mapping[str, Any]:
    row = (
        await RuleSet.select(*_COLUMNS)
        .where((RuleSet.id == rule_set_id) & (RuleSet.institution == actor.institution_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该规则版本"))
    return row


async def rule_set(actor: Actor, rule_set_id: int) -> RuleSetView:
    """One version of the institution's rules (another institution's is NotFound)."""
    _check(actor)
    return _view(await _row(actor, rule_set_id), await rejection_reasons(), actor)


@dataclass(frozen=True, kw_only=True)
class ExplanationLine:
    text: str  # "月收入 8,000–15,000：+20 分"
    held: bool  # the rule applied to this lead
    rejects: bool  # this line is why the lead is (or would be) rejected


def explain(
    lines: tuple[Line, ...], score: int, reasons: Mapping[str, str]
) -> tuple[ExplanationLine, ...]:
    out = []
    for line in lines:
        if line.kind == "threshold":
            text = (
                _(
                    "总分 {score} 低于 {threshold} 分：{outcome}",
                    score=score,
                    threshold=line.threshold,
                    outcome=_reason_text(line.reason, reasons),
                )
                if line.held
                else _(
                    "总分 {score} 不低于 {threshold} 分：通过",
                    score=score,
                    threshold=line.threshold,
                )
            )
            out.append(ExplanationLine(text=text, held=line.held, rejects=line.held))
            continue
        assert line.condition is not None
        condition = line.condition.describe()
        if line.kind == "filter":
            outcome = _reason_text(line.reason, reasons) if line.held else _("未触发")
        else:
            outcome = _points(line.points) if line.held else _("不符合（0 分）")
        out.append(
            ExplanationLine(
                text=_("{condition}：{outcome}", condition=condition, outcome=outcome),
                held=line.held,
                rejects=line.held and line.kind == "filter",
            )
        )
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class LeadScreening:
    version: int
    score: int
    outcome: Outcome
    outcome_label: str
    reason_label: str  # "" when the lead passed
    auto_rejected: bool
    screened_at: datetime
    lines: tuple[ExplanationLine, ...]


async def lead_screening(actor: Actor, application_id: int) -> LeadScreening | None:
    """How the institution's rules scored one of its leads, if they have; None otherwise
    (and for another institution's lead: its lead page is a 404 already)."""
    if not actor.can("lead.view"):
        return None
    row = (
        await Screening.select()
        .where(
            (Screening.application == application_id)
            & (Screening.institution == actor.institution_id)
        )
        .first()
    )
    if row is None:
        return None
    reasons = await rejection_reasons()
    outcome = Outcome(row["outcome"])
    return LeadScreening(
        version=row["version"],
        score=row["score"],
        outcome=outcome,
        outcome_label=_(OUTCOME_LABELS[outcome]),
        reason_label=_reason_label(row["reason"], reasons) if row["reason"] else "",
        auto_rejected=row["auto_rejected"],
        screened_at=row["screened_at"],
        lines=explain(lines_from_json(row["explanation"]), row["score"], reasons),
    )


@dataclass(frozen=True, kw_only=True)
class PreviewRow:
    application_id: int
    reference: str
    delivered_at: datetime | None
    status_label: str  # what actually happened
    actual_reason: str  # the rejection's label, if it was rejected
    scored: bool  # False: consent withdrawn, nothing weighed
    score: int
    would_reject: bool
    reason_label: str
    in_force_score: int | None  # what the version that screened it gave, if one did
    in_force_version: int | None
    differs: bool  # the draft's verdict and the lead's actual fate disagree


@dataclass(frozen=True, kw_only=True)
class Preview:
    rule_set: RuleSetView
    rows: tuple[PreviewRow, ...]
    scored: int
    would_reject: int
    differs: int


# Leads with a fate to compare a verdict with (open ones are still undecided).
_DECIDED = frozenset(
    {ApplicationStatus.APPROVED, ApplicationStatus.ACCEPTED, ApplicationStatus.REJECTED}
)


async def preview(actor: Actor, rule_set_id: int) -> Preview:
    """What these rules would have done to the institution's last PREVIEW_LEADS leads,
    beside what actually happened to them. Nothing is written."""
    _check(actor)
    reasons = await rejection_reasons()
    row = await _row(actor, rule_set_id)
    view = _view(row, reasons, actor)
    rules = Rules.from_json(row["rules"])
    leads = await recent_screenable_leads(actor, PREVIEW_LEADS)
    screenings = {
        s["application"]: s
        for s in await Screening.select(
            Screening.application, Screening.score, Screening.version
        ).where(Screening.application.is_in([lead.id for lead in leads] or [0]))
    }
    rows = []
    for lead in leads:
        screened = screenings.get(lead.id)
        actual_reason = (
            _reason_label(lead.rejection_reason, reasons)
            if lead.status is ApplicationStatus.REJECTED
            else ""
        )
        facts = lead_facts(lead)  # None once consent is withdrawn: nothing is weighed
        verdict = None if facts is None else evaluate(rules, facts)
        would_reject = verdict is not None and verdict.outcome is Outcome.REJECT
        rows.append(
            PreviewRow(
                application_id=lead.id,
                reference=lead.reference,
                delivered_at=lead.delivered_at,
                status_label=lead.status_label,
                actual_reason=actual_reason,
                in_force_score=screened["score"] if screened else None,
                in_force_version=screened["version"] if screened else None,
                scored=verdict is not None,
                score=verdict.score if verdict else 0,
                would_reject=would_reject,
                reason_label=_reason_label(verdict.reason, reasons)
                if verdict and would_reject
                else "",
                # The version would reject what went ahead, or pass what was turned down.
                differs=verdict is not None
                and lead.status in _DECIDED
                and would_reject != (lead.status is ApplicationStatus.REJECTED),
            )
        )
    return Preview(
        rule_set=view,
        rows=tuple(rows),
        scored=sum(r.scored for r in rows),
        would_reject=sum(r.would_reject for r in rows),
        differs=sum(r.differs for r in rows),
    )
