"""Pre-screen verbs: an institution edits and publishes its rules; the system screens each
delivered lead with the rules in force (PRODUCT.md I4)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from marketplace.actors import SYSTEM, Actor
from marketplace.applications.decisions import Rejection, reject_lead, rejection_reasons
from marketplace.applications.queries import ScreenableLead, screenable_lead
from marketplace.applications.services import record_prescreen_score
from marketplace.applications.statuses import ApplicationStatus
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import NotFound, PermissionDenied, ValidationFailed
from marketplace.i18n import _
from marketplace.prescreen.rules import (
    MAX_FILTERS,
    MAX_SCORE_RULES,
    LeadFacts,
    Outcome,
    Rules,
    evaluate,
    parse_hard_filter,
    parse_score_rule,
    parse_threshold_form,
)
from marketplace.prescreen.statuses import RULE_SET_MACHINE, RuleSetStatus
from marketplace.prescreen.tables import RuleSet, Screening

T = TypeVar("T")

PERMISSION = "prescreen.manage"
# Serialises one institution's rule-set writes (drafts, versions, publishing), so two
# parallel requests can neither open two drafts nor pass a rule limit together.
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('prescreen'), {})"


def _check(actor: Actor) -> None:
    if not actor.can(PERMISSION) or actor.institution_id is None:
        raise PermissionDenied()


async def _lock_institution(institution_id: int | None) -> None:
    await RuleSet.raw(_LOCK_SQL, institution_id)


async def start_draft(actor: Actor) -> int:
    """The institution's draft, opened from the version in force (or empty) if it has none."""
    _check(actor)
    async with transaction():
        await _lock_institution(actor.institution_id)
        mine = RuleSet.institution == actor.institution_id
        draft = (
            await RuleSet.select(RuleSet.id)
            .where(mine & (RuleSet.status == RuleSetStatus.DRAFT))
            .first()
        )
        if draft is not None:
            return int(draft["id"])
        latest = (
            await RuleSet.select(RuleSet.version)
            .where(mine)
            .order_by(RuleSet.version, ascending=False)
            .first()
        )
        published = (
            await RuleSet.select(RuleSet.rules)
            .where(mine & (RuleSet.status == RuleSetStatus.PUBLISHED))
            .first()
        )
        version = (latest["version"] if latest else 0) + 1
        rows = await RuleSet.insert(
            RuleSet(
                institution=actor.institution_id,
                version=version,
                status=RuleSetStatus.DRAFT,
                rules=published["rules"] if published else Rules().as_json(),
                created_by=actor.user_id,
            )
        ).returning(RuleSet.id)
        rule_set_id = int(rows[0]["id"])
        await audit(actor, "prescreen.draft", "prescreen_rule_set", rule_set_id, version=version)
    return rule_set_id


