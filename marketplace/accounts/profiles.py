"""The borrower's saved profile: the only writer of borrower_profile. Every personal
field is stored encrypted, with a masked copy for display and a blind index for lookups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marketplace.accounts.tables import BorrowerProfile
from marketplace.security import (
    birth_date_from_id,
    blind_index,
    encrypt_field,
    mask_id_number,
    mask_name,
)


@dataclass(frozen=True)
class ProfileFacts:
    real_name: str
    id_number: str  # normalised and validated by the caller
    city: str
    monthly_income: Decimal
    employment_type: str


async def save_borrower_profile(user_id: int, facts: ProfileFacts) -> None:
    """Create or replace the profile; call inside the caller's transaction."""
    values: dict[Any, Any] = {
        BorrowerProfile.real_name_encrypted: encrypt_field(
            facts.real_name, context="borrower_profile.real_name"
        ),
        BorrowerProfile.real_name_masked: mask_name(facts.real_name),
        BorrowerProfile.id_number_encrypted: encrypt_field(
            facts.id_number, context="borrower_profile.id_number"
        ),
        BorrowerProfile.id_number_masked: mask_id_number(facts.id_number),
        BorrowerProfile.id_number_index: blind_index(facts.id_number, purpose="id_number"),
        BorrowerProfile.birth_date: birth_date_from_id(facts.id_number),
        BorrowerProfile.city: facts.city,
        BorrowerProfile.monthly_income_encrypted: encrypt_field(
            str(facts.monthly_income), context="borrower_profile.monthly_income"
        ),
        BorrowerProfile.employment_type: facts.employment_type,
        BorrowerProfile.updated_at: datetime.now(UTC),
    }
    updated = (
        await BorrowerProfile.update(values)
        .where(BorrowerProfile.user == user_id)
        .returning(BorrowerProfile.id)
    )
    if not updated:
        await BorrowerProfile.insert(
            BorrowerProfile(user=user_id, **{column._meta.name: v for column, v in values.items()})
        )
