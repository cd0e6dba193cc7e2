"""Offer read models."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from marketplace.loancalc import Fee
from marketplace.offers.statuses import OfferStatus
from marketplace.offers.tables import Offer


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
