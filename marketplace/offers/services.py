"""Verbs on offers: an institution approves a lead by sending an offer; the borrower signs
one with an SMS code, declines it, or withdraws the application before signing.

Each verb changes the offer and its application in one transaction, with both rows locked
(offer first, then application, always in that order), and tells the other side through
the notifier (in-site; SMS to the borrower without personal data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from marketplace.accounts.limits import Limit
from marketplace.actors import Actor
from marketplace.applications.acceptance import (
    accept_offer,
    approve_with_offer,
    end_by_borrower,
    lock_lead,
    lock_own_application,
)
from marketplace.applications.statuses import APPLICATION_MACHINE, OPEN_STATUSES
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.consents.services import lock_active_consents, withdraw_for_institution
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from marketplace.i18n import _
from marketplace.inbox.services import notify_borrower, notify_institution
from marketplace.loancalc import (
    MAX_PRINCIPAL,
    SHANGHAI,
    CostLines,
    CostVerdict,
    Fee,
    LoanInputError,
    Quote,
    classify_cost,
    quote,
)
from marketplace.money import format_cny, format_rate
from marketplace.offers.contract import CONTRACT_CONTEXT
from marketplace.offers.queries import ProductTerms, contract_for, product_terms
from marketplace.offers.statuses import OFFER_MACHINE, OfferStatus
from marketplace.offers.tables import Offer, OfferSignature
from marketplace.parameters.services import cost_lines, get_parameters
from marketplace.parsing import FormReader, parse_choice, parse_decimal, parse_int
from marketplace.products.validation import read_fees, read_rate
from marketplace.security import encrypt_field
from marketplace.signing import SigningRequest, confirm_signature, send_signing_code
from marketplace.webhooks.services import publish

SIGN_CODE_PURPOSE = "offer_sign"
# Signing codes one borrower may ask for in an hour, across all their offers.
SIGN_CODES_PER_HOUR = 10


@dataclass(frozen=True)
class OfferTerms:
    amount: Decimal
    term_months: int
    repayment_method: str
    rate: Decimal
    rate_period: str
    fees: tuple[Fee, ...]


@dataclass(frozen=True)
class OfferPreview:
    """What the officer sees before sending: the cost engine's figures and the verdict."""

    plan: Quote
    verdict: CostVerdict
    lines: CostLines


def parse_offer_terms(data: Mapping, product: ProductTerms) -> OfferTerms:
    """Read the offer form against the product's limits; every error at once."""
    form = FormReader(data)
    amount = form.field(
        "amount",
        parse_decimal,
        Decimal(0),
        label=_("批复金额"),
        minimum=Decimal(1),
        maximum=MAX_PRINCIPAL,
        scale=2,
    )
    if "amount" not in form.errors:
        if not product.amount_min <= amount <= product.amount_max:
            form.fail(
                "amount",
                _(
                    "批复金额须在产品额度 {low} 至 {high} 元之间",
                    low=f"{product.amount_min:,.0f}",
                    high=f"{product.amount_max:,.0f}",
                ),
            )
        elif amount > product.asked_amount:
            form.fail("amount", _("批复金额不能高于借款人申请的金额"))
    term = form.field("term_months", parse_int, 0, label=_("借款期限"), minimum=1, maximum=360)
    if "term_months" not in form.errors and term not in product.term_options:
        form.fail("term_months", _("请选择本产品提供的期限"))
    method = form.field(
        "repayment_method",
        parse_choice,
        "",
        choices=product.repayment_methods,
        label=_("还款方式"),
    )
    rate, rate_period = read_rate(form)
    fees = tuple(read_fees(form))
    form.raise_errors()
    return OfferTerms(amount, term, method, rate, rate_period, fees)


_ENGINE_FIELDS = {"principal": "amount", "term_months": "term_months", "fees": "fee_upfront_amount"}


