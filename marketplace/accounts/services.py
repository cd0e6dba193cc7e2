"""Registration, login and the limits on attempts (every one reserved atomically)."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime

from marketplace.accounts.codes import consume_code, issue_code, start_cooldown
from marketplace.accounts.limits import Limit, clear, release, reserve
from marketplace.accounts.roles import permissions_of, role_label
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.cache import CATALOGUE_VERSION_SQL, offer_catalogue_version
from marketplace.db import fetch, transaction
from marketplace.errors import DomainError, Throttled, ValidationFailed
from marketplace.i18n import _
from marketplace.notifications.services import send_sms
from marketplace.risk.services import screen_registration
from marketplace.security import (
    blind_index,
    encrypt_field,
    hash_password_async,
    mask_mobile,
    needs_rehash,
    normalise_mobile,
    validate_mobile,
    validate_password_strength,
    verify_dummy_async,
    verify_password_async,
)

# SMS costs money and lands on a stranger's phone: one address may ask for this many codes
# an hour, whatever numbers it types.
CODE_MAX_PER_ADDRESS = 10
CODE_ADDRESS_WINDOW_SECONDS = 3600
LOGIN_WINDOW_SECONDS = 900
LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
LOGIN_MAX_FAILURES_PER_ADDRESS = 30


def visitor(ip: str, request_id: str = "", device: str = "") -> Actor:
    """Someone not signed in (registering, signing in), known only by their request."""
    return Actor(
        user_id=None, kind="visitor", label="visitor", ip=ip, request_id=request_id, device=device
    )


def mobile_login_key(mobile: str) -> str:
    return blind_index(normalise_mobile(mobile), purpose="mobile")


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


async def reserve_code_for_address(origin: Actor) -> None:
    """Count one SMS code asked for from the visitor's address, or raise Throttled."""
    if wait := await reserve(
        Limit(f"smscode:address:{origin.ip}", CODE_MAX_PER_ADDRESS, CODE_ADDRESS_WINDOW_SECONDS)
    ):
        raise Throttled(
            _("获取验证码过于频繁，请{minutes}分钟后再试", minutes=_minutes(wait)),
            field="mobile",
            retry_after=wait,
        )


async def request_registration_code(origin: Actor, mobile: str) -> None:
    """Send a registration code, but only to a number with no account. The caller shows
    the same answer either way, so the form does not tell strangers who is registered."""
    if error := validate_mobile(mobile):
        raise DomainError(error, field="mobile")
    key = mobile_login_key(mobile)
    await reserve_code_for_address(origin)
    await start_cooldown("register", key, field="mobile")
    if await User.exists().where((User.kind == "borrower") & (User.login_key == key)):
        # No code and no SMS (its owner can sign in); the stranger is not told it is taken.
        return
    code = await issue_code("register", key)
    await send_sms(
        mobile, "register_code", _("【LoanMart】您的注册验证码为{code}，5分钟内有效。", code=code)
    )


async def register_borrower(
    origin: Actor, mobile: str, code: str, password: str, display_name: str
) -> int:
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
    if not await consume_code("register", key, code):
        raise ValidationFailed({"code": _("验证码不正确或已过期")})
    await screen_registration(origin, mobile)
    normalised = normalise_mobile(mobile)
    password_hash = await hash_password_async(password)
    async with transaction():
        if await User.exists().where((User.kind == "borrower") & (User.login_key == key)):
            raise ValidationFailed(
                {"mobile": _("无法完成注册，请重新获取验证码；已有账号请直接登录")}
            )
        rows = await User.insert(
            User(
                kind="borrower",
                login_key=key,
                display_name=display_name,
                mobile_encrypted=encrypt_field(normalised, context="user.mobile"),
                mobile_masked=mask_mobile(normalised),
                password_hash=password_hash,
                role="borrower",
            )
        ).returning(User.id)
        user_id = rows[0]["id"]
        borrower = Actor(
            user_id=user_id,
            kind="borrower",
            label=display_name,
            role="borrower",
            ip=origin.ip,
            request_id=origin.request_id,
        )
        await audit(borrower, "borrower.register", "user", user_id)
    return user_id


def login_key_for(kind: str, login: str) -> str:
    return mobile_login_key(login) if kind == "borrower" else login.strip().lower()


