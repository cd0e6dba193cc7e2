"""Offer read models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marketplace.actors import Actor
from marketplace.applications.services import SHARED_DATA_CONTEXT
from marketplace.applications.statuses import APPLICATION_MACHINE, received_leads
from marketplace.applications.tables import Application
from marketplace.errors import DomainError, NotFound
from marketplace.i18n import _
from marketplace.loancalc import Fee, Quote, RepaymentMethod
from marketplace.offers.contract import (
    CONTRACT_CONTEXT,
    ContractParties,
    ContractTerms,
    contract_text,
    digest,
    plan_of,
)
from marketplace.offers.statuses import OFFER_MACHINE, OfferStatus
from marketplace.offers.tables import Offer, OfferSignature
from marketplace.parameters.services import get_parameters
from marketplace.products.validation import FEE_FIELDS, PERCENT
from marketplace.security import decrypt_field, mask_id_number, mask_name
from marketplace.statemachine import Actions


@dataclass(frozen=True)
class SignedTerms:
    """What the borrower signed for one application: the loan follows these terms."""

    offer_id: int
    amount: Decimal
    term_months: int
    repayment_method: str
    rate: Decimal
    rate_period: str
    day_count: int
    fees: tuple[Fee, ...]


async def signed_terms(application_id: int) -> SignedTerms | None:
    row = (
        await Offer.select(
            Offer.id,
            Offer.amount,
            Offer.term_months,
            Offer.repayment_method,
            Offer.rate,
            Offer.rate_period,
            Offer.day_count,
            Offer.fees,
        )
        .where((Offer.application == application_id) & (Offer.status == OfferStatus.SIGNED))
        .output(load_json=True)
        .first()
    )
    if row is None:
        return None
    return SignedTerms(
        offer_id=row["id"],
        amount=row["amount"],
        term_months=row["term_months"],
        repayment_method=row["repayment_method"],
        rate=row["rate"],
        rate_period=row["rate_period"],
        day_count=row["day_count"],
        fees=tuple(Fee.from_dict(fee) for fee in row["fees"]),
    )


@dataclass(frozen=True)
class ProductTerms:
    """The limits an offer must fit: the product's, and the amount the borrower asked."""

    application_id: int
    reference: str
    product_name: str
    asked_amount: Decimal
    asked_term: int
    amount_min: Decimal
    amount_max: Decimal
    term_options: tuple[int, ...]
    repayment_methods: tuple[str, ...]
    asked_method: str  # the borrower's choice among them: the offer form's default
    rate: Decimal
    rate_period: str
    fees: tuple[Fee, ...]