async def price_offer(terms: OfferTerms) -> OfferPreview:
    """The loan cost engine's schedule and all-in APR for these terms, with the verdict
    against the cost lines. A term the engine refuses is a field error."""
    try:
        plan = quote(
            terms.amount,
            terms.term_months,
            terms.repayment_method,
            terms.rate,
            terms.rate_period,
            terms.fees,
        )
    except LoanInputError as exc:
        raise ValidationFailed({_ENGINE_FIELDS.get(exc.field, "rate"): exc.message}) from None
    lines = await cost_lines()
    return OfferPreview(plan, classify_cost(plan.apr, lines), lines)


async def preview_offer(actor: Actor, application_id: int, data: Mapping) -> OfferPreview:
    """The figures the officer checks before sending (nothing is written)."""
    if not actor.can("lead.work"):
        raise PermissionDenied()
    product = await product_terms(actor, application_id)
    return await price_offer(parse_offer_terms(data, product))


async def live_preview(
    actor: Actor, application_id: int, data: Mapping
) -> tuple[OfferPreview | None, dict[str, str]]:
    """The preview while the form is half filled: what is still wrong is its content (the
    htmx fragment is a 200, htmx swaps only successes)."""
    try:
        return await preview_offer(actor, application_id, data), {}
    except ValidationFailed as exc:
        return None, exc.errors


async def make_offer(actor: Actor, application_id: int, data: Mapping) -> int:
    """Approve a lead under review by sending the borrower an offer. Refused above the
    block line; the application becomes approved in the same transaction."""
    if not actor.can("lead.work"):
        raise PermissionDenied()
    product = await product_terms(actor, application_id)
    terms = parse_offer_terms(data, product)
    preview = await price_offer(terms)
    if preview.verdict is CostVerdict.BLOCK:
        raise ValidationFailed(
            {
                "rate": _(
                    "综合年化利率 {apr} 超过平台上限 {line}，不能发送。请降低利率或费用。",
                    apr=format_rate(preview.plan.apr),
                    line=format_rate(preview.lines.block_apr),
                )
            }
        )
    days = int((await get_parameters("offer_valid_days"))["offer_valid_days"])
    expires_at = datetime.now(UTC) + timedelta(days=days)
    plan = preview.plan
    async with transaction():
        row = await lock_lead(actor, application_id)
        APPLICATION_MACHINE.target(row["status"], "approve", actor)  # 409 before writing
        rows = await Offer.insert(
            Offer(
                application=row["id"],
                institution=row["institution"],
                borrower=row["borrower"],
                amount=plan.principal,
                term_months=plan.term_months,
                repayment_method=terms.repayment_method,
                rate=terms.rate,
                rate_period=terms.rate_period,
                fees=[fee.to_dict() for fee in terms.fees],
                apr=plan.apr.quantize(Decimal("0.000001")),
                first_payment=plan.first_payment,
                largest_payment=plan.max_payment,
                total_cost=plan.total_cost,
                expires_at=expires_at,
                made_by=actor.user_id,
            )
        ).returning(Offer.id)
        offer_id: int = rows[0]["id"]
        summary = _(
            "批复方案：{amount}，{n} 个月，综合年化利率 {apr}，{until} 前有效",
            amount=format_cny(plan.principal),
            n=plan.term_months,
            apr=format_rate(plan.apr),
            until=expires_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        )
        await approve_with_offer(actor, row, offer_id, summary)
        await audit(
            actor, "offer.made", "offer", offer_id, application_id=row["id"], apr=str(plan.apr)
        )
        await notify_borrower(
            row["borrower"],
            "offer_made",
            _(
                "您的借款申请已获批复（申请编号 {ref}），请在有效期内查看并确认",
                ref=row["reference"],
            ),
            f"/me/offers/{offer_id}",
            sms=_("【LoanMart】您的借款申请已获机构批复，请登录查看批复方案并在有效期内确认。"),
        )
    return offer_id


