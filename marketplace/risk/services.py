"""Anti-fraud verbs (A8): screening registrations and applications, deciding held
applications, keeping the blacklist.

Velocity counts hold under parallel requests: each key's count is taken under a
transaction-scoped advisory lock on that key (taken in one order, so two requests sharing
keys cannot deadlock), in a statement after the lock's, so it sees every observation the
lock's previous holders committed. Only requests sharing a key wait for each other, and a
submission screens last in its transaction: the lock is held for one statement and the
commit. The rules read their limits, windows and scores from system parameters on every
evaluation."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from marketplace import outbox
from marketplace.actors import SYSTEM, Actor
from marketplace.audit.services import record as audit
from marketplace.db import fetch, transaction
from marketplace.errors import (
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from marketplace.i18n import N_, _
from marketplace.parameters.services import get_parameters
from marketplace.parsing import FieldError, parse_text
from marketplace.risk.rules import (
    AGE_MAX,
    AGE_MIN,
    AGE_RULE,
    AGE_SCORE,
    BLACKLIST_KINDS,
    BLACKLIST_RULES,
    BLACKLIST_SCORE,
    HOLD_SCORE,
    INVALID_ID_RULE,
    INVALID_ID_SCORE,
    KEY_PURPOSES,
    REGISTRATION_BLOCK_SCORE,
    REJECTION_REASONS,
    VELOCITY_RULES,
    HoldStatus,
    KeyKind,
    Stage,
    parameter_keys,
)
from marketplace.risk.tables import BlacklistEntry, RiskEvent, RiskHold, RiskObservation
from marketplace.security import (
    age_on,
    blind_index,
    mask_id_number,
    mask_ip,
    mask_mobile,
    normalise_id_number,
    normalise_mobile,
    today_in_china,
    validate_id_number,
    validate_mobile,
)

# Broader networks than these would bar whole provinces or carriers by mistake.
MIN_IPV4_PREFIX = 16
MIN_IPV6_PREFIX = 48
MAX_VALUE_LENGTH = 64
MAX_REASON_LENGTH = 200
MAX_NOTE_LENGTH = 500
REGISTRATION_REFUSED = N_("暂时无法完成注册，请稍后再试或联系客服")


@dataclass(frozen=True)
class Subject:
    """Who is asking, as the rules see it: clear values, hashed before anything is kept."""

    phone: str = ""
    id_number: str = ""
    device: str = ""
    address: str = ""

    def keys(self) -> dict[KeyKind, str]:
        values = {
            KeyKind.PHONE: normalise_mobile(self.phone) if self.phone else "",
            KeyKind.ID_NUMBER: normalise_id_number(self.id_number) if self.id_number else "",
            KeyKind.DEVICE: self.device,
            KeyKind.ADDRESS: self.address,
        }
        return {kind: value for kind, value in values.items() if value}


@dataclass(frozen=True)
class Hit:
    rule: str
    score: int
    subject_kind: str
    subject_ref: str = ""
    subject_hint: str = ""
    detail: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ApplicationCase:
    """The application being screened (ids, and the clear values only to hash them)."""

    application_id: int
    reference: str
    institution_id: int
    borrower_id: int | None
    mobile: str
    id_number: str


def key_ref(kind: KeyKind, value: str) -> str:
    return blind_index(value, purpose=KEY_PURPOSES[kind])


def _hint(kind: KeyKind, value: str) -> str:
    if kind == KeyKind.PHONE:
        return mask_mobile(value)
    if kind == KeyKind.ID_NUMBER:
        return mask_id_number(value)
    if kind == KeyKind.ADDRESS:
        return mask_ip(value)[:40]
    return ""


def rule_values(values: Mapping[str, Any]) -> dict[str, int]:
    """The rules' parameters out of a `get_parameters` answer that includes them (a verb
    that loads its own parameters in the same query passes them on)."""
    return {key: int(values[key]) for key in parameter_keys()}


async def rule_parameters() -> dict[str, int]:
    return rule_values(await get_parameters(*parameter_keys()))


def _lock_name(stage: Stage, kind: KeyKind, ref: str) -> str:
    return f"risk:{stage}:{kind}:{ref}"


# One round trip before the counts: the velocity keys' transaction-scoped advisory locks,
# taken in the order given (sorted by the caller, so two requests sharing keys cannot
# deadlock), and the live blacklist entries for the phone, the ID number and the address
# (a GiST index answers the address; the CASE keeps Postgres from casting a phone's blind
# index to cidr, and the same expression is indexed).
_LOCK_AND_BLACKLIST_SQL = """
SELECT
  (SELECT count(*) FROM (
     SELECT pg_advisory_xact_lock(hashtextextended(name, 0))
     FROM unnest({}::text[]) WITH ORDINALITY AS lock(name, position) ORDER BY position
   ) AS taken) AS locks,
  (SELECT min(id) FROM risk_blacklist
    WHERE kind = 'phone' AND value_ref = {}::text AND removed_at IS NULL) AS phone,
  (SELECT min(id) FROM risk_blacklist
    WHERE kind = 'id_number' AND value_ref = {}::text AND removed_at IS NULL) AS id_number,
  (SELECT id FROM risk_blacklist WHERE kind = 'address' AND removed_at IS NULL
    AND (CASE WHEN kind = 'address' THEN value_ref::cidr END) >>= {}::inet
    ORDER BY id LIMIT 1) AS address
