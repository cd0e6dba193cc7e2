"""A borrower's own password: change it signed in, or reset a forgotten one by SMS code.

The caller ends the account's other sessions (they live in the web layer's store) and
sends the in-site notice in the same transaction as the verb.
"""

from __future__ import annotations

from marketplace import outbox
from marketplace.accounts.codes import consume_code, issue_code, start_cooldown
from marketplace.accounts.limits import Limit, clear, reserve
from marketplace.accounts.services import (
    login_failures,
    mobile_login_key,
    reserve_code_for_address,
)
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, Throttled, ValidationFailed
from marketplace.i18n import _
from marketplace.notifications.services import send_sms
from marketplace.security import (
    decrypt_field,
    hash_password_async,
    validate_mobile,
    validate_password_strength,
    verify_password_async,
)

RESET_PURPOSE = "password_reset"
# Wrong current passwords on the change form: a stolen session must not become an oracle.
CURRENT_PASSWORD_MAX_TRIES = 5
CURRENT_PASSWORD_WINDOW_SECONDS = 900
CODE_MAX_LENGTH = 6


def _new_password_errors(password: str, confirm: str) -> dict[str, str]:
    if error := validate_password_strength(password):
        return {"password": error}
    if password != confirm:
        return {"password_confirm": _("两次输入的密码不一致")}
    return {}


async def change_password(actor: Actor, current: str, password: str, confirm: str) -> None:
    """Replace the signed-in user's password after checking the current one."""
    if errors := _new_password_errors(password, confirm):
        raise ValidationFailed(errors)
    tries = Limit(
        f"pwchange:{actor.user_id}", CURRENT_PASSWORD_MAX_TRIES, CURRENT_PASSWORD_WINDOW_SECONDS
    )
    if wait := await reserve(tries):
        raise Throttled(
            _("当前密码错误次数过多，请{minutes}分钟后再试", minutes=max(1, -(-wait // 60))),
            field="current_password",
            retry_after=wait,
        )
    user = await User.objects().where(User.id == actor.user_id).first()
    if user is None:
        raise NotFound()
    if not await verify_password_async(user.password_hash, current):
        raise DomainError(_("当前密码不正确"), field="current_password")
    if current == password:
        raise ValidationFailed({"password": _("新密码不能与当前密码相同")})
    await clear(tries)
    password_hash = await hash_password_async(password)
    async with transaction():
        await User.update({User.password_hash: password_hash}).where(User.id == user.id)
        await audit(actor, "account.password_changed", "user", user.id)


async def request_password_reset_code(origin: Actor, mobile: str) -> None:
    """Queue a reset code for `mobile`. Registered or not, the visitor gets the same answer
    after the same work here; the job alone looks the number up and texts only an account
    that exists."""
    if error := validate_mobile(mobile):
        raise DomainError(error, field="mobile")
    key = mobile_login_key(mobile)
    await reserve_code_for_address(origin)
    await start_cooldown(RESET_PURPOSE, key, field="mobile")
    async with transaction():
        # The blind index, not the number: job payloads carry no personal data.
        await outbox.record("accounts.send_reset_code", login_key=key)


async def send_reset_code(login_key: str) -> None:
    """Text a reset code to the active borrower with this login key, if there is one."""
    row = (
        await User.select(User.mobile_encrypted)
        .where((User.kind == "borrower") & (User.login_key == login_key))
        .where(User.status == "active")
        .first()
    )
    if row is None or not row["mobile_encrypted"]:
        return
    code = await issue_code(RESET_PURPOSE, login_key)
    await send_sms(
        decrypt_field(row["mobile_encrypted"], context="user.mobile"),
        "password_reset_code",
        _(
            "【LoanMart】您正在重置登录密码，验证码为{code}，5分钟内有效。如非本人操作请忽略。",
            code=code,
        ),
    )


async def reset_password(origin: Actor, mobile: str, code: str, password: str, confirm: str) -> int:
    """Set a new password with a reset code; clears the sign-in lockout. Returns the user
    id so the caller can end every session of the account."""
    errors = _new_password_errors(password, confirm)
    if error := validate_mobile(mobile):
        errors["mobile"] = error
    code = code.strip()
    if not code:
        errors["code"] = _("请输入短信验证码")
    if errors:
        raise ValidationFailed(errors)
    key = mobile_login_key(mobile)
    # An overlong code cannot be right; it is not worth a try of the real one.
    if len(code) > CODE_MAX_LENGTH or not await consume_code(RESET_PURPOSE, key, code):
        raise ValidationFailed({"code": _("验证码不正确或已过期")})
    password_hash = await hash_password_async(password)
    async with transaction():
        user = (
            await User.objects()
            .where((User.kind == "borrower") & (User.login_key == key))
            .lock_rows()
            .first()
        )
        if user is None:
            raise ValidationFailed({"code": _("验证码不正确或已过期")})
        await User.update({User.password_hash: password_hash}).where(User.id == user.id)
        borrower = Actor(
            user_id=user.id,
            kind="borrower",
            label=user.display_name,
            role=user.role,
            ip=origin.ip,
            request_id=origin.request_id,
        )
        await audit(borrower, "account.password_reset", "user", user.id)
    await clear(login_failures("borrower", key))
    return user.id


async def record_sessions_ended(actor: Actor, count: int) -> None:
    """Audit the borrower ending sessions on other devices (the store is the web layer's)."""
    async with transaction():
        await audit(
            actor,
            "account.sessions_ended",
            "user",
            actor.user_id or "",
            count=count,
        )
