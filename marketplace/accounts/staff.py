"""Institution staff accounts made by the platform: the first admin of a newly admitted
institution, whose password is then set by its holder through a one-time link."""

from __future__ import annotations

import secrets

from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, PermissionDenied
from marketplace.i18n import _
from marketplace.security import (
    encrypt_field,
    hash_password_async,
    mask_mobile,
    normalise_mobile,
)


async def create_institution_admin(
    actor: Actor, institution_id: int, *, name: str, email: str, mobile: str
) -> int:
    """An `institution_admin` with no usable password yet (a random one nobody knows).
    Joins the caller's transaction."""
    if not actor.can("institution.review"):
        raise PermissionDenied()
    login = email.strip().lower()
    unusable = await hash_password_async(secrets.token_urlsafe(32))
    async with transaction():
        if await User.exists().where((User.kind == "staff") & (User.login_key == login)):
            raise DomainError(_("该联系邮箱已是机构用户账号，请联系申请人更换邮箱"))
        normalised = normalise_mobile(mobile)
        key = mobile_login_key(normalised)
        # The applicant's contact number, indexed for signing codes unless another staff
        # account holds it (then the admin binds their own in the console).
        held = await User.exists().where(User.mobile_key == key)
        rows = await User.insert(
            User(
                kind="staff",
                login_key=login,
                display_name=name,
                mobile_encrypted=encrypt_field(normalised, context="user.mobile"),
                mobile_masked=mask_mobile(normalised),
                mobile_key=None if held else key,
                password_hash=unusable,
                role="institution_admin",
                institution=institution_id,
            )
        ).returning(User.id)
        user_id = int(rows[0]["id"])
        await audit(actor, "staff.create", "user", user_id, institution_id=institution_id)
    return user_id
