"""Read models of the anti-fraud pages (A8): the review queue, a held application with
its rule hits, recent events, the blacklist and the rules with their parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marketplace.i18n import N_, _
from marketplace.institutions.tables import Institution
from marketplace.parameters.services import get_parameters
from marketplace.risk.rules import (
    AGE_MAX,
    AGE_MIN,
    AGE_RULE,
    AGE_SCORE,
    BLACKLIST_SCORE,
    HOLD_LABELS,
    HOLD_SCORE,
    INVALID_ID_RULE,
    INVALID_ID_SCORE,
    KEY_LABELS,
    REGISTRATION_BLOCK_SCORE,
    REJECTION_REASONS,
    RULE_LABELS,
    VELOCITY_RULES,
    HoldStatus,
    KeyKind,
    Stage,
    parameter_keys,
)
from marketplace.risk.tables import BlacklistEntry, RiskEvent, RiskHold

STAGE_LABELS: dict[str, str] = {Stage.REGISTRATION: N_("注册"), Stage.APPLICATION: N_("申请")}


def _label(table: dict[Any, str], key: str) -> str:
    return _(table[key]) if key in table else key


@dataclass(frozen=True, kw_only=True)
class EventRow:
    id: int
    at: datetime
    stage_label: str
    rule: str
    rule_label: str
    score: int
    subject_label: str
    subject_hint: str
    application_id: int | None
    user_id: int | None


def _event(row: dict[str, Any]) -> EventRow:
    return EventRow(
        id=row["id"],
        at=row["at"],
        stage_label=_label(STAGE_LABELS, row["stage"]),
        rule=row["rule"],
        rule_label=_label(RULE_LABELS, row["rule"]),
        score=row["score"],
        subject_label=_label(KEY_LABELS, row["subject_kind"]),
        subject_hint=row["subject_hint"],
        application_id=row["application_id"],
        user_id=row["user_id"],
    )


@dataclass(frozen=True, kw_only=True)
class HoldRow:
    id: int
    application_id: int
    reference: str
    institution_name: str
    mobile_masked: str
    score: int
    status: str
    status_label: str
    held_at: datetime
    decided_at: datetime | None
    decided_by: str
    reason_label: str
    note: str
    pending: bool


def _hold(row: dict[str, Any]) -> HoldRow:
    return HoldRow(
        id=row["id"],
        application_id=row["application_id"],
        reference=row["reference"],
        institution_name=row["institution_name"] or "",
        mobile_masked=row["mobile_masked"],
        score=row["score"],
        status=row["status"],
        status_label=_label(HOLD_LABELS, row["status"]),
        held_at=row["held_at"],
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        reason_label=_label(REJECTION_REASONS, row["reason_code"]) if row["reason_code"] else "",
        note=row["note"],
        pending=row["status"] == HoldStatus.HELD,
    )


async def _institution_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await Institution.select(Institution.id, Institution.short_name).where(
        Institution.id.is_in(list(ids))
    )
    return {row["id"]: row["short_name"] for row in rows}


async def _holds_of(rows: list[dict[str, Any]]) -> list[HoldRow]:
    names = await _institution_names({row["institution_id"] for row in rows})
    return [_hold({**row, "institution_name": names.get(row["institution_id"])}) for row in rows]


HOLD_FILTERS = ("held", "released", "rejected", "all")


async def hold_queue(status: str, *, page: int, per_page: int) -> tuple[list[HoldRow], int]:
    """Held applications oldest first (the review queue); decided ones newest first."""
    condition: Any = RiskHold.id > 0
    if status in (HoldStatus.HELD, HoldStatus.RELEASED, HoldStatus.REJECTED):
        condition = RiskHold.status == status
    query = RiskHold.select().where(condition)
    if status == HoldStatus.HELD:
        query = query.order_by(RiskHold.held_at)
    else:
        query = query.order_by(RiskHold.held_at, ascending=False)
    rows = await query.limit(per_page).offset((page - 1) * per_page)
    return await _holds_of(rows), await RiskHold.count().where(condition)


async def pending_count() -> int:
    return await RiskHold.count().where(RiskHold.status == HoldStatus.HELD)


@dataclass(frozen=True, kw_only=True)
class HoldDetail:
    hold: HoldRow
    events: list[EventRow]
    rejection_reasons: list[tuple[str, str]]


async def hold_detail(hold_id: int) -> HoldDetail | None:
    row = await RiskHold.select().where(RiskHold.id == hold_id).first()
    if row is None:
        return None
    events = (
        await RiskEvent.select()
        .where(RiskEvent.application_id == row["application_id"])
        .order_by(RiskEvent.id)
    )
    return HoldDetail(
        hold=(await _holds_of([row]))[0],
        events=[_event(event) for event in events],
        rejection_reasons=rejection_reason_choices(),
    )


def rejection_reason_choices() -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in REJECTION_REASONS.items()]


def rule_choices() -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in RULE_LABELS.items()]


async def recent_events(rule: str, *, page: int, per_page: int) -> tuple[list[EventRow], int]:
    condition: Any = RiskEvent.id > 0
    if rule:
        condition = RiskEvent.rule == rule
    rows = (
        await RiskEvent.select()
        .where(condition)
        .order_by(RiskEvent.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [_event(row) for row in rows], await RiskEvent.count().where(condition)


@dataclass(frozen=True, kw_only=True)
class BlacklistRow:
    id: int
    kind_label: str
    display: str
    reason: str
    added_at: datetime
    added_by: str
    removed_at: datetime | None
    removed_by: str
    removal_reason: str


def blacklist_kind_choices() -> list[tuple[str, str]]:
    return [
        (kind.value, _(KEY_LABELS[kind]))
        for kind in (KeyKind.PHONE, KeyKind.ID_NUMBER, KeyKind.ADDRESS)
    ]


async def blacklist(
    *, include_removed: bool, page: int, per_page: int
) -> tuple[list[BlacklistRow], int]:
    condition: Any = BlacklistEntry.id > 0
    if not include_removed:
        condition = BlacklistEntry.removed_at.is_null()
    rows = (
        await BlacklistEntry.select()
        .where(condition)
        .order_by(BlacklistEntry.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [
        BlacklistRow(
            id=row["id"],
            kind_label=_label(KEY_LABELS, row["kind"]),
            display=row["display"],
            reason=row["reason"],
            added_at=row["added_at"],
            added_by=row["added_by"],
            removed_at=row["removed_at"],
            removed_by=row["removed_by"],
            removal_reason=row["removal_reason"],
        )
        for row in rows
    ], await BlacklistEntry.count().where(condition)


@dataclass(frozen=True, kw_only=True)
class RuleRow:
    label: str
    parameters: list[tuple[str, str, object]]  # (key, what it sets, current value)


async def rules_overview() -> list[RuleRow]:
    """Each rule with the system parameters that set it and their current values."""
    values = await get_parameters(*parameter_keys())

    def param(key: str, what: str) -> tuple[str, str, object]:
        return (key, what, values[key])

    rows = [
        RuleRow(
            label=_(rule.label),
            parameters=[
                param(rule.limit_parameter, _("窗口内允许次数")),
                param(rule.window_parameter, _("统计窗口（小时）")),
                param(rule.score_parameter, _("命中分值")),
            ],
        )
        for rule in VELOCITY_RULES
    ]
    rows.append(
        RuleRow(
            label=_("命中黑名单（手机号、身份证号、IP 地址）"),
            parameters=[param(BLACKLIST_SCORE, _("命中分值"))],
        )
    )
    rows.append(
        RuleRow(
            label=_(RULE_LABELS[INVALID_ID_RULE]),
            parameters=[param(INVALID_ID_SCORE, _("命中分值"))],
        )
    )
    rows.append(
        RuleRow(
            label=_(RULE_LABELS[AGE_RULE]),
            parameters=[
                param(AGE_MIN, _("最低年龄（周岁）")),
                param(AGE_MAX, _("最高年龄（周岁）")),
                param(AGE_SCORE, _("命中分值")),
            ],
        )
    )
    rows.append(
        RuleRow(
            label=_("申请总分达到阈值：暂停交付，转人工审核"),
            parameters=[param(HOLD_SCORE, _("阈值"))],
        )
    )
    rows.append(
        RuleRow(
            label=_("注册总分达到阈值：拒绝注册"),
            parameters=[param(REGISTRATION_BLOCK_SCORE, _("阈值"))],
        )
    )
    return rows