"""

# After the locks (a statement of its own, so its snapshot sees every observation
# committed by the lock's previous holders): this request's observations are written and
# each key's observations within its window counted. The statement does not see its own
# inserts, so each count is one short of what it includes.
_OBSERVE_AND_COUNT_SQL = """
WITH observed AS (
  INSERT INTO risk_observation (at, stage, key_kind, key_ref, user_id, application_id)
  SELECT {}::timestamptz, {}::text, kind, ref, {}::integer, {}::integer
  FROM unnest({}::text[], {}::text[]) AS o(kind, ref)
)
SELECT k.kind, (
  SELECT count(*) FROM risk_observation o
  WHERE o.stage = {}::text AND o.key_kind = k.kind AND o.key_ref = k.ref
    AND o.at >= k.since AND (k.until IS NULL OR o.at <= k.until)
) AS earlier
FROM unnest({}::text[], {}::text[], {}::timestamptz[], {}::timestamptz[])
  AS k(kind, ref, since, until)
"""


@dataclass(frozen=True)
class _Key:
    kind: KeyKind
    value: str
    ref: str


def _ip_or_none(address: str | None) -> str | None:
    if not address:
        return None
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return address


async def _screen_keys(
    stage: Stage,
    keys: Mapping[KeyKind, str],
    params: Mapping[str, int],
    *,
    user_id: int | None,
    application_id: int | None,
    recorded_at: datetime | None = None,
) -> list[Hit]:
    """Velocity and blacklist hits in two round trips: the locks with the blacklist look-up,
    then the observations written and counted."""
    at = recorded_at or datetime.now(UTC)
    refs = {kind: _Key(kind, value, key_ref(kind, value)) for kind, value in keys.items()}
    rules = sorted(
        (rule for rule in VELOCITY_RULES if rule.stage == stage and rule.key in refs),
        key=lambda rule: rule.key,
    )
    locks = sorted(_lock_name(stage, rule.key, refs[rule.key].ref) for rule in rules)
    phone, id_number = refs.get(KeyKind.PHONE), refs.get(KeyKind.ID_NUMBER)
    address = _ip_or_none(keys.get(KeyKind.ADDRESS))
    [found] = await fetch(
        _LOCK_AND_BLACKLIST_SQL,
        locks,
        phone.ref if phone else None,
        id_number.ref if id_number else None,
        address,
    )
    hits: list[Hit] = []
    if rules:
        rows = await fetch(
            _OBSERVE_AND_COUNT_SQL,
            at,
            stage,
            user_id,
            application_id,
            [rule.key for rule in rules],
            [refs[rule.key].ref for rule in rules],
            stage,
            [rule.key for rule in rules],
            [refs[rule.key].ref for rule in rules],
            [at - timedelta(hours=params[rule.window_parameter]) for rule in rules],
            # Live submissions count everything observed up to the count, parallel ones
            # included. A dated one (the demo's history, written in any order) counts what
            # was observed within its window of its own time, before or after it: of two
            # within the window, the one screened second sees the other, whichever it is.
            [
                None if recorded_at is None else at + timedelta(hours=params[rule.window_parameter])
                for rule in rules
            ],
        )
        earlier = {row["kind"]: int(row["earlier"]) for row in rows}
        for rule in rules:
            key = refs[rule.key]
            count = earlier[rule.key] + 1
            limit = params[rule.limit_parameter]
            if count > limit:
                hits.append(
                    Hit(
                        rule.code,
                        params[rule.score_parameter],
                        rule.key,
                        key.ref,
                        _hint(rule.key, key.value),
                        {
                            "count": count,
                            "limit": limit,
                            "window_hours": params[rule.window_parameter],
                        },
                    )
                )
    for kind in (KeyKind.PHONE, KeyKind.ID_NUMBER, KeyKind.ADDRESS):
        if (entry := found[kind]) is not None:
            key = refs[kind]
            hits.append(
                Hit(
                    BLACKLIST_RULES[kind],
                    params[BLACKLIST_SCORE],
                    kind,
                    key.ref,
                    _hint(kind, key.value),
                    {"entry": int(entry)},
                )
            )
    return hits


def identity_hits(id_number: str, params: Mapping[str, int]) -> list[Hit]:
    """The ID number's check character and birth date (GB 11643), then the age band."""
    if not id_number:
        return []
    ref = key_ref(KeyKind.ID_NUMBER, normalise_id_number(id_number))
    hint = mask_id_number(normalise_id_number(id_number))
    if validate_id_number(id_number) is not None:
        return [Hit(INVALID_ID_RULE, params[INVALID_ID_SCORE], KeyKind.ID_NUMBER, ref, hint)]
    age = age_on(id_number, today_in_china())
    if not params[AGE_MIN] <= age <= params[AGE_MAX]:
        return [
            Hit(
                AGE_RULE,
                params[AGE_SCORE],
                KeyKind.ID_NUMBER,
                ref,
                hint,
                {"age": age, "min": params[AGE_MIN], "max": params[AGE_MAX]},
            )
        ]
    return []


