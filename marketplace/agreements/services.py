"""Verbs on agreements: operators offer a version and may withdraw it before signing; the
institution's admin signs it with an SMS code (marketplace.signing, the same mechanism as a
borrower's loan contract); a signed version supersedes the one before it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marketplace.accounts.limits import Limit
from marketplace.actors import SYSTEM, Actor
from marketplace.agreements.queries import agreement_text_of
from marketplace.agreements.statuses import AGREEMENT_MACHINE, AgreementStatus
from marketplace.agreements.tables import Agreement, AgreementSignature
from marketplace.agreements.terms import AGREEMENT_TEXT_CONTEXT, PricingModel
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.inbox.services import notify_institution
from marketplace.institutions.services import activate_after_agreement
from marketplace.institutions.statuses import InstitutionStatus
from marketplace.institutions.tables import Institution
from marketplace.loancalc import SHANGHAI
from marketplace.money import FEN
from marketplace.parsing import (
    FormReader,
    first,
    parse_choice,
    parse_date,
    parse_decimal,
    parse_int,
)
from marketplace.security import encrypt_field
from marketplace.signing import SigningRequest, confirm_signature, send_signing_code

SIGN_CODE_PURPOSE = "agreement_sign"
SIGN_CODES_PER_HOUR = 10
# Bounds of what an operator may type: generous, but no overflow and no typo of 1e6.
MAX_UNIT_PRICE = Decimal("100000")  # yuan per lead or approval
MAX_CPS_PERCENT = Decimal("20")
MAX_UNIT_CAP = 10_000_000
MAX_FEE_CAP = Decimal("1000000000")
MAX_TERM_DAYS = 5 * 366


def today_shanghai(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(SHANGHAI).date()


@dataclass(frozen=True)
class AgreementInput:
    institution_id: int
    pricing_model: PricingModel
    rate: Decimal
    monthly_unit_cap: int | None
    monthly_fee_cap: Decimal | None
    valid_from: date
    valid_to: date


def parse_agreement_input(data: Mapping[str, Any]) -> AgreementInput:
    """Read the operator's form; every error at once. The CPS rate is typed in per cent."""
    form = FormReader(data)
    institution_id = form.field("institution", parse_int, 0, label=_("机构"), minimum=1)
    model = form.field(
        "pricing_model", parse_choice, "", choices=list(PricingModel), label=_("计费模式")
    )
    # CPS is typed in per cent with four decimals; CPL and CPA are yuan to the fen.
    cps = model == PricingModel.CPS
    rate = Decimal(0)
    if model:
        rate = form.field(
            "rate",
            parse_decimal,
            Decimal(0),
            label=_("费率") if cps else _("单价"),
            minimum=Decimal("0.0001") if cps else FEN,
            maximum=MAX_CPS_PERCENT if cps else MAX_UNIT_PRICE,
            scale=4 if cps else 2,
        )
        rate = rate / 100 if cps else rate
    unit_cap = None
    if first(data.get("monthly_unit_cap")).strip():
        unit_cap = form.field(
            "monthly_unit_cap",
            parse_int,
            0,
            label=_("每月计费数量上限"),
            minimum=1,
            maximum=MAX_UNIT_CAP,
        )
    fee_cap = None
    if first(data.get("monthly_fee_cap")).strip():
        fee_cap = form.field(
            "monthly_fee_cap",
            parse_decimal,
            Decimal(0),
            label=_("每月服务费上限"),
            minimum=Decimal("0.01"),
            maximum=MAX_FEE_CAP,
            scale=2,
        )
    valid_from = form.field("valid_from", parse_date, date.min, label=_("生效日期"))
    valid_to = form.field("valid_to", parse_date, date.min, label=_("到期日期"))
    if "valid_from" not in form.errors and "valid_to" not in form.errors:
        if valid_to < valid_from:
            form.fail("valid_to", _("到期日期不能早于生效日期"))
        elif valid_to < today_shanghai():
            form.fail("valid_to", _("到期日期不能早于今天"))
        elif (valid_to - valid_from).days > MAX_TERM_DAYS:
            form.fail("valid_to", _("协议有效期最长 5 年"))
    form.raise_errors()
    return AgreementInput(
        institution_id, PricingModel(model), rate, unit_cap, fee_cap, valid_from, valid_to
    )


async def offer_agreement(actor: Actor, cmd: AgreementInput) -> int:
    """Offer the institution a new version for signing. One offer is open at a time: an
    operator withdraws it to offer different terms."""
    if not actor.can("agreement.manage"):
        raise PermissionDenied()
    async with transaction():
        # The institution's row serialises version numbers.
        institution = (
            await Institution.select(Institution.id)
            .where(Institution.id == cmd.institution_id)
            .lock_rows()
            .first()
        )
        if institution is None:
            raise DomainError(_("请选择机构"), field="institution")
        versions = await Agreement.select(Agreement.version, Agreement.status).where(
            Agreement.institution == cmd.institution_id
        )
        if any(v["status"] == AgreementStatus.OFFERED for v in versions):
            raise DomainError(
                _("该机构已有待签署的协议版本，请先撤回后再发起新版本"), field="institution"
            )
        version = max((v["version"] for v in versions), default=0) + 1
        rows = await Agreement.insert(
            Agreement(
                institution=cmd.institution_id,
                version=version,
                pricing_model=cmd.pricing_model,
                rate=cmd.rate,
                monthly_unit_cap=cmd.monthly_unit_cap,
                monthly_fee_cap=cmd.monthly_fee_cap,
                valid_from=cmd.valid_from,
                valid_to=cmd.valid_to,
                status=AgreementStatus.OFFERED,
                offered_by=actor.user_id,
            )
        ).returning(Agreement.id)
        agreement_id: int = rows[0]["id"]
        await audit(
            actor,
            "agreement.offered",
            "agreement",
            agreement_id,
            institution_id=cmd.institution_id,
            version=version,
            pricing_model=str(cmd.pricing_model),
            rate=str(cmd.rate),
        )
        await notify_institution(
            cmd.institution_id,
            "agreement_offered",
            _("平台发来合作协议第 {version} 版，请阅读并签署", version=version),
            "/console/agreement",
            permission="agreement.sign",
        )
    return agreement_id