async def _lock_own_offer(actor: Actor, offer_id: int) -> dict[str, Any]:
    if not actor.can("offer.respond"):
        raise PermissionDenied()
    row = (
        await Offer.select(
            Offer.id, Offer.status, Offer.application, Offer.institution, Offer.expires_at
        )
        .where((Offer.id == offer_id) & (Offer.borrower == actor.user_id))
        .lock_rows()
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该批复"))
    return row


def _require_open(offer: Mapping[str, Any], action: str, actor: Actor) -> OfferStatus:
    """The offer's next state; an open offer past its expiry is expired already."""
    if offer["status"] == OfferStatus.OPEN and offer["expires_at"] <= datetime.now(UTC):
        raise DomainError(_("该批复已过期，无法再签约或婉拒"), field="offer")
    return OFFER_MACHINE.target(offer["status"], action, actor)


async def request_signing_code(actor: Actor, offer_id: int) -> None:
    """Text the borrower a code to sign this offer with (resend after 60 s)."""
    async with transaction():
        offer = await _lock_own_offer(actor, offer_id)
        _require_open(offer, "sign", actor)
    await send_signing_code(
        SIGN_CODE_PURPOSE,
        str(offer_id),
        actor.user_id or 0,
        Limit(f"smscode:offer_sign:user:{actor.user_id}", SIGN_CODES_PER_HOUR, 3600),
        "offer_sign_code",
        lambda code: _(
            "【LoanMart】您正在签署借款合同，验证码为{code}，5分钟内有效。请勿告诉他人。", code=code
        ),
    )
    async with transaction():
        await audit(actor, "offer.code_sent", "offer", offer_id)


async def sign_offer(actor: Actor, offer_id: int, request: SigningRequest) -> None:
    """Sign with the SMS code: keeps the exact contract text (encrypted), its SHA-256, time,
    address and browser; the offer is signed and the application accepted, together."""
    async with transaction():
        offer = await _lock_own_offer(actor, offer_id)
        target = _require_open(offer, "sign", actor)
        application = await lock_own_application(actor, offer["application"])
        contract = await contract_for(offer_id)
        text = contract.text
        sha256 = await confirm_signature(
            SIGN_CODE_PURPOSE,
            str(offer_id),
            text,
            request,
            changed_message=_("合同内容已更新，请重新阅读后再签署"),
        )
        now = datetime.now(UTC)
        await OfferSignature.insert(
            OfferSignature(
                offer=offer_id,
                contract_encrypted=encrypt_field(text, context=CONTRACT_CONTEXT),
                contract_sha256=sha256,
                signed_at=now,
                client_address=request.client_address,
                user_agent=request.user_agent,
            )
        )
        await Offer.update({Offer.status: target, Offer.updated_at: now}).where(
            Offer.id == offer_id
        )
        await accept_offer(actor, application, offer_id)
        await audit(actor, "offer.signed", "offer", offer_id, contract_sha256=sha256)
        await publish(offer["institution"], "offer.accepted", offer_id=offer_id)
        await notify_institution(
            offer["institution"],
            "offer_signed",
            _("借款人已签约（申请编号 {ref}），请安排放款", ref=application["reference"]),
            f"/console/leads/{application['id']}",
            assignee_id=application["assignee"],
        )


async def decline_offer(actor: Actor, offer_id: int) -> str:
    """The borrower says no: the offer is declined and the application withdrawn (with the
    consent for that institution). Returns the application's reference."""
    async with transaction():
        offer = await _lock_own_offer(actor, offer_id)
        target = _require_open(offer, "decline", actor)
        application = await lock_own_application(actor, offer["application"])
        await Offer.update({Offer.status: target, Offer.updated_at: datetime.now(UTC)}).where(
            Offer.id == offer_id
        )
        await end_by_borrower(actor, application, _("借款人婉拒了批复方案"))
        await audit(actor, "offer.declined", "offer", offer_id)
        await publish(offer["institution"], "offer.declined", offer_id=offer_id)
        await _tell_institution_ended(application, _("借款人婉拒了批复方案"))
    return str(application["reference"])


async def withdraw_application(actor: Actor, application_id: int) -> str:
    """The borrower withdraws an application before signing; its open offer is withdrawn
    with it and the consent for that institution ends. Returns the reference."""
    if not actor.can("application.withdraw"):
        raise PermissionDenied()
    async with transaction():
        application = await _end_application(actor, application_id, _("借款人撤回了申请"))
    return str(application["reference"])


async def _end_application(actor: Actor, application_id: int, why: str) -> dict[str, Any]:
    """Inside a transaction: the borrower's application ends before signing, with its open
    offers and its consent, and the institution is told. The one way both the withdraw
    button and a consent withdrawal end an application."""
    # Offers before the application: the same lock order as signing.
    await (
        Offer.select(Offer.id)
        .where((Offer.application == application_id) & (Offer.borrower == actor.user_id))
        .lock_rows()
    )
    application = await lock_own_application(actor, application_id)
    await end_by_borrower(actor, application, why)
    withdrawn = (
        await Offer.update(
            {Offer.status: OfferStatus.WITHDRAWN, Offer.updated_at: datetime.now(UTC)}
        )
        .where((Offer.application == application_id) & (Offer.status == OfferStatus.OPEN))
        .returning(Offer.id)
    )
    for row in withdrawn:
        await audit(actor, "offer.withdrawn", "offer", row["id"])
    await _tell_institution_ended(application, why)
    await publish(
        application["institution"], "application.withdrawn", application_id=application_id
    )
    return application


async def withdraw_consents_to(actor: Actor, institution_id: int) -> int | None:
    """The borrower withdraws consent from one institution (the consent ledger): every
    application to it that can still be withdrawn ends with its offers, every consent
    naming it ends, and the institution owes a deletion confirmation. An application not
    yet delivered is stopped by delivery, which checks consent. Returns the id of the
    deletion confirmation owed; an institution without a standing consent is NotFound."""
    if not actor.can("consent.withdraw"):
        raise PermissionDenied()
    async with transaction():
        # The lock order of every path that ends a consent: offers, applications, consents.
        await (
            Offer.select(Offer.id)
            .where((Offer.borrower == actor.user_id) & (Offer.institution == institution_id))
            .order_by(Offer.id)
            .lock_rows()
        )
        rows = (
            await Application.select(Application.id, Application.status)
            .where(
                (Application.borrower == actor.user_id)
                & (Application.institution == institution_id)
                & Application.status.is_in(list(OPEN_STATUSES))
            )
            .order_by(Application.id)
            .lock_rows()
        )
        if not await lock_active_consents(actor, institution_id):
            raise NotFound(_("没有可撤回的授权"))
        for row in rows:
            if "withdraw" in APPLICATION_MACHINE.actions(row["status"], actor):
                await _end_application(actor, row["id"], _("借款人撤回了授权"))
        return await withdraw_for_institution(actor, institution_id)


async def _tell_institution_ended(application: Mapping[str, Any], why: str) -> None:
    await notify_institution(
        application["institution"],
        "application_ended",
        _(
            "{why}（申请编号 {ref}），该借款人的信息已不再提供",
            why=why,
            ref=application["reference"],
        ),
        f"/console/leads/{application['id']}",
        assignee_id=application["assignee"],
    )


async def expire_offers() -> int:
    """Mark every open offer past its expiry expired: one set-based statement, safe to run
    any number of times (pages treat a past expiry as expired before this runs)."""
    async with transaction():
        rows = (
            await Offer.update(
                {Offer.status: OfferStatus.EXPIRED, Offer.updated_at: datetime.now(UTC)}
            )
            .where((Offer.status == OfferStatus.OPEN) & (Offer.expires_at <= datetime.now(UTC)))
            .returning(Offer.id)
        )
    return len(rows)
