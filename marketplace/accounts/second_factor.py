"""Operators' second factor (PRODUCT.md §1): TOTP, with enrolment on first sign-in,
replay protection (RFC 6238 §5.2) and a limit on wrong codes."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.cache import redis
from marketplace.db import transaction
from marketplace.errors import DomainError, Throttled
from marketplace.i18n import _
from marketplace.security import (
    current_totp_code,
    decrypt_field,
    encrypt_field,
    matched_totp_step,
    totp_uri,
)
from marketplace.settings import settings

ENCRYPTION_CONTEXT = "user.totp_secret"  # noqa: S105 - an AEAD context label
MAX_WRONG_CODES = 5
WINDOW_SECONDS = 900


def required_for(actor: Actor) -> bool:
    return actor.kind == "operator"


@dataclass(frozen=True)
class Enrolment:
    secret: str
    account: str

    @property
    def uri(self) -> str:
        return totp_uri(self.secret, self.account)

    @property
    def grouped(self) -> str:
        """The key as people type it into an app: ABCD EFGH …"""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


async def enrolled_secret(user_id: int) -> str | None:
    row = await User.select(User.totp_secret_encrypted).where(User.id == user_id).first()
    token = row["totp_secret_encrypted"] if row else None
    return decrypt_field(token, context=ENCRYPTION_CONTEXT) if token else None


async def verify(actor: Actor, code: str, *, enrolling_secret: str | None = None) -> None:
    """Accept `code` once, or raise. With `enrolling_secret` a correct code also saves it."""
    r = redis()
    failures_key = f"totp:failures:{actor.user_id}"
    if int(await r.get(failures_key) or 0) >= MAX_WRONG_CODES:
        raise Throttled(_("验证码错误次数过多，请15分钟后重新登录"))
    secret = enrolling_secret or await enrolled_secret(actor.user_id or 0)
    if secret is None:
        raise DomainError(_("请先绑定身份验证器"))
    step = matched_totp_step(secret, code)
    last_key = f"totp:last_step:{actor.user_id}"
    last = int(await r.get(last_key) or -1)
    if step is None or step <= last:
        async with r.pipeline(transaction=True) as pipe:
            pipe.incr(failures_key)
            pipe.expire(failures_key, WINDOW_SECONDS)
            await pipe.execute()
        raise DomainError(_("验证码不正确或已使用，请输入身份验证器上的最新6位数字"), field="code")
    await r.set(last_key, step, ex=WINDOW_SECONDS)
    await r.delete(failures_key)
    if enrolling_secret:
        async with transaction():
            await User.update(
                {
                    User.totp_secret_encrypted: encrypt_field(
                        enrolling_secret, context=ENCRYPTION_CONTEXT
                    )
                }
            ).where(User.id == actor.user_id)
            await audit(actor, "operator.totp_enrol", "user", actor.user_id)


async def show_demo_code(actor: Actor, login: str) -> None:
    """Demo only (no phone at hand): print the current code, as SMS codes are printed."""
    if not settings.demo_mode:
        return
    secret = await enrolled_secret(actor.user_id or 0)
    if secret:
        print(f"[totp] {login}: {current_totp_code(secret)}", flush=True)  # noqa: T201
