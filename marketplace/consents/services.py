"""Per-institution consent (PRODUCT.md §6.2): the only writer of the consent table."""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.consents.notices import NOTICE_VERSION, SHARED_ITEMS, Notice
from marketplace.consents.tables import Consent
from marketplace.webhooks.services import publish


async def grant_consent(actor: Actor, institution_id: int, notice: Notice) -> int:
    """Record the borrower's separate consent to share SHARED_ITEMS with one institution,
    bound to the exact notice text shown (its digest). Call inside the caller's
    transaction; returns the consent id."""
    rows = await Consent.insert(
        Consent(
            borrower=actor.user_id,
            institution=institution_id,
            notice_version=NOTICE_VERSION,
            notice_hash=notice.digest,
            purpose=notice.purpose,
            data_items=list(SHARED_ITEMS),
            retention=notice.retention,
        )
    ).returning(Consent.id)
    consent_id = rows[0]["id"]
    await audit(
        actor,
        "consent.granted",
        "consent",
        consent_id,
        institution_id=institution_id,
        notice_version=NOTICE_VERSION,
    )
    return consent_id


async def withdraw_consent(actor: Actor, consent_id: int) -> bool:
    """The borrower withdraws one consent: the institution sees no more of their data.
    Call inside the caller's transaction; False when it was withdrawn already."""
    rows = (
        await Consent.update({Consent.withdrawn_at: datetime.now(UTC)})
        .where(
            (Consent.id == consent_id)
            & (Consent.borrower == actor.user_id)
            & Consent.withdrawn_at.is_null()
        )
        .returning(Consent.institution)
    )
    if not rows:
        return False
    await audit(
        actor, "consent.withdrawn", "consent", consent_id, institution_id=rows[0]["institution"]
    )
    await publish(rows[0]["institution"], "consent.withdrawn", consent_id=consent_id)
    return True
