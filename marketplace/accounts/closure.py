"""Closing a borrower's account (the accounts side of a deletion request): the profile and
the phone number are deleted and sign-in is disabled; the user row itself stays, as an
anonymous party to the loans and audit entries the law requires us to keep."""

from __future__ import annotations

from marketplace.accounts.tables import BorrowerProfile, User
from marketplace.i18n import N_

DELETED_NAME = N_("已注销用户")
DELETED_STATUS = "deleted"


async def close_borrower_account(user_id: int) -> None:
    """Anonymise the borrower; call inside the caller's (audited) transaction."""
    await BorrowerProfile.delete().where(BorrowerProfile.user == user_id)
    await User.update(
        {
            # Unique per account and matching no phone's blind index: nobody can sign in.
            User.login_key: f"deleted:{user_id}",
            User.display_name: DELETED_NAME,
            User.mobile_encrypted: None,
            User.mobile_masked: "",
            User.password_hash: "!",
            User.status: DELETED_STATUS,
        }
    ).where((User.id == user_id) & (User.kind == "borrower"))