async def _record_hits(
    stage: Stage, hits: list[Hit], *, user_id: int | None, application_id: int | None
) -> list[int]:
    if not hits:
        return []
    rows = await RiskEvent.insert(
        *(
            RiskEvent(
                stage=stage,
                rule=hit.rule,
                score=hit.score,
                subject_kind=hit.subject_kind,
                subject_ref=hit.subject_ref,
                subject_hint=hit.subject_hint,
                user_id=user_id,
                application_id=application_id,
                detail=dict(hit.detail or {}),
            )
            for hit in hits
        )
    ).returning(RiskEvent.id)
    return [row["id"] for row in rows]


async def _evaluate(
    stage: Stage,
    subject: Subject,
    params: Mapping[str, int],
    *,
    user_id: int | None = None,
    application_id: int | None = None,
    recorded_at: datetime | None = None,
) -> list[Hit]:
    hits = await _screen_keys(
        stage,
        subject.keys(),
        params,
        user_id=user_id,
        application_id=application_id,
        recorded_at=recorded_at,
    )
    if stage == Stage.APPLICATION:
        hits += identity_hits(subject.id_number, params)
    await _record_hits(stage, hits, user_id=user_id, application_id=application_id)
    return hits


async def screen_registration(origin: Actor, mobile: str) -> None:
    """Evaluate a registration (phone blacklist, device and address velocity and
    blacklist) in a transaction of its own, so its events stay when it is refused. At or
    above the block score it is refused with a neutral message: no account exists yet to
    hold for review, and the one extra check a visitor can pass (the SMS code) is already
    behind them."""
    params = await rule_parameters()
    async with transaction():
        hits = await _evaluate(
            Stage.REGISTRATION,
            Subject(phone=mobile, device=origin.device, address=origin.ip),
            params,
        )
        score = sum(hit.score for hit in hits)
        refused = score >= params[REGISTRATION_BLOCK_SCORE]
        if refused:
            await audit(
                origin,
                "risk.registration_refused",
                "risk_screening",
                "registration",
                score=score,
                rules=[hit.rule for hit in hits],
            )
    if refused:
        raise DomainError(_(REGISTRATION_REFUSED), field="mobile")