async def _locked(actor: Actor, rule_set_id: int) -> Mapping[str, Any]:
    """One of the actor's institution's rule sets, locked (another's is NotFound)."""
    await _lock_institution(actor.institution_id)
    row = (
        await RuleSet.select(RuleSet.id, RuleSet.status, RuleSet.version, RuleSet.rules)
        .where((RuleSet.id == rule_set_id) & (RuleSet.institution == actor.institution_id))
        .lock_rows()
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该规则版本"))
    return row


async def _edit_draft(
    actor: Actor, rule_set_id: int, change: Callable[[Rules], Rules], what: str
) -> None:
    """Apply `change` to the draft's rules; a published or retired version is read-only."""
    _check(actor)
    async with transaction():
        row = await _locked(actor, rule_set_id)
        if row["status"] != RuleSetStatus.DRAFT:
            raise ValidationFailed({"_rules": _("只有草稿可以修改，已发布的版本只读；请新建草稿")})
        rules = change(Rules.from_json(row["rules"]))
        if len(rules.filters) > MAX_FILTERS:
            raise ValidationFailed({"_rules": _("硬性条件最多 {n} 条", n=MAX_FILTERS)})
        if len(rules.scores) > MAX_SCORE_RULES:
            raise ValidationFailed({"_rules": _("评分项最多 {n} 条", n=MAX_SCORE_RULES)})
        await RuleSet.update(
            {RuleSet.rules: rules.as_json(), RuleSet.updated_at: datetime.now(UTC)}
        ).where(RuleSet.id == rule_set_id)
        await audit(
            actor,
            "prescreen.edit",
            "prescreen_rule_set",
            rule_set_id,
            version=row["version"],
            change=what,
        )


async def add_hard_filter(actor: Actor, rule_set_id: int, data: Mapping[str, Any]) -> None:
    _check(actor)
    hard = parse_hard_filter(data, await rejection_reasons())
    await _edit_draft(
        actor, rule_set_id, lambda r: replace(r, filters=(*r.filters, hard)), "filter.add"
    )


async def add_score_rule(actor: Actor, rule_set_id: int, data: Mapping[str, Any]) -> None:
    _check(actor)
    rule = parse_score_rule(data)
    await _edit_draft(
        actor, rule_set_id, lambda r: replace(r, scores=(*r.scores, rule)), "score.add"
    )


async def set_threshold(actor: Actor, rule_set_id: int, data: Mapping[str, Any]) -> None:
    _check(actor)
    threshold = parse_threshold_form(data, await rejection_reasons())
    await _edit_draft(
        actor,
        rule_set_id,
        lambda r: replace(r, threshold=threshold.value, threshold_reason=threshold.reason),
        "threshold",
    )


def _without(items: tuple[T, ...], index: int) -> tuple[T, ...]:
    return items[:index] + items[index + 1 :]


async def remove_rule(actor: Actor, rule_set_id: int, kind: str, index: int) -> None:
    """Take out the `index`-th hard filter or score rule (as the page numbers them, from 0)."""

    def change(rules: Rules) -> Rules:
        if kind == "filter" and 0 <= index < len(rules.filters):
            return replace(rules, filters=_without(rules.filters, index))
        if kind == "score" and 0 <= index < len(rules.scores):
            return replace(rules, scores=_without(rules.scores, index))
        raise ValidationFailed({"_rules": _("该规则已不存在，请刷新页面")})

    await _edit_draft(actor, rule_set_id, change, f"{kind}.remove")


async def publish(actor: Actor, rule_set_id: int) -> int:
    """Put the draft in force; the version in force until now is retired (kept read-only).
    Returns the published version's number."""
    _check(actor)
    async with transaction():
        row = await _locked(actor, rule_set_id)
        target = RULE_SET_MACHINE.target(row["status"], "publish", actor)
        rules = Rules.from_json(row["rules"])
        if rules.empty:
            raise ValidationFailed({"_rules": _("草稿中还没有任何规则，无法发布")})
        reasons = await rejection_reasons()
        codes = {f.reason for f in rules.filters} | ({rules.threshold_reason} - {""})
        if unknown := codes - reasons.keys():
            # An operator may have retired a reason code since the rule was written.
            raise ValidationFailed(
                {
                    "_rules": _(
                        "拒绝原因已停用：{codes}，请修改相关规则", codes="、".join(sorted(unknown))
                    )
                }
            )
        now = datetime.now(UTC)
        await RuleSet.update(
            {
                RuleSet.status: RULE_SET_MACHINE.target(RuleSetStatus.PUBLISHED, "retire", actor),
                RuleSet.updated_at: now,
            }
        ).where(
            (RuleSet.institution == actor.institution_id)
            & (RuleSet.status == RuleSetStatus.PUBLISHED)
        )
        await RuleSet.update(
            {RuleSet.status: target, RuleSet.published_at: now, RuleSet.updated_at: now}
        ).where(RuleSet.id == rule_set_id)
        await audit(
            actor, "prescreen.publish", "prescreen_rule_set", rule_set_id, version=row["version"]
        )
    return int(row["version"])


async def retire(actor: Actor, rule_set_id: int) -> None:
    """Stop screening with the version in force (new leads go unscored until a publish)."""
    _check(actor)
    async with transaction():
        row = await _locked(actor, rule_set_id)
        target = RULE_SET_MACHINE.target(row["status"], "retire", actor)
        await RuleSet.update({RuleSet.status: target, RuleSet.updated_at: datetime.now(UTC)}).where(
            RuleSet.id == rule_set_id
        )
        await audit(
            actor, "prescreen.retire", "prescreen_rule_set", rule_set_id, version=row["version"]
        )


def lead_facts(lead: ScreenableLead) -> LeadFacts | None:
    """What the rules may weigh of a lead; None once consent is withdrawn."""
    if lead.facts is None:
        return None
    return LeadFacts(
        monthly_income=lead.facts.monthly_income,
        amount=lead.amount,
        city=lead.facts.city,
        employment_type=lead.facts.employment_type,
    )


def _screening_actor(institution_id: int) -> Actor:
    """The system acting for the institution's own rules: it may reject its leads, no more."""
    return replace(
        SYSTEM,
        label="prescreen",
        institution_id=institution_id,
        permissions=SYSTEM.permissions | {"lead.work"},
    )


async def screen_lead(application_id: int) -> bool:
    """Score a delivered lead with its institution's published rules, store the verdict
    with the version, and reject the lead (as the system, with the rule's reason) when the
    rules say so and nobody has taken it up yet. Nothing is read or scored once consent is
    withdrawn, nor when the institution has no rules in force. Idempotent: a lead is
    screened once, by the version in force when the job ran."""
    async with transaction():
        lead = await screenable_lead(application_id)
        if lead is None:
            return False
        rule_set = (
            await RuleSet.select(RuleSet.id, RuleSet.version, RuleSet.rules)
            .where(
                (RuleSet.institution == lead.institution_id)
                & (RuleSet.status == RuleSetStatus.PUBLISHED)
            )
            .first()
        )
        if rule_set is None:
            return False
        facts = lead_facts(lead)
        if facts is None:
            return False
        verdict = evaluate(Rules.from_json(rule_set["rules"]), facts)
        applies = verdict.outcome is Outcome.REJECT and lead.status is ApplicationStatus.DELIVERED
        inserted = (
            await Screening.insert(
                Screening(
                    application=application_id,
                    institution=lead.institution_id,
                    rule_set=rule_set["id"],
                    version=rule_set["version"],
                    score=verdict.score,
                    outcome=verdict.outcome,
                    reason=verdict.reason,
                    auto_rejected=applies,
                    explanation=[line.as_json() for line in verdict.lines],
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(Screening.id)
        )
        if not inserted:  # screened already by a parallel run of this job
            return False
        await record_prescreen_score(application_id, verdict.score)
        await audit(
            SYSTEM,
            "prescreen.screen",
            "application",
            application_id,
            version=rule_set["version"],
            score=verdict.score,
            outcome=str(verdict.outcome),
        )
        if applies:
            reasons = await rejection_reasons()
            await reject_lead(
                _screening_actor(lead.institution_id),
                application_id,
                Rejection(
                    reason=verdict.reason,
                    # A code retired since publishing still reads as a reason to the borrower.
                    label=reasons.get(verdict.reason, _("不符合机构准入条件")),
                    note=_("预筛规则第 {version} 版自动拒绝", version=rule_set["version"]),
                ),
            )
    return True
