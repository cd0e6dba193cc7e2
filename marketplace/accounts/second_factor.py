"""Operators' second factor (PRODUCT.md §1): TOTP, with enrolment on first sign-in,
replay protection (RFC 6238 §5.2) and a limit on wrong codes."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.accounts.limits import Limit, clear, reserve
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


# Accepts a time step only if it is later than the last one used (RFC 6238 §5.2), in one
# step, so two requests carrying the same code cannot both get in.
_CLAIM_STEP = """
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) <= last then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


async def verify(actor: Actor, code: str, *, enrolling_secret: str | None = None) -> None:
    """Accept `code` once, or raise. With `enrolling_secret` a correct code also saves it.

    The attempt is counted before the code is checked, so parallel guesses cannot get past
    the limit; a success clears the count."""
    attempts = Limit(f"totp:failures:{actor.user_id}", MAX_WRONG_CODES, WINDOW_SECONDS)
    if wait := await reserve(attempts):
        raise Throttled(
            _("验证码错误次数过多，请{minutes}分钟后重新登录", minutes=max(1, -(-wait // 60))),
            retry_after=wait,
        )
    secret = enrolling_secret or await enrolled_secret(actor.user_id or 0)
    if secret is None:
        raise DomainError(_("请先绑定身份验证器"))
    step = matched_totp_step(secret, code)
    claimed = step is not None and await redis().register_script(_CLAIM_STEP)(
        keys=[f"totp:last_step:{actor.user_id}"], args=[step, WINDOW_SECONDS]
    )
    if not claimed:
        async with transaction():
            await audit(actor, "auth.second_factor_failed", "user", actor.user_id)
        raise DomainError(_("验证码不正确或已使用，请输入身份验证器上的最新6位数字"), field="code")
    await clear(attempts)
    async with transaction():
        if enrolling_secret:
            await User.update(
                {
                    User.totp_secret_encrypted: encrypt_field(
                        enrolling_secret, context=ENCRYPTION_CONTEXT
                    )
                }
            ).where(User.id == actor.user_id)
            await audit(actor, "operator.totp_enrol", "user", actor.user_id)
        await audit(actor, "auth.second_factor", "user", actor.user_id)


async def show_demo_code(actor: Actor, login: str) -> None:
    """Demo only (no phone at hand): print the current code, as SMS codes are printed."""
    if not settings.demo_mode:
        return
    secret = await enrolled_secret(actor.user_id or 0)
    if secret:
        print(f"[totp] {login}: {current_totp_code(secret)}", flush=True)  # noqa: T201
