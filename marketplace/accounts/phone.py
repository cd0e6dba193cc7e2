"""An account's mobile number: a borrower changes the one they sign in with; institution
staff bind the one that receives their signing codes (an agreement signed in the console).

One flow for both. With a number already on the account, a code goes to the old number and
one to the new, both required, so neither a stolen session nor a stolen SIM alone can move
it; an account with no number yet (staff binding for the first time) needs only the new
number's code. The number is stored encrypted with a blind index (a borrower's login key;
`mobile_key` for everyone else, unique) and shown masked. A number another account holds
gets no code and the page reads the same, so the form tells nobody who holds which number.
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncpg.exceptions import UniqueViolationError

from marketplace.accounts.codes import consume_code, issue_code, start_cooldown
from marketplace.accounts.services import mobile_login_key, reserve_code_for_address
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, ValidationFailed
from marketplace.i18n import N_, _
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


@dataclass(frozen=True)
class _Holder:
    user_id: int
    borrower: bool  # signs in with the number
    encrypted: str | None  # the number on the account now, as stored
    mobile: str | None
    key: str | None  # its blind index


async def _holder(actor: Actor) -> _Holder:
    user_id = actor.user_id or 0
    row = (
        await User.select(User.kind, User.mobile_encrypted, User.login_key, User.mobile_key)
        .where(User.id == user_id)
        .first()
    )
    borrower = row is not None and row["kind"] == "borrower"
    if row is None or (borrower and not row["mobile_encrypted"]):
        raise NotFound()
    encrypted = row["mobile_encrypted"] or None
    mobile = decrypt_field(encrypted, context=MOBILE_CONTEXT) if encrypted else None
    key = row["login_key"] if borrower else row["mobile_key"]
    if mobile and not key:
        key = mobile_login_key(mobile)  # staff whose number was set before the index
    return _Holder(user_id, borrower, encrypted, mobile, key)


def _for(holder: _Holder, borrower: str, staff: str, **values: object) -> str:
    """The SMS for the holder: a borrower signs in with the number, staff receive codes."""
    return _(borrower if holder.borrower else staff, **values)


def _checked_new_mobile(new_mobile: str, holder: _Holder) -> str:
    if error := validate_mobile(new_mobile):
        raise DomainError(error, field="mobile")
    key = mobile_login_key(new_mobile)
    if key == holder.key:
        raise DomainError(_("新手机号与当前手机号相同"), field="mobile")
    return key


async def _held_by_another(holder: _Holder, key: str) -> bool:
    if holder.borrower:
        return await User.exists().where((User.kind == "borrower") & (User.login_key == key))
    return await User.exists().where((User.mobile_key == key) & (User.id != holder.user_id))


async def request_phone_change_codes(actor: Actor, new_mobile: str) -> None:
    """Text a code to the current number (if any) and one to the new number. Like
    registration, a number that another account holds gets no code, and the page reads the
    same. Limited per address, and to one request a minute per account."""
    holder = await _holder(actor)
    new_key = _checked_new_mobile(new_mobile, holder)
    await reserve_code_for_address(actor)
    subject = str(holder.user_id)
    if holder.mobile:
        await start_cooldown(OLD_PURPOSE, subject, field="mobile")
        old_code = await issue_code(OLD_PURPOSE, subject)
        text = _for(
            holder,
            N_(
                "【LoanMart】您正在更换登录手机号，验证码为{code}，5分钟内有效。如非本人操作请立即修改密码。"
            ),
            N_(
                "【LoanMart】您正在更换账号绑定的手机号，验证码为{code}，5分钟内有效。如非本人操作请立即修改密码。"
            ),
            code=old_code,
        )
        await send_sms(holder.mobile, "phone_change_old_code", text)
    else:
        await start_cooldown(NEW_PURPOSE, subject, field="mobile")
    if await _held_by_another(holder, new_key):
        return
    new_code = await issue_code(NEW_PURPOSE, f"{subject}:{new_key}")
    text = _for(
        holder,
        N_("【LoanMart】您正在将此号码设为登录手机号，验证码为{code}，5分钟内有效。"),
        N_(
            "【LoanMart】您正在将此号码绑定到机构工作台账号，用于签署协议等短信验证，验证码为{code}，5分钟内有效。"
        ),
        code=new_code,
    )
    await send_sms(new_mobile, "phone_change_new_code", text)


async def change_phone(actor: Actor, new_mobile: str, old_code: str, new_code: str) -> None:
    """Put `new_mobile` on the account when the codes are right; an old number is told."""
    holder = await _holder(actor)
    new_key = _checked_new_mobile(new_mobile, holder)
    old_code, new_code = old_code.strip(), new_code.strip()
    errors = {}
    if holder.mobile and not old_code:
        errors["old_code"] = _("请输入原手机号收到的验证码")
    if not new_code:
        errors["new_code"] = _("请输入新手机号收到的验证码")
    if errors:
        raise ValidationFailed(errors)
    wrong = _("验证码不正确或已过期")
    subject = str(holder.user_id)
    # Both are checked (each counts a try) before either answer is given.
    old_ok = not holder.mobile or (
        len(old_code) <= CODE_MAX_LENGTH and await consume_code(OLD_PURPOSE, subject, old_code)
    )
    new_ok = len(new_code) <= CODE_MAX_LENGTH and await consume_code(
        NEW_PURPOSE, f"{subject}:{new_key}", new_code
    )
    if not (old_ok and new_ok):
        raise ValidationFailed(
            {
                **({} if old_ok else {"old_code": wrong}),
                **({} if new_ok else {"new_code": wrong}),
            }
        )
    normalised = normalise_mobile(new_mobile)
    unchanged = (
        User.mobile_encrypted == holder.encrypted
        if holder.encrypted
        else User.mobile_encrypted.is_null()
    )
    refused = ValidationFailed({"mobile": _("无法使用该手机号，请换一个号码")})
    try:
        async with transaction():
            if not holder.borrower and await _held_by_another(holder, new_key):
                raise refused  # bound by another account between the code and now
            changed = (
                await User.update(
                    {
                        (User.login_key if holder.borrower else User.mobile_key): new_key,
                        User.mobile_encrypted: encrypt_field(normalised, context=MOBILE_CONTEXT),
                        User.mobile_masked: mask_mobile(normalised),
                    }
                )
                .where((User.id == holder.user_id) & unchanged)
                .returning(User.id)
            )
            if not changed:
                raise ValidationFailed({"mobile": _("手机号刚刚已被修改，请刷新页面后重试")})
            action = "account.phone_changed" if holder.borrower else "account.mobile_bound"
            await audit(actor, action, "user", holder.user_id)
    except UniqueViolationError:
        # Taken by someone else between the code and now (the unique blind index).
        raise refused from None
    if holder.mobile:
        masked = mask_mobile(normalised)
        text = _for(
            holder,
            N_(
                "【LoanMart】您的登录手机号已更换为{masked}，此号码不再用于登录。如非本人操作请立即联系客服。"
            ),
            N_(
                "【LoanMart】您账号绑定的手机号已更换为{masked}，此号码不再接收验证码。如非本人操作请立即联系客服。"
            ),
            masked=masked,
        )
        await send_sms(holder.mobile, "phone_changed", text)