async def screen_application(
    actor: Actor,
    case: ApplicationCase,
    *,
    recorded_at: datetime | None = None,
    params: Mapping[str, int] | None = None,
) -> bool:
    """Inside the submission's transaction: record the rule hits and, at or above the hold
    score, hold the application for review (the delivery job then leaves it alone).
    Returns whether it is held. `recorded_at` (default now) is when the submission is
    observed and what the velocity windows are counted around: the demo's history is dated.
    `params`: the rules' parameters when the caller loaded them already (`rule_values`).
    Call it last in the transaction: the velocity locks are held until it ends."""
    if params is None:
        params = await rule_parameters()
    hits = await _evaluate(
        Stage.APPLICATION,
        Subject(phone=case.mobile, id_number=case.id_number, device=actor.device, address=actor.ip),
        params,
        user_id=case.borrower_id,
        application_id=case.application_id,
        recorded_at=recorded_at,
    )
    score = sum(hit.score for hit in hits)
    if score < params[HOLD_SCORE]:
        return False
    await RiskHold.insert(
        RiskHold(
            application_id=case.application_id,
            reference=case.reference,
            institution_id=case.institution_id,
            borrower_id=case.borrower_id,
            mobile_masked=mask_mobile(normalise_mobile(case.mobile)) if case.mobile else "",
            score=score,
        )
    )
    await audit(
        SYSTEM.with_request(actor.ip, actor.request_id),
        "risk.hold",
        "application",
        case.application_id,
        score=score,
        rules=[hit.rule for hit in hits],
    )
    return True


async def hold_status(application_id: int) -> HoldStatus | None:
    """What the delivery job must respect: held (wait), rejected (refuse), else deliver."""
    rows = await fetch("SELECT status FROM risk_hold WHERE application_id = {}", application_id)
    return HoldStatus(rows[0]["status"]) if rows else None


async def purge_expired() -> int:
    """Daily: observations older than the retention (the velocity rules look back less
    far) are deleted, and decided holds that old lose their masked phone. How many rows."""
    days = int(
        (await get_parameters("risk_observation_retention_days"))["risk_observation_retention_days"]
    )
    before = datetime.now(UTC) - timedelta(days=days)
    async with transaction():
        deleted = (
            await RiskObservation.delete()
            .where(RiskObservation.at < before)
            .returning(RiskObservation.id)
        )
        cleared = await (
            RiskHold.update({RiskHold.mobile_masked: ""})
            .where(
                (RiskHold.status != HoldStatus.HELD)
                & (RiskHold.decided_at < before)
                & (RiskHold.mobile_masked != "")
            )
            .returning(RiskHold.id)
        )
    return len(deleted) + len(cleared)


async def held_applications(application_ids: Collection[int]) -> set[int]:
    """Which of these applications are held for review now."""
    if not application_ids:
        return set()
    rows = await RiskHold.select(RiskHold.application_id).where(
        RiskHold.application_id.is_in(list(application_ids)) & (RiskHold.status == HoldStatus.HELD)
    )
    return {row["application_id"] for row in rows}


def _text(raw: str, label: str, max_length: int, *, required: bool = False) -> str:
    return parse_text(raw, label=label, max_length=max_length, min_length=1 if required else 0)


async def decide_hold(
    actor: Actor, hold_id: int, decision: str, reason_code: str = "", note: str = ""
) -> None:
    """Release (delivered through the normal path, by the outbox) or reject (the borrower
    is told neutrally by the same path). The hold's row lock makes one decision win."""
    if not actor.can("risk.manage"):
        raise PermissionDenied()
    errors: dict[str, str] = {}
    if decision not in ("release", "reject"):
        errors["decision"] = _("请选择放行或拒绝")
    if decision == "reject" and reason_code not in REJECTION_REASONS:
        errors["reason_code"] = _("请选择拒绝原因")
    try:
        note = _text(note, _("备注"), MAX_NOTE_LENGTH)
    except FieldError as exc:
        errors["note"] = exc.message
    if errors:
        raise ValidationFailed(errors)
    async with transaction():
        row = await RiskHold.select().where(RiskHold.id == hold_id).lock_rows().first()
        if row is None:
            raise NotFound()
        if row["status"] != HoldStatus.HELD:
            raise InvalidTransition(_("该申请已由其他人处理，请刷新后查看结果"))
        status = HoldStatus.RELEASED if decision == "release" else HoldStatus.REJECTED
        await RiskHold.update(
            {
                RiskHold.status: status,
                RiskHold.decided_at: datetime.now(UTC),
                RiskHold.decided_by_id: actor.user_id,
                RiskHold.decided_by: actor.label,
                RiskHold.reason_code: reason_code if status == HoldStatus.REJECTED else "",
                RiskHold.note: note,
            }
        ).where(RiskHold.id == hold_id)
        await audit(
            actor,
            f"risk.{decision}",
            "application",
            row["application_id"],
            hold=hold_id,
            reason=reason_code if status == HoldStatus.REJECTED else "",
        )
        await outbox.record("applications.deliver", application_id=row["application_id"])


