"""Read models of a borrower's own account (masked values only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marketplace.accounts.tables import BorrowerProfile, User
from marketplace.errors import NotFound


@dataclass(frozen=True)
class ProfileSummary:
    real_name_masked: str
    id_number_masked: str
    city: str


@dataclass(frozen=True)
class AccountSummary:
    display_name: str
    mobile_masked: str
    created_at: datetime
    last_login_at: datetime | None
    profile: ProfileSummary | None


async def account_summary(user_id: int) -> AccountSummary:
    user = (
        await User.select(
            User.display_name, User.mobile_masked, User.created_at, User.last_login_at
        )
        .where(User.id == user_id)
        .first()
    )
    if user is None:
        raise NotFound()
    profile = (
        await BorrowerProfile.select(
            BorrowerProfile.real_name_masked,
            BorrowerProfile.id_number_masked,
            BorrowerProfile.city,
        )
        .where(BorrowerProfile.user == user_id)
        .first()
    )
    return AccountSummary(**user, profile=ProfileSummary(**profile) if profile else None)