async def withdraw_agreement(actor: Actor, agreement_id: int) -> None:
    """Take back an offered version before it is signed."""
    async with transaction():
        row = (
            await Agreement.select(Agreement.id, Agreement.status, Agreement.institution)
            .where(Agreement.id == agreement_id)
            .lock_rows()
            .first()
        )
        if row is None:
            raise NotFound(_("找不到该协议"))
        target = AGREEMENT_MACHINE.target(row["status"], "withdraw", actor)
        await Agreement.update(
            {Agreement.status: target, Agreement.ended_at: datetime.now(UTC)}
        ).where(Agreement.id == agreement_id)
        await audit(actor, "agreement.withdrawn", "agreement", agreement_id)
        await notify_institution(
            row["institution"],
            "agreement_withdrawn",
            _("平台已撤回待签署的合作协议"),
            "/console/agreement",
            permission="agreement.sign",
        )


async def _lock_own_offered(actor: Actor, agreement_id: int) -> Mapping[str, Any]:
    """The actor's institution's agreement, locked, if it may be signed today."""
    if not actor.can("agreement.sign"):
        raise PermissionDenied()
    row = (
        await Agreement.select(
            Agreement.id, Agreement.status, Agreement.version, Agreement.valid_to
        )
        .where((Agreement.id == agreement_id) & (Agreement.institution == actor.institution_id))
        .lock_rows()
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该协议"))
    AGREEMENT_MACHINE.target(row["status"], "sign", actor)
    if row["valid_to"] < today_shanghai():
        raise DomainError(_("该协议版本已过有效期，请联系平台重新发起"), field="code")
    return row


async def request_agreement_code(actor: Actor, agreement_id: int) -> None:
    """Text the admin a code to sign this agreement with (resend after 60 s)."""
    async with transaction():
        await _lock_own_offered(actor, agreement_id)
    await send_signing_code(
        SIGN_CODE_PURPOSE,
        str(agreement_id),
        actor.user_id or 0,
        Limit(f"smscode:agreement_sign:user:{actor.user_id}", SIGN_CODES_PER_HOUR, 3600),
        "agreement_sign_code",
        lambda code: _(
            "【LoanMart】您正在签署平台合作协议，验证码为{code}，5分钟内有效。请勿告诉他人。",
            code=code,
        ),
    )
    async with transaction():
        await audit(actor, "agreement.code_sent", "agreement", agreement_id)


async def sign_agreement(actor: Actor, agreement_id: int, request: SigningRequest) -> None:
    """Sign with the SMS code: keeps the exact text (encrypted), its SHA-256, signer, time,
    address and browser. The version signed before it is superseded in the same step, and
    an institution admitted but not yet active becomes active."""
    async with transaction():
        row = await _lock_own_offered(actor, agreement_id)
        text = await agreement_text_of(agreement_id)
        sha256 = await confirm_signature(
            SIGN_CODE_PURPOSE,
            str(agreement_id),
            text,
            request,
            changed_message=_("协议内容已更新，请重新阅读后再签署"),
        )
        now = datetime.now(UTC)
        await AgreementSignature.insert(
            AgreementSignature(
                agreement=agreement_id,
                signer=actor.user_id,
                text_encrypted=encrypt_field(text, context=AGREEMENT_TEXT_CONTEXT),
                text_sha256=sha256,
                signed_at=now,
                client_address=request.client_address,
                user_agent=request.user_agent,
            )
        )
        superseded = (
            await Agreement.update(
                {Agreement.status: AgreementStatus.SUPERSEDED, Agreement.ended_at: now}
            )
            .where(
                (Agreement.institution == actor.institution_id)
                & (Agreement.status == AgreementStatus.SIGNED)
            )
            .returning(Agreement.id)
        )
        await Agreement.update(
            {Agreement.status: AgreementStatus.SIGNED, Agreement.signed_at: now}
        ).where(Agreement.id == agreement_id)
        for old in superseded:
            await audit(actor, "agreement.superseded", "agreement", old["id"], by=agreement_id)
        # A newly admitted institution starts receiving leads with its first signature.
        if await Institution.exists().where(
            (Institution.id == actor.institution_id)
            & (Institution.status == InstitutionStatus.APPROVED)
        ):
            await activate_after_agreement(actor.institution_id or 0)
        await audit(
            actor,
            "agreement.signed",
            "agreement",
            agreement_id,
            version=row["version"],
            text_sha256=sha256,
        )


async def expire_agreements(now: datetime | None = None) -> int:
    """Mark offered and signed versions past their last day expired: one set-based
    statement, safe to run any number of times (queries check the dates anyway)."""
    now = now or datetime.now(UTC)
    async with transaction():
        rows = (
            await Agreement.update(
                {Agreement.status: AgreementStatus.EXPIRED, Agreement.ended_at: now}
            )
            .where(
                Agreement.status.is_in([AgreementStatus.OFFERED, AgreementStatus.SIGNED])
                & (Agreement.valid_to < today_shanghai(now))
            )
            .returning(Agreement.id)
        )
        for row in rows:
            await audit(SYSTEM, "agreement.expired", "agreement", row["id"])
    return len(rows)
