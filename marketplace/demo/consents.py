"""Demo consent ledger: the demo borrower has withdrawn consent from 瀚海银行 (whose
application was rejected), so /me/consents shows one withdrawn entry next to the standing
ones, and 瀚海银行's console (/console/consents) has a deletion to confirm."""

from __future__ import annotations

from marketplace.accounts.services import mobile_login_key
from marketplace.consents.tables import Consent
from marketplace.demo.decisions import REJECTING, _actor, _borrower_mobile
from marketplace.offers.services import withdraw_consents_to


async def seed_consents() -> None:
    borrower = await _actor(mobile_login_key(_borrower_mobile()))
    institution = await _actor(REJECTING)
    if borrower is None or institution is None or institution.institution_id is None:
        return
    if await Consent.exists().where(
        (Consent.borrower == borrower.user_id)
        & (Consent.institution == institution.institution_id)
        & Consent.withdrawn_at.is_null()
    ):
        await withdraw_consents_to(borrower, institution.institution_id)