async def product_terms(actor: Actor, application_id: int) -> ProductTerms:
    """For one of the actor's institution's leads (another's is NotFound)."""
    row = (
        await Application.select(
            Application.id,
            Application.reference,
            Application.amount,
            Application.term_months,
            Application.product.name.as_alias("product_name"),
            Application.product.amount_min.as_alias("amount_min"),
            Application.product.amount_max.as_alias("amount_max"),
            Application.product.term_options.as_alias("term_options"),
            Application.repayment_method,
            Application.product.repayment_methods.as_alias("repayment_methods"),
            Application.product.rate.as_alias("rate"),
            Application.product.rate_period.as_alias("rate_period"),
            Application.product.fees.as_alias("fees"),
        )
        .where((Application.id == application_id) & received_leads(actor))
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    fees = row["fees"]
    if isinstance(fees, str):
        fees = json.loads(fees)
    return ProductTerms(
        application_id=row["id"],
        reference=row["reference"],
        product_name=row["product_name"],
        asked_amount=row["amount"],
        asked_term=row["term_months"],
        amount_min=row["amount_min"],
        amount_max=row["amount_max"],
        term_options=tuple(row["term_options"]),
        repayment_methods=tuple(row["repayment_methods"]),
        asked_method=row["repayment_method"],
        rate=row["rate"],
        rate_period=row["rate_period"],
        fees=tuple(Fee.from_dict(fee) for fee in fees),
    )


def offer_form_defaults(product: ProductTerms) -> dict[str, str]:
    """The offer form before anything is typed: what was asked, at the product's price."""
    values = {
        "amount": f"{product.asked_amount:f}",
        "term_months": str(
            product.asked_term
            if product.asked_term in product.term_options
            else product.term_options[0]
        ),
        "repayment_method": (
            product.asked_method
            if product.asked_method in product.repayment_methods
            else product.repayment_methods[0]
        ),
        "rate": f"{(product.rate * PERCENT).normalize():f}",
        "rate_period": product.rate_period,
    }
    for fee in product.fees:
        for key, (kind, timing) in FEE_FIELDS.items():
            if fee.kind == kind and fee.timing == timing:
                if fee.amount is not None:
                    values[key] = f"{fee.amount:f}"
                elif fee.rate is not None:
                    values[key] = f"{(fee.rate * PERCENT).normalize():f}"
    return values


_OFFER_COLUMNS = (
    Offer.id,
    Offer.application,
    Offer.amount,
    Offer.term_months,
    Offer.repayment_method,
    Offer.rate,
    Offer.rate_period,
    Offer.day_count,
    Offer.fees,
    Offer.apr,
    Offer.first_payment,
    Offer.largest_payment,
    Offer.total_cost,
    Offer.expires_at,
    Offer.status,
    Offer.created_at,
    Offer.updated_at,
    Offer.application.reference.as_alias("reference"),
    Offer.application._.product._.name.as_alias("product_name"),
    Offer.institution.name.as_alias("institution_name"),
)


@dataclass(frozen=True)
class OfferCard:
    """One offer as the borrower compares it (and as its lead page shows it)."""

    id: int
    application_id: int
    reference: str
    institution_name: str
    product_name: str
    amount: Decimal
    term_months: int
    repayment_method_label: str
    apr: Decimal
    first_payment: Decimal
    largest_payment: Decimal
    total_cost: Decimal
    expires_at: datetime
    status: OfferStatus
    status_label: str
    created_at: datetime
    updated_at: datetime
    signed_at: datetime | None
    actions: Actions

    @property
    def is_open(self) -> bool:
        return self.status is OfferStatus.OPEN

    @property
    def hours_left(self) -> int:
        return max(0, int((self.expires_at - datetime.now(UTC)).total_seconds() // 3600))


def effective_status(status: str, expires_at: datetime) -> OfferStatus:
    """An open offer past its expiry is expired, whether or not the cron has run."""
    state = OFFER_MACHINE.state(status)
    if state is OfferStatus.OPEN and expires_at <= datetime.now(UTC):
        return OfferStatus.EXPIRED
    return state


def _card(row: dict[str, Any], actor: Actor, signed_at: datetime | None) -> OfferCard:
    status = effective_status(row["status"], row["expires_at"])
    return OfferCard(
        id=row["id"],
        application_id=row["application"],
        reference=row["reference"],
        institution_name=row["institution_name"],
        product_name=row["product_name"],
        amount=row["amount"],
        term_months=row["term_months"],
        repayment_method_label=RepaymentMethod(row["repayment_method"]).label,
        apr=row["apr"],
        first_payment=row["first_payment"],
        largest_payment=row["largest_payment"],
        total_cost=row["total_cost"],
        expires_at=row["expires_at"],
        status=status,
        status_label=OFFER_MACHINE.label(status),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        signed_at=signed_at,
        actions=OFFER_MACHINE.actions(status, actor),
    )


async def _signed_times(offer_ids: list[int]) -> dict[int, datetime]:
    if not offer_ids:
        return {}
    rows = await OfferSignature.select(OfferSignature.offer, OfferSignature.signed_at).where(
        OfferSignature.offer.is_in(offer_ids)
    )
    return {r["offer"]: r["signed_at"] for r in rows}


async def _cards(actor: Actor, where: Any) -> list[OfferCard]:
    rows = await Offer.select(*_OFFER_COLUMNS).where(where).output(load_json=True)
    signed = await _signed_times([r["id"] for r in rows])
    return [_card(r, actor, signed.get(r["id"])) for r in rows]


@dataclass(frozen=True)
class BorrowerOffers:
    open: list[OfferCard]  # cheapest APR first
    closed: list[OfferCard]  # signed, declined, expired, withdrawn: newest first


async def borrower_offers(actor: Actor) -> BorrowerOffers:
    cards = await _cards(actor, Offer.borrower == actor.user_id)
    open_cards = sorted((c for c in cards if c.is_open), key=lambda c: (c.apr, c.id))
    closed = sorted((c for c in cards if not c.is_open), key=lambda c: c.updated_at, reverse=True)
    return BorrowerOffers(open_cards, closed)


async def application_offers(actor: Actor, application_id: int) -> list[OfferCard]:
    """The offers of one application, for its borrower or its institution's staff (oldest
    first, as a timeline reads); anyone else sees none."""
    side = (
        Offer.borrower == actor.user_id
        if actor.kind == "borrower"
        else Offer.institution == actor.institution_id
    )
    cards = await _cards(actor, (Offer.application == application_id) & side)
    return sorted(cards, key=lambda c: c.id)


@dataclass(frozen=True)
class Contract:
    text: str
    sha256: str
    signed_at: datetime | None = None
    client_address: str = ""
    user_agent: str = ""


def _masked_borrower(token: str) -> tuple[str, str]:
    if not token:
        return "—", "—"
    shared = json.loads(decrypt_field(token, context=SHARED_DATA_CONTEXT))
    return mask_name(shared["real_name"]), mask_id_number(shared["id_number"])


async def contract_for(offer_id: int) -> Contract:
    """The contract an offer would be signed under, built from its terms now."""
    row = (
        await Offer.select(
            *_OFFER_COLUMNS,
            Offer.institution.licence_no.as_alias("licence_no"),
            Offer.application.shared_data_encrypted.as_alias("shared"),
        )
        .where(Offer.id == offer_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该批复"))
    name, id_number = _masked_borrower(row["shared"])
    days = (await get_parameters("offer_cooling_off_days"))["offer_cooling_off_days"]
    text = contract_text(
        ContractParties(row["institution_name"], row["licence_no"], name, id_number),
        _terms(row, int(days)),
    )
    return Contract(text=text, sha256=digest(text))


@dataclass(frozen=True)
class OfferPage:
    card: OfferCard
    plan: Quote
    contract: Contract  # the one to sign (open) or the one signed


async def borrower_offer(actor: Actor, offer_id: int) -> OfferPage:
    cards = await _cards(actor, (Offer.id == offer_id) & (Offer.borrower == actor.user_id))
    if not cards:
        raise NotFound(_("找不到该批复"))
    card = cards[0]
    signed = await _signed_contract(offer_id) if card.status is OfferStatus.SIGNED else None
    contract = signed or await contract_for(offer_id)
    return OfferPage(card=card, plan=await _plan(offer_id), contract=contract)


async def _plan(offer_id: int) -> Quote:
    row = (
        await Offer.select(*_OFFER_COLUMNS)
        .where(Offer.id == offer_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该批复"))
    return plan_of(_terms(row, 0))


def _terms(row: dict[str, Any], cooling_off_days: int) -> ContractTerms:
    return ContractTerms(
        offer_id=row["id"],
        application_reference=row["reference"],
        product_name=row["product_name"],
        amount=row["amount"],
        term_months=row["term_months"],
        repayment_method=row["repayment_method"],
        rate=row["rate"],
        rate_period=row["rate_period"],
        day_count=row["day_count"],
        fees=tuple(Fee.from_dict(fee) for fee in row["fees"]),
        cooling_off_days=cooling_off_days,
    )


async def _signed_contract(offer_id: int) -> Contract:
    """The stored text, verified against its stored SHA-256 before anyone is shown it."""
    row = await OfferSignature.select().where(OfferSignature.offer == offer_id).first()
    if row is None:
        raise NotFound(_("找不到签约记录"))
    text = decrypt_field(row["contract_encrypted"], context=CONTRACT_CONTEXT)
    if digest(text) != row["contract_sha256"]:
        raise ContractTampered(offer_id)
    return Contract(
        text=text,
        sha256=row["contract_sha256"],
        signed_at=row["signed_at"],
        client_address=row["client_address"],
        user_agent=row["user_agent"],
    )


class ContractTampered(DomainError):
    """The stored contract no longer matches its digest: never show it as signed (a 409
    page; the audit trail and the platform take it from there)."""

    def __init__(self, offer_id: int) -> None:
        super().__init__(
            _("合同记录校验失败，请联系平台客服（合同编号 LMT-OFFER-{id}）", id=offer_id)
        )


@dataclass(frozen=True)
class SignedContract:
    offer_id: int
    reference: str
    institution_name: str
    contract: Contract


async def _signed(actor: Actor, where: Any) -> SignedContract:
    cards = await _cards(actor, where & (Offer.status == OfferStatus.SIGNED))
    if not cards:
        raise NotFound(_("找不到该合同"))
    card = cards[0]
    return SignedContract(
        card.id, card.reference, card.institution_name, await _signed_contract(card.id)
    )


async def signed_contract_for_borrower(actor: Actor, offer_id: int) -> SignedContract:
    return await _signed(actor, (Offer.id == offer_id) & (Offer.borrower == actor.user_id))


async def signed_contract_for_lead(actor: Actor, application_id: int) -> SignedContract:
    return await _signed(
        actor,
        (Offer.application == application_id) & (Offer.institution == actor.institution_id),
    )


@dataclass(frozen=True)
class OfferPanel:
    """What an application's page shows about offers: the offers, and whether the borrower
    may still withdraw it (before signing)."""

    offers: list[OfferCard]
    can_withdraw: bool

    @property
    def signed(self) -> OfferCard | None:
        return next((o for o in self.offers if o.status is OfferStatus.SIGNED), None)


async def offer_panel(actor: Actor, application_id: int, status: str) -> OfferPanel:
    return OfferPanel(
        offers=await application_offers(actor, application_id),
        can_withdraw="withdraw" in APPLICATION_MACHINE.actions(status, actor),
    )
