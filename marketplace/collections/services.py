"""Recording a collection contact on an overdue loan, under the platform's rules: only
within the permitted hours (Asia/Shanghai) and at most the daily cap per loan. A refused
contact is itself recorded (committed) before the refusal is raised, so operators see every
attempt; the cap is counted by one conditional upsert, so parallel requests cannot pass it.

Contact time: today (Asia/Shanghai) at the time given, now by default. Staff often log a
call after making it, so an earlier time of the same day is accepted; a future time, or a
day before today, is not (the cap and the hours are judged on the contact's own time)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from marketplace import clock
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.collections.kinds import CHANNEL_LABELS, RESULT_LABELS, RefusalReason
from marketplace.collections.rules import ContactRules, contact_rules
from marketplace.collections.tables import (
    NOTE_MAX_LENGTH,
    CollectionContact,
    CollectionDay,
    CollectionRefusal,
)
from marketplace.db import transaction
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.loancalc import SHANGHAI
from marketplace.loans.statuses import LoanStatus
from marketplace.loans.tables import Loan
from marketplace.parsing import FieldError, FormReader, first, parse_choice, parse_text
from marketplace.security import encrypt_field

RECORD = "collection.record"
NOTE_CONTEXT = "collection.note"

# Raises the loan's count for the day unless it has reached the cap; a row comes back only
# when the contact fits. ON CONFLICT DO UPDATE re-reads the row it waited for, so N
# parallel requests see each other's increments.
_COUNT_AGAINST_CAP = """
INSERT INTO collection_day (loan, business_date, contacts) VALUES ({}, {}, 1)
ON CONFLICT (loan, business_date) DO UPDATE
SET contacts = collection_day.contacts + 1
WHERE collection_day.contacts < {}
RETURNING contacts
"""


class ContactRefused(DomainError):
    """The platform's collection rules refused the contact (409); the attempt is kept."""


@dataclass(frozen=True)
class ContactInput:
    contacted_at: datetime
    channel: str
    result: str
    note: str


def _parse_clock(raw: Any, *, label: str) -> time:
    """A time of day as a time input sends it (HH:MM), ASCII digits only."""
    text = first(raw).strip()
    if not text:
        raise FieldError(_("请填写{label}", label=label))
    digits = text[:2] + text[3:]
    if len(text) != 5 or text[2] != ":" or not (digits.isascii() and digits.isdigit()):
        raise FieldError(_("请填写正确的{label}，如 14:30", label=label))
    try:
        return time(int(text[:2]), int(text[3:]))
    except ValueError:
        raise FieldError(_("请填写正确的{label}，如 14:30", label=label)) from None


def parse_contact(data: Mapping[str, Any], now: datetime) -> ContactInput:
    """The contact form, every error at once; the time is today's (Asia/Shanghai)."""
    form = FormReader(data)
    at = form.field("contact_time", _parse_clock, None, label=_("联系时间"))
    channel = form.field(
        "channel", parse_choice, "", choices=[str(c) for c in CHANNEL_LABELS], label=_("联系方式")
    )
    result = form.field(
        "result", parse_choice, "", choices=[str(r) for r in RESULT_LABELS], label=_("联系结果")
    )
    note = form.field(
        "note", parse_text, "", label=_("备注"), max_length=NOTE_MAX_LENGTH, multiline=True
    )
    local_now = now.astimezone(SHANGHAI)
    contacted_at = local_now
    if at is not None:
        contacted_at = datetime.combine(local_now.date(), at, tzinfo=SHANGHAI)
        if contacted_at > local_now:
            form.fail("contact_time", _("联系时间不能晚于现在"))
    form.raise_errors()
    return ContactInput(contacted_at, channel, result, note)


async def _counts_against_cap(loan_id: int, day: date, cap: int) -> bool:
    if cap < 1:
        return False
    rows = await CollectionDay.raw(_COUNT_AGAINST_CAP, loan_id, day, cap)
    return bool(rows)


def _refusal_message(reason: RefusalReason, rules: ContactRules) -> str:
    if reason is RefusalReason.OUTSIDE_HOURS:
        return _(
            "只能在北京时间 {hours} 之间联系借款人，本次联系未被记录",
            hours=rules.hours_label,
        )
    return _(
        "该笔贷款今日已联系 {cap} 次，达到每日上限，本次联系未被记录",
        cap=rules.daily_cap,
    )


async def record_contact(actor: Actor, loan_id: int, data: Mapping[str, Any]) -> int:
    """Record a contact on one of the actor's institution's overdue loans; returns its id.
    Refused (and the refusal recorded) outside the hours or over the daily cap."""
    if not actor.can(RECORD):
        raise PermissionDenied()
    now = clock.now()
    contact = parse_contact(data, now)
    rules = await contact_rules()
    day = contact.contacted_at.date()
    refusal: RefusalReason | None = None
    async with transaction():
        loan = (
            await Loan.select(Loan.id, Loan.status, Loan.dpd)
            .where((Loan.id == loan_id) & (Loan.institution == actor.institution_id))
            .first()
        )
        if loan is None:
            raise NotFound(_("找不到该贷款"))
        if loan["status"] != LoanStatus.OVERDUE:
            raise InvalidTransition(_("该贷款当前未逾期，不能登记催收联系"))
        if not rules.permits(contact.contacted_at.timetz().replace(tzinfo=None)):
            refusal = RefusalReason.OUTSIDE_HOURS
        elif not await _counts_against_cap(loan_id, day, rules.daily_cap):
            refusal = RefusalReason.OVER_CAP
        if refusal is not None:
            await _record_refusal(actor, loan_id, refusal, contact.contacted_at, day)
            contact_id = 0
        else:
            contact_id = await _record(actor, loan_id, loan["dpd"], contact, day)
    if refusal is not None:
        raise ContactRefused(_refusal_message(refusal, rules))
    return contact_id


async def _record(actor: Actor, loan_id: int, dpd: int, contact: ContactInput, day: date) -> int:
    rows = await CollectionContact.insert(
        CollectionContact(
            loan=loan_id,
            institution=actor.institution_id,
            staff=actor.user_id,
            contacted_at=contact.contacted_at,
            business_date=day,
            channel=contact.channel,
            result=contact.result,
            note_encrypted=encrypt_field(contact.note, context=NOTE_CONTEXT)
            if contact.note
            else "",
            dpd=dpd,
        )
    ).returning(CollectionContact.id)
    contact_id: int = rows[0]["id"]
    # The note stays out of the audit row: it may hold what the borrower said.
    await audit(
        actor,
        "collection.record",
        "loan",
        loan_id,
        contact_id=contact_id,
        channel=contact.channel,
        result=contact.result,
        contacted_at=contact.contacted_at.isoformat(),
    )
    return contact_id


async def _record_refusal(
    actor: Actor, loan_id: int, reason: RefusalReason, contact_time: datetime, day: date
) -> None:
    await CollectionRefusal.insert(
        CollectionRefusal(
            loan=loan_id,
            institution=actor.institution_id,
            staff=actor.user_id,
            reason=reason,
            contact_time=contact_time,
            business_date=day,
        )
    )
    await audit(
        actor,
        "collection.refuse",
        "loan",
        loan_id,
        reason=reason,
        contact_time=contact_time.isoformat(),
    )