def _login_index(kind: str, key: str) -> str:
    """What the audit log may keep of a login: a blind index, never the phone or e-mail."""
    return key if kind == "borrower" else blind_index(key, purpose="email")


def login_failures(kind: str, key: str) -> Limit:
    """The per-account count of failed sign-ins (a password reset clears it)."""
    return Limit(
        f"loginfail:account:{kind}:{hashlib.sha256(key.encode()).hexdigest()}",
        LOGIN_MAX_FAILURES_PER_ACCOUNT,
        LOGIN_WINDOW_SECONDS,
    )


async def authenticate(origin: Actor, kind: str, login: str, password: str) -> Actor:
    """Return the actor, or raise. Every attempt is reserved against the per-account and
    per-address limits before the password is checked; a success gives it back."""
    key = login_key_for(kind, login)
    account = login_failures(kind, key)
    address = Limit(
        f"loginfail:address:{origin.ip}", LOGIN_MAX_FAILURES_PER_ADDRESS, LOGIN_WINDOW_SECONDS
    )
    # A locked account is refused before its password is looked at: right or wrong, the
    # answer is the same.
    if wait := await reserve(account, address):
        await _record_failure(origin, kind, key, None, "throttled")
        raise Throttled(
            _("登录失败次数过多，请{minutes}分钟后再试", minutes=_minutes(wait)),
            retry_after=wait,
        )
    user = await User.objects().where((User.kind == kind) & (User.login_key == key)).first()
    if user is None:
        await verify_dummy_async()
        ok = False
    else:
        ok = await verify_password_async(user.password_hash, password)
    if not ok or user is None:
        await _record_failure(origin, kind, key, user.id if user else None, "password")
        raise DomainError(_("账号或密码不正确"), field="password")
    if user.status != "active":
        await _record_failure(origin, kind, key, user.id, "frozen")
        raise DomainError(_("该账号已被冻结，请联系客服"), field="login")
    await clear(account)
    await release(address)
    values: dict = {User.last_login_at: datetime.now(UTC)}
    if needs_rehash(user.password_hash):
        values[User.password_hash] = await hash_password_async(password)
    actor = (await actor_for(user.id)).with_request(origin.ip, origin.request_id)
    async with transaction():
        await User.update(values).where(User.id == user.id)
        await audit(actor, "auth.login", "user", user.id)
    return actor


async def _record_failure(
    origin: Actor, kind: str, key: str, user_id: int | None, reason: str
) -> None:
    async with transaction():
        await audit(
            origin,
            "auth.login_failed",
            "user",
            user_id or "",
            kind=kind,
            reason=reason,
            login_index=_login_index(kind, key),
        )


# With the catalogue's version, which most signed-in pages read next: one round trip.
_ACTOR = """
SELECT u.id, u.kind, u.display_name, u.role, u.status, i.id AS institution_id,
  i.short_name AS institution_name, ({catalogue}) AS catalogue_token
FROM app_user u LEFT JOIN institution i ON i.id = u.institution WHERE u.id = {{}}
"""
_ACTOR_SQL = _ACTOR.format(catalogue=CATALOGUE_VERSION_SQL)


async def actor_for(user_id: int) -> Actor:
    """The acting principal for a session's user id; frozen users are refused."""
    # Plain SQL: this runs on every signed-in request, and building the ORM's join cost
    # more CPU than running it.
    rows = await fetch(_ACTOR_SQL, user_id)
    row = rows[0] if rows else None
    if row is not None:
        offer_catalogue_version(row["catalogue_token"])
    if row is None or row["status"] != "active":
        raise DomainError(_("账号不可用"))
    return Actor(
        user_id=row["id"],
        kind=row["kind"],
        label=row["display_name"],
        role=row["role"],
        institution_id=row["institution_id"],
        institution_name=row["institution_name"] or "",
        permissions=permissions_of(row["kind"], row["role"]),
    )


def principal_view(actor: Actor) -> dict:
    """What page chrome shows about the signed-in user (loaded with the actor: no query)."""
    return {
        "display_name": actor.label,
        "kind": actor.kind,
        "role_label": role_label(actor.kind, actor.role),
        "permissions": permissions_of(actor.kind, actor.role),
        "institution_name": actor.institution_name or None,
    }
