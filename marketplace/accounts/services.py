"""Registration, login and the failed-login limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from marketplace.accounts.roles import role_label
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.cache import redis
from marketplace.db import transaction
from marketplace.errors import DomainError, Throttled, ValidationFailed
from marketplace.i18n import _
from marketplace.notifications.services import send_sms
from marketplace.security import (
    blind_index,
    encrypt_field,
    hash_password,
    mask_mobile,
    needs_rehash,
    normalise_mobile,
    validate_mobile,
    validate_password_strength,
    verify_dummy,
    verify_password,
)
from marketplace.settings import settings

CODE_TTL_SECONDS = 300
CODE_RESEND_SECONDS = 60
CODE_MAX_ATTEMPTS = 5
LOGIN_WINDOW_SECONDS = 900
LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
LOGIN_MAX_FAILURES_PER_ADDRESS = 30


def mobile_login_key(mobile: str) -> str:
    return blind_index(normalise_mobile(mobile), purpose="mobile")


def _code_digest(code: str) -> str:
    return hmac.new(settings.blind_index_key, code.encode(), hashlib.sha256).hexdigest()


async def request_registration_code(mobile: str) -> None:
    if error := validate_mobile(mobile):
        raise DomainError(error, field="mobile")
    key = mobile_login_key(mobile)
    if await User.exists().where((User.kind == "borrower") & (User.login_key == key)):
        raise DomainError(_("该手机号已注册，请直接登录"), field="mobile")
    r = redis()
    if not await r.set(f"smscode:cooldown:{key}", "1", nx=True, ex=CODE_RESEND_SECONDS):
        raise Throttled(_("验证码发送过于频繁，请60秒后再试"), field="mobile")
    code = f"{secrets.randbelow(1_000_000):06d}"
    await r.hset(f"smscode:register:{key}", mapping={"digest": _code_digest(code), "tries": 0})  # type: ignore[misc]
    await r.expire(f"smscode:register:{key}", CODE_TTL_SECONDS)
    await send_sms(
        mobile, "register_code", _("【LoanMart】您的注册验证码为{code}，5分钟内有效。", code=code)
    )


async def _consume_code(key: str, code: str) -> bool:
    r = redis()
    name = f"smscode:register:{key}"
    stored = await r.hgetall(name)  # type: ignore[misc]
    if not stored:
        return False
    if int(await r.hincrby(name, "tries", 1)) > CODE_MAX_ATTEMPTS:  # type: ignore[misc]
        await r.delete(name)
        return False
    if not hmac.compare_digest(stored["digest"], _code_digest(code.strip())):
        return False
    await r.delete(name)
    return True


async def register_borrower(mobile: str, code: str, password: str, display_name: str) -> int:
    errors: dict[str, str] = {}
    if error := validate_mobile(mobile):
        errors["mobile"] = error
    if not code.strip():
        errors["code"] = _("请输入短信验证码")
    if error := validate_password_strength(password):
        errors["password"] = error
    display_name = display_name.strip() or _("借款人")
    if len(display_name) > 20:
        errors["display_name"] = _("昵称最多20个字")
    if errors:
        raise ValidationFailed(errors)
    key = mobile_login_key(mobile)
    if not await _consume_code(key, code):
        raise ValidationFailed({"code": _("验证码不正确或已过期")})
    normalised = normalise_mobile(mobile)
    async with transaction():
        if await User.exists().where((User.kind == "borrower") & (User.login_key == key)):
            raise ValidationFailed({"mobile": _("该手机号已注册，请直接登录")})
        rows = await User.insert(
            User(
                kind="borrower",
                login_key=key,
                display_name=display_name,
                mobile_encrypted=encrypt_field(normalised, context="user.mobile"),
                mobile_masked=mask_mobile(normalised),
                password_hash=hash_password(password),
                role="borrower",
            )
        ).returning(User.id)
    return rows[0]["id"]


def login_key_for(kind: str, login: str) -> str:
    return mobile_login_key(login) if kind == "borrower" else login.strip().lower()


async def authenticate(kind: str, login: str, password: str, client_address: str) -> Actor:
    """Return the actor, or raise. Failures count per account and per client address."""
    key = login_key_for(kind, login)
    account_counter = f"loginfail:account:{kind}:{hashlib.sha256(key.encode()).hexdigest()}"
    address_counter = f"loginfail:address:{client_address}"
    r = redis()
    account_failures, address_failures = await r.mget(account_counter, address_counter)
    if (
        int(account_failures or 0) >= LOGIN_MAX_FAILURES_PER_ACCOUNT
        or int(address_failures or 0) >= LOGIN_MAX_FAILURES_PER_ADDRESS
    ):
        raise Throttled(_("登录失败次数过多，请15分钟后再试"))
    user = await User.objects().where((User.kind == kind) & (User.login_key == key)).first()
    if user is None:
        verify_dummy()
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok or user is None:
        async with r.pipeline(transaction=True) as pipe:
            for counter in (account_counter, address_counter):
                pipe.incr(counter)
                pipe.expire(counter, LOGIN_WINDOW_SECONDS)
            await pipe.execute()
        raise DomainError(_("账号或密码不正确"))
    if user.status != "active":
        raise DomainError(_("该账号已被冻结，请联系客服"))
    await r.delete(account_counter)
    values: dict = {User.last_login_at: datetime.now(UTC)}
    if needs_rehash(user.password_hash):
        values[User.password_hash] = hash_password(password)
    await User.update(values).where(User.id == user.id)
    return await actor_for(user.id)


async def actor_for(user_id: int) -> Actor:
    """The acting principal for a session's user id; frozen users are refused."""
    row = (
        await User.select(
            User.id,
            User.kind,
            User.display_name,
            User.role,
            User.status,
            User.institution.id.as_alias("institution_id"),
            User.institution.short_name.as_alias("institution_name"),
        )
        .where(User.id == user_id)
        .first()
    )
    if row is None or row["status"] != "active":
        raise DomainError(_("账号不可用"))
    return Actor(
        user_id=row["id"],
        kind=row["kind"],
        label=row["display_name"],
        role=row["role"],
        institution_id=row["institution_id"],
        institution_name=row["institution_name"] or "",
    )


def principal_view(actor: Actor) -> dict:
    """What page chrome shows about the signed-in user (loaded with the actor: no query)."""
    return {
        "display_name": actor.label,
        "kind": actor.kind,
        "role_label": role_label(actor.kind, actor.role),
        "institution_name": actor.institution_name or None,
    }
