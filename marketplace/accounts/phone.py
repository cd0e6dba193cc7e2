"""Changing a borrower's sign-in phone: one code to the old number and one to the new,
both required, so neither a stolen session nor a stolen SIM alone can move the account."""

from __future__ import annotations

from asyncpg.exceptions import UniqueViolationError

from marketplace.accounts.codes import consume_code, issue_code, start_cooldown
from marketplace.accounts.services import mobile_login_key, reserve_code_for_address
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, ValidationFailed
from marketplace.i18n import _
from marketplace.notifications.services import send_sms
from marketplace.security import (
    decrypt_field,
    encrypt_field,
    mask_mobile,
    normalise_mobile,
    validate_mobile,
)

OLD_PURPOSE = "phone_old"
NEW_PURPOSE = "phone_new"
CODE_MAX_LENGTH = 6
MOBILE_CONTEXT = "user.mobile"


async def _current_mobile(user_id: int) -> tuple[str, str]:
    """The signed-in borrower's number and its blind index."""
    row = await User.select(User.mobile_encrypted, User.login_key).where(User.id == user_id).first()
    if row is None or not row["mobile_encrypted"]:
        raise NotFound()
    return decrypt_field(row["mobile_encrypted"], context=MOBILE_CONTEXT), row["login_key"]


def _checked_new_mobile(new_mobile: str, current_key: str) -> str:
    if error := validate_mobile(new_mobile):
        raise DomainError(error, field="mobile")
    key = mobile_login_key(new_mobile)
    if key == current_key:
        raise DomainError(_("新手机号与当前手机号相同"), field="mobile")
    return key


async def request_phone_change_codes(actor: Actor, new_mobile: str) -> None:
    """Text a code to the current number and one to the new number. Like registration, a
    number that already has an account gets no code, and the page reads the same."""
    user_id = actor.user_id or 0
    current, current_key = await _current_mobile(user_id)
    new_key = _checked_new_mobile(new_mobile, current_key)
    await reserve_code_for_address(actor)
    await start_cooldown(OLD_PURPOSE, str(user_id), field="mobile")
    old_code = await issue_code(OLD_PURPOSE, str(user_id))
    await send_sms(
        current,
        "phone_change_old_code",
        _(
            "【LoanMart】您正在更换登录手机号，验证码为{code}，5分钟内有效。如非本人操作请立即修改密码。",
            code=old_code,
        ),
    )
    if await User.exists().where((User.kind == "borrower") & (User.login_key == new_key)):
        return
    new_code = await issue_code(NEW_PURPOSE, f"{user_id}:{new_key}")
    await send_sms(
        new_mobile,
        "phone_change_new_code",
        _("【LoanMart】您正在将此号码设为登录手机号，验证码为{code}，5分钟内有效。", code=new_code),
    )


async def change_phone(actor: Actor, new_mobile: str, old_code: str, new_code: str) -> None:
    """Move the account to `new_mobile` when both codes are right; the old number is told."""
    user_id = actor.user_id or 0
    current, current_key = await _current_mobile(user_id)
    new_key = _checked_new_mobile(new_mobile, current_key)
    old_code, new_code = old_code.strip(), new_code.strip()
    errors = {}
    if not old_code:
        errors["old_code"] = _("请输入原手机号收到的验证码")
    if not new_code:
        errors["new_code"] = _("请输入新手机号收到的验证码")
    if errors:
        raise ValidationFailed(errors)
    wrong = _("验证码不正确或已过期")
    # Both are checked (each counts a try) before either answer is given.
    old_ok = len(old_code) <= CODE_MAX_LENGTH and await consume_code(
        OLD_PURPOSE, str(user_id), old_code
    )
    new_ok = len(new_code) <= CODE_MAX_LENGTH and await consume_code(
        NEW_PURPOSE, f"{user_id}:{new_key}", new_code
    )
    if not (old_ok and new_ok):
        raise ValidationFailed(
            {
                **({} if old_ok else {"old_code": wrong}),
                **({} if new_ok else {"new_code": wrong}),
            }
        )
    normalised = normalise_mobile(new_mobile)
    try:
        async with transaction():
            await User.update(
                {
                    User.login_key: new_key,
                    User.mobile_encrypted: encrypt_field(normalised, context=MOBILE_CONTEXT),
                    User.mobile_masked: mask_mobile(normalised),
                }
            ).where((User.id == user_id) & (User.login_key == current_key))
            await audit(actor, "account.phone_changed", "user", user_id)
    except UniqueViolationError:
        # Registered by someone else between the code and now.
        raise ValidationFailed({"mobile": _("无法更换为该手机号，请换一个号码")}) from None
    await send_sms(
        current,
        "phone_changed",
        _(
            "【LoanMart】您的登录手机号已更换为{masked}，此号码不再用于登录。如非本人操作请立即联系客服。",
            masked=mask_mobile(normalised),
        ),
    )
