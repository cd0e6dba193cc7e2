"""One-time SMS codes, keyed by purpose (registration, signing an offer …).

A code lives in Redis as a digest (never the code itself) with a try counter and a TTL;
a resend cooldown per purpose and subject stops a phone from being flooded. Checking a code
counts the try first, burns the code after CODE_MAX_ATTEMPTS, and deletes it on success so
of two requests with the right code only one goes on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from marketplace.cache import redis
from marketplace.errors import Throttled
from marketplace.i18n import _
from marketplace.settings import settings

CODE_TTL_SECONDS = 300
CODE_RESEND_SECONDS = 60
CODE_MAX_ATTEMPTS = 5


def _digest(code: str) -> str:
    return hmac.new(settings.blind_index_key, code.encode(), hashlib.sha256).hexdigest()


def _code_key(purpose: str, subject: str) -> str:
    return f"smscode:{purpose}:{subject}"


def _cooldown_key(purpose: str, subject: str) -> str:
    # Registration's cooldown predates purposes; its key keeps its old name.
    return (
        f"smscode:cooldown:{subject}"
        if purpose == "register"
        else f"smscode:cooldown:{purpose}:{subject}"
    )


async def start_cooldown(purpose: str, subject: str, *, field: str) -> None:
    """Refuse (Throttled) a second code for the same purpose and subject within the resend
    window; otherwise start the window."""
    r = redis()
    cooldown = _cooldown_key(purpose, subject)
    if not await r.set(cooldown, "1", nx=True, ex=CODE_RESEND_SECONDS):
        raise Throttled(
            _("验证码发送过于频繁，请60秒后再试"),
            field=field,
            retry_after=max(1, int(await r.ttl(cooldown))),
        )


async def issue_code(purpose: str, subject: str) -> str:
    """A fresh six-digit code for `subject` (an id or blind index, never personal data),
    replacing any earlier one. The caller sends it."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    name = _code_key(purpose, subject)
    async with redis().pipeline(transaction=True) as pipe:
        pipe.hset(name, mapping={"digest": _digest(code), "tries": 0})
        pipe.expire(name, CODE_TTL_SECONDS)
        await pipe.execute()
    return code


# Counts the try before the code is compared and hands back the stored digest; a code
# that has run out of tries is deleted. Never creates a key (so never one without a TTL).
_TAKE_CODE_TRY = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
if redis.call('HINCRBY', KEYS[1], 'tries', 1) > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return false
end
return redis.call('HGET', KEYS[1], 'digest')
"""


async def consume_code(purpose: str, subject: str, code: str) -> bool:
    """True once for the right code; False for a wrong, expired, burnt or used one."""
    r = redis()
    name = _code_key(purpose, subject)
    digest = await r.register_script(_TAKE_CODE_TRY)(keys=[name], args=[CODE_MAX_ATTEMPTS])
    if not digest or not hmac.compare_digest(digest, _digest(code.strip())):
        return False
    return bool(await r.delete(name))