def _blacklist_value(kind: str, raw: str) -> tuple[str, str]:
    """(value_ref, display) for a typed phone, ID number or address; FieldError if bad."""
    value = raw.strip()
    if not value:
        raise FieldError(_("请填写要加入黑名单的号码或地址"))
    if len(value) > MAX_VALUE_LENGTH:
        raise FieldError(_("号码或地址最多{n}个字符", n=MAX_VALUE_LENGTH))
    if kind == KeyKind.PHONE:
        if error := validate_mobile(value):
            raise FieldError(error)
        mobile = normalise_mobile(value)
        return key_ref(KeyKind.PHONE, mobile), mask_mobile(mobile)
    if kind == KeyKind.ID_NUMBER:
        if error := validate_id_number(value):
            raise FieldError(error)
        id_number = normalise_id_number(value)
        return key_ref(KeyKind.ID_NUMBER, id_number), mask_id_number(id_number)
    try:
        network = ipaddress.ip_network(value if value.isascii() else "", strict=False)
    except ValueError:
        raise FieldError(
            _("请填写正确的 IP 地址或网段，如 203.0.113.7 或 203.0.113.0/24")
        ) from None
    minimum = MIN_IPV4_PREFIX if network.version == 4 else MIN_IPV6_PREFIX
    if network.prefixlen < minimum:
        raise FieldError(_("网段过大：前缀长度至少为 /{n}", n=minimum))
    return str(network), str(network)


async def add_to_blacklist(actor: Actor, kind: str, value: str, reason: str) -> int:
    """Bar a phone or ID number (kept as a blind index only) or an address (audited).
    The live-entry unique index makes two parallel adds of one value a single entry."""
    if not actor.can("risk.manage"):
        raise PermissionDenied()
    errors: dict[str, str] = {}
    ref = display = ""
    if kind not in BLACKLIST_KINDS:
        errors["kind"] = _("请选择类型")
    else:
        try:
            ref, display = _blacklist_value(kind, value)
        except FieldError as exc:
            errors["value"] = exc.message
    try:
        reason = _text(reason, _("原因"), MAX_REASON_LENGTH, required=True)
    except FieldError as exc:
        errors["reason"] = exc.message
    if errors:
        raise ValidationFailed(errors)
    async with transaction():
        rows = await BlacklistEntry.raw(
            "INSERT INTO risk_blacklist (kind, value_ref, display, reason, added_at,"
            " added_by_id, added_by, removed_by, removal_reason)"
            " VALUES ({}, {}, {}, {}, now(), {}, {}, '', '')"
            " ON CONFLICT (kind, value_ref) WHERE removed_at IS NULL DO NOTHING RETURNING id",
            kind,
            ref,
            display,
            reason,
            actor.user_id,
            actor.label,
        )
        if not rows:
            raise DomainError(_("该号码或地址已在黑名单中"), field="value")
        entry_id = int(rows[0]["id"])
        await audit(actor, "risk.blacklist_add", "risk_blacklist", entry_id, kind=kind)
    return entry_id


async def remove_from_blacklist(actor: Actor, entry_id: int, reason: str) -> None:
    if not actor.can("risk.manage"):
        raise PermissionDenied()
    try:
        reason = _text(reason, _("移除原因"), MAX_REASON_LENGTH, required=True)
    except FieldError as exc:
        raise ValidationFailed({"removal_reason": exc.message}) from None
    async with transaction():
        row = (
            await BlacklistEntry.select(BlacklistEntry.removed_at)
            .where(BlacklistEntry.id == entry_id)
            .lock_rows()
            .first()
        )
        if row is None:
            raise NotFound()
        if row["removed_at"] is not None:
            raise InvalidTransition(_("该条目已被移除"))
        await BlacklistEntry.update(
            {
                BlacklistEntry.removed_at: datetime.now(UTC),
                BlacklistEntry.removed_by: actor.label,
                BlacklistEntry.removal_reason: reason,
            }
        ).where(BlacklistEntry.id == entry_id)
        await audit(actor, "risk.blacklist_remove", "risk_blacklist", entry_id)
